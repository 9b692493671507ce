"""Every Python block of the README runs as a user would paste it, at a small size, and
delivers what its comments claim, checked against an independent truth where there is one.

A block is found by a marker it alone contains. The sizes are cut by textual replacements
that must each occur in the block, so a block that changes fails here rather than drifting
from what runs. A block the suite runs elsewhere (the plug-in module) is listed with the test
that runs it; a new block with neither fails `test_every_block_is_run`."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
EPS = float(np.finfo(np.float32).eps)


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@dataclass(frozen=True)
class Snippet:
    marker: str  # a string only this block contains
    check: Callable[[dict], None]
    shrink: dict[str, str] = field(default_factory=dict)  # README text -> test text

    def code(self) -> str:
        (block,) = [b for b in blocks() if self.marker in b]
        for old, new in self.shrink.items():
            assert old in block, f"the README block with {self.marker!r} no longer has {old!r}"
            block = block.replace(old, new)
        return block


def relative(a, b) -> float:
    return float(jnp.linalg.norm(jnp.ravel(a - b)) / jnp.linalg.norm(jnp.ravel(b)))


def check_inverse(ns):
    misfit = np.asarray(ns["res"].history["misfit"])
    assert misfit[-1] < misfit[0] / 10, misfit[[0, -1]]
    a_true, estimate = ns["a_true"], ns["res"].estimate[0]
    assert estimate.min() >= 3.0 and estimate.max() <= 12.0  # Bounded keeps the range
    # Recovered from 1-in-4 noisy observations: much closer than the starting guess.
    assert relative(estimate, a_true) < relative(jnp.full_like(a_true, 7.5), a_true) / 2


def check_hybrid(ns):
    u0s, trajs, ts = ns["u0s"], ns["trajs"], ns["ts"]
    assert trajs.shape == (len(u0s), len(ts), 1, 32)
    # The first save is u0 taken to the fine grid and back: exact for its few waves (one FFT
    # pair each way, ~log2(128) rounding steps).
    np.testing.assert_allclose(trajs[:, 0], u0s, atol=20 * EPS * float(jnp.abs(u0s).max()))
    history = ns["result"].history
    assert history[-1]["test_final_rel_l2"] < history[0]["test_final_rel_l2"], history
    assert ns["traj"].shape == (len(ts), 1, 32) and bool(jnp.isfinite(ns["traj"]).all())


def check_physics(ns):
    history = np.asarray(ns["history"])
    assert history[-1] < history[0], history[[0, -1]]
    # Only the last spectral layer moves: every other weight stays bit-identical.
    before = jax.tree.leaves(ns["result"].model)
    after = jax.tree.leaves(ns["refined"])
    changed = [i for i, (b, c) in enumerate(zip(before, after, strict=True))
               if hasattr(b, "shape") and not np.array_equal(b, c)]  # fmt: skip
    assert 0 < len(changed) <= 2, changed  # the layer's real and imaginary weights


def check_python(ns):
    u, n = ns["u"], ns["a"].shape[0]
    assert ns["pred"].shape == (1, n, n) and ns["preds"].shape == (2, 1, n, n)
    edges = jnp.concatenate([u[0], u[-1], u[:, 0], u[:, -1]])
    assert float(jnp.abs(edges).max()) == 0.0  # u = 0 on the boundary
    # The written pairs are solve_darcy's solutions of their coefficients (CG tolerance).
    from jaxops import pde

    x, y = ns["x"], ns["y"]
    assert x.shape == y.shape == (len(x), 1, n, n)
    assert relative(pde.solve_darcy(jnp.asarray(x[0, 0]))[None], y[0]) < 1e-4
    assert any(Path("state").iterdir())  # the training state, written for resume
    sweep = ns["sweep"]  # one member per learning rate, each trained and scored
    np.testing.assert_array_equal(sweep.hparams["lr"], np.float32([1e-3, 3e-3, 1e-2]))
    assert len(sweep.history) == 3 and np.isfinite(sweep.test_errors).all()
    trajs = ns["trajs"]
    assert trajs.shape[:3] == (len(ns["u0s"]), len(ns["t"]), 1)
    # Burgers on a periodic grid conserves the mean (to the rounding of an n-term sum).
    means = np.asarray(trajs).mean(axis=-1)
    bound = trajs.shape[-1] * EPS * float(jnp.abs(trajs).max())
    assert np.abs(means - means[:, :1]).max() <= bound
    assert np.isfinite(ns["result"].history[-1]["test_final_rel_l2"])


def check_experiment(ns):
    from jaxops import experiment

    summary, model = ns["summary"], ns["model"]
    assert np.isfinite(ns["metrics"]["test_rel_l2"])
    again = experiment.evaluate("runs/mine")  # the run's own data: the summary's figure
    assert again["test_rel_l2"] == pytest.approx(summary["test_rel_l2"], rel=1e-5)
    sample = jnp.ones((1, 9, 9))  # resolution 17, every 2nd point
    assert model(sample).shape == sample.shape


def check_cape(ns):
    from jaxops.train.losses import relative_l2

    a, u, p, result = ns["a"], ns["u"], ns["p"], ns["result"]
    i = len(result.test_errors)  # the test samples are the last ones
    prediction = result.model(a[-i], p[-i])
    assert prediction.shape == u[-i].shape
    # The returned model is the one that was scored (a 1-sample float32 evaluation).
    assert float(relative_l2(prediction, u[-i])) == pytest.approx(
        float(result.test_errors[0]), rel=1e-4
    )


def check_flax(ns):
    x, y, eqx_fno = ns["x"], ns["y"], ns["eqx_fno"]
    assert y.shape == x.shape
    expected = jnp.moveaxis(jax.vmap(eqx_fno)(jnp.moveaxis(x, -1, 1)), 1, -1)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(expected))


def check_solvers(ns):
    traj, sweep, ts = ns["traj"], ns["sweep"], ns["ts"]
    n = traj.shape[-1]
    assert traj.shape == (len(ts), 1, n) and sweep.shape == (3, len(ts), 1, n)
    means = np.asarray(sweep).mean(axis=-1)
    assert np.abs(means - means[:, :1]).max() <= n * EPS * float(jnp.abs(sweep).max())
    # Adaptive Tsit5 and fixed-step ETDRK4 are independent routes to the same solution.
    assert relative(traj, sweep[0]) < 1e-3
    energy = (np.asarray(sweep[:, -1]) ** 2).sum(axis=(1, 2))
    assert energy[0] > energy[1] > energy[2]  # more viscosity, more dissipation


SNIPPETS = [
    Snippet("inverse.recover(", check_inverse,
            {"key, n = jax.random.key(0), 32": "key, n = jax.random.key(0), 17",
             "steps=400": "steps=200"}),
    Snippet("hybrid.fit_hybrid(", check_hybrid,
            {"jax.random.split(key, 32)": "jax.random.split(key, 12)",
             "trajs[:24], trajs[24:]": "trajs[:8], trajs[8:]", "epochs=40": "epochs=3",
             "batch_size=8": "batch_size=4", "np.arange(21)": "np.arange(7)"}),
    Snippet("physics.ZeroBoundary(", check_physics,
            {"DarcyFlow(n=33), \"darcy.h5\", 120": "DarcyFlow(n=17), \"darcy.h5\", 30",
             "split(100)": "split(20)", "width=32": "width=8", "epochs=50": "epochs=2",
             'darcy_physics(norm="h-1"))': 'darcy_physics(norm="h-1"), steps=5)'}),
    Snippet("train.fit_sweep(", check_python,
            {"DarcyFlow(n=64)": "DarcyFlow(n=17)", "modes=(12, 12)": "modes=(4, 4)",
             "width=32": "width=8", "(12, 12)": "(4, 4)", '"darcy.h5", 120': '"darcy.h5", 30',
             "split(100)": "split(20)", "5, 100)": "1, 2)", "epochs=100": "epochs=2",
             "epochs=30": "epochs=2", "patience=10": "patience=2", "(16,)": "(6,)",
             "Burgers(64": "Burgers(32", "(64,)": "(32,)", "split(key, 24)": "split(key, 8)",
             "trajs[:20], trajs[20:]": "trajs[:6], trajs[6:]", "steps=10": "steps=3"}),
    Snippet("experiment.compose(", check_experiment,
            {'"trainer.epochs=40"': '"trainer.epochs=1", "data.n_samples=24", "data.n_test=8", '
             '"data.resolution=17", "trainer.batch_size=8", "trainer.plot_samples=0", '
             '"model.modes=[4,4]", "model.width=8", "trainer.progress=false"'}),
    Snippet("ParameterConditioned(", check_cape,
            {"jax.random.key(0), 33": "jax.random.key(0), 17", "120": "30", "[:100]": "[:20]",
             "[100:]": "[20:]", "a[100], p[100]": "a[20], p[20]", "modes=(8, 8)": "modes=(4, 4)",
             "width=32": "width=8", "cape_modes=(4, 4)": "cape_modes=(2, 2)",
             "epochs=30": "epochs=2"}),
    Snippet("jf.FNO(", check_flax,
            {"(4, 64, 64, 1)": "(2, 16, 16, 1)", "(12, 12)": "(4, 4)"}),
    Snippet("pde.Burgers(256", check_solvers, {"256": "128"}),
]  # fmt: skip
ELSEWHERE = {"# my_operators.py": "tests/cli/test_plugins.py"}


def test_every_block_is_run():
    for block in blocks():
        runners = [s.marker for s in SNIPPETS if s.marker in block]
        runners += [m for m in ELSEWHERE if m in block]
        assert len(runners) == 1, f"README block runs {len(runners)} times here:\n{block}"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.marker.rstrip("(.").split(".")[-1])
def test_readme_block(snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(snippet.code(), f"README ({snippet.marker})", "exec"), namespace)
    snippet.check(namespace)
