"""Parametric data from the shell: parameters drawn from ranges at generation, a test set held
out by parameter value (`data.test_params`), and the test error reported per value and per
class (in distribution, interpolation, extrapolation), equal to a per-value loop over the
saved model. The run is `experiment=burgers_cape` end to end: CAPE takes each trajectory's
viscosity (the dataset's `params`) in training, rollouts, evaluation and `jaxops evaluate`."""

import json
import re

import jax
import jax.numpy as jnp
import matplotlib.image
import numpy as np
import pytest
from helpers import jaxops_in_process

from jaxops import train
from jaxops.data import load
from jaxops.train.temporal import step_errors

# Burgers over four viscosities (24 samples: 6 each) with CAPE, at the tiny sizes of
# tests/cli/test_trajectories.py; 0.01 and 0.04 are held out.
CAPE = [
    "experiment=burgers_cape",
    "pde.nu=[0.005,0.01,0.02,0.04]",
    "data.test_params={nu:[0.01,0.04]}",
    "data.n_samples=24",
    "data.resolution=32",
    "pde.n_times=6",
    "model.base_config.modes=[6]",
    "model.base_config.width=8",
    "model.base_config.depth=2",
    "model.base_config.projection_width=16",
    "model.cape_modes=[6]",
    "model.cape_width=4",
    "trainer.epochs=2",
    "trainer.batch_size=4",
    "trainer.plot_samples=1",
]


def test_held_out_viscosities_are_tested_and_reported_per_value(tmp_path):
    result = jaxops_in_process("train", *CAPE, "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"by parameter: interpolation [\d.]+, extrapolation [\d.]+ \(", result.stdout)
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_train"] == 12 and summary["n_test"] == 12
    rows = json.loads((run / "errors_by_param.json").read_text())["rows"]
    assert [(r["params"]["nu"], r["class"], r["n"]) for r in rows] == [
        (pytest.approx(0.01), "interpolation", 6),  # between the trained 0.005 and 0.02
        (pytest.approx(0.04), "extrapolation", 6),  # beyond them
    ]
    for name in ("error_by_param.png", "rollout_errors.png", "history.png", "predictions.png"):
        assert matplotlib.image.imread(run / name).ndim == 3, name

    # The same numbers from the saved model, one viscosity at a time.
    data = load(summary["dataset"])
    model = train.load(run)
    assert model.conditions == ("params",)
    times = jnp.asarray(data.coords["t"])
    for row in rows:
        chosen = np.isclose(data.params[:, 0], row["params"]["nu"])
        errors = step_errors(model, jnp.asarray(data.trajectories[chosen]), times,
                             (jnp.asarray(data.params[chosen]),), mode="curriculum",
                             history=1, batch_size=4)  # fmt: skip
        # Another float32 program: per-state errors are 32-term reductions (≤ 32 eps).
        expected = float(np.mean(errors))
        assert row["test_rel_l2"] == pytest.approx(expected, rel=3e-5)
        assert summary[f"test_rel_l2_{row['class']}"] == pytest.approx(expected, rel=3e-5)
    assert summary["test_rel_l2"] == pytest.approx(np.mean([r["test_rel_l2"] for r in rows]))
    # The parameters reach the network: the same program, another viscosity, another output
    # (were they ignored, the outputs would be bit-identical).
    u0 = jnp.asarray(data.trajectories[0, 0])
    predict = jax.jit(lambda nu: model(u0, jnp.asarray([nu], jnp.float32)))
    assert not np.array_equal(predict(0.005), predict(0.02))

    # `jaxops evaluate` reports the same per-value errors.
    evaluated = jaxops_in_process("evaluate", "run=run", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    (folder,) = list((run / "evaluations").iterdir())
    again = json.loads((folder / "errors_by_param.json").read_text())["rows"]
    for a, b in zip(again, rows, strict=True):
        assert a["test_rel_l2"] == pytest.approx(b["test_rel_l2"], rel=3e-5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.test_params={nu:[0.03]}"], "matches no sample of"),
        (["data.test_params={nu:[0.005,0.01,0.02,0.04]}"], "holds out every sample"),
        (["data.test_params={eta:[0.01]}"], "records parameters ['nu']; hold out by one of"),
        (["data.test_params={nu:[0.01]}", "data.test_path=x.h5"], "give one"),
    ],
)
def test_a_bad_held_out_selection_stops_before_training(overrides, message, tmp_path):
    result = jaxops_in_process("train", *CAPE, *overrides, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "epoch" not in result.stdout


def test_generate_draws_parameters_from_a_range(tmp_path):
    result = jaxops_in_process(
        "generate", "pde=diffusion", "pde.nu={low:0.01,high:0.1,log:true}", "pde.t_end=0.1",
        "pde.n_times=2", "pde.dt=0.01", "data.n_samples=6", "data.resolution=16",
        "data.dir=data", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = list((tmp_path / "data").glob("*.h5"))
    data = load(path)
    assert data.attrs["param_names"] == ["nu"] and data.params.shape == (6, 1)
    nus = data.params[:, 0]
    assert len(set(nus)) == 6 and ((0.01 <= nus) & (nus < 0.1)).all()


def test_a_range_or_a_selection_replaces_the_configured_value():
    """Hydra would merge `{...}` into the configured value (and refuse it over a list)."""
    from jaxops.experiment import compose

    config = compose([*CAPE, "pde.nu={low:0.001,high:0.1,log:true}",
                      "data.test_params={nu:{low:0.01,high:0.02}}"])  # fmt: skip
    assert config.pde.nu == {"low": 0.001, "high": 0.1, "log": True}
    assert config.data.test_params == {"nu": {"low": 0.01, "high": 0.02}}  # not merged
    assert compose([*CAPE, "pde.nu=[0.1,0.2]"]).pde.nu == [0.1, 0.2]
