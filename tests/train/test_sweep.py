"""`sweep` / `fit_sweep`: every member equals the same run done alone with `loop.fit` or
`engine.train` (same model key, shuffle key and hyperparameters), early stopping and
`keep_best` included; a diverging member is reported at the epoch where `engine.train` raises,
while the others finish unaffected; a sweep resumed from its state checkpoint ends bit for bit
as the uninterrupted one; mismatched member counts fail before anything is built.

Tolerance: the sweep runs batched (vmapped) matrix products and FFTs, whose kernels sum in
another order than the single-run ones, so members and single runs differ by rounding, not bit
for bit, and the optimiser amplifies it: Adam divides by a running RMS of the gradient and SGD
multiplies by 1 − lr·H over each step, neither with a worst-case bound worth stating. So the
comparisons run in float64, where one rounding (eps64 = 2.2e-16) is 5·10⁸ times smaller than
in float32: after 12 steps the values agree within 1e-13 (measured), rtol 1e-9 allows 10⁴
times that on any processor, and a member trained with another learning rate, seed or
weight decay differs by 1e-4 or more.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops import models
from jaxops.data.normalize import Normalizer
from jaxops.train import engine, loop
from jaxops.train.engine import Checkpointing, Objective, TrainingDiverged
from jaxops.train.optim import OptimConfig
from jaxops.train.sweep import (
    DEFAULT_OPTIM,
    _members,
    fit_sweep,
    member_keys,
    optimizer_from_config,
    sweep,
)

EPOCHS, BATCH = 3, 8
RTOL, ATOL = 1e-9, 1e-12  # float64 (see above)


def smooth_pairs(n, seed, size=16):
    """Inputs: random band-limited 1-D fields; targets: a fixed smoothing of the inputs."""
    rng = np.random.default_rng(seed)
    grid = np.arange(size) / size
    coeffs = rng.normal(size=(n, 3, 2))
    x = sum(
        coeffs[:, k, 0, None] * np.cos(2 * np.pi * (k + 1) * grid)
        + coeffs[:, k, 1, None] * np.sin(2 * np.pi * (k + 1) * grid)
        for k in range(3)
    )[:, None, :]
    y = 0.5 * x + 0.25 * (np.roll(x, 1, -1) + np.roll(x, -1, -1)) + 0.1 * x**2 + 1.0
    return x, y  # float64: the tests run with x64


def tiny_fno(key):
    return models.FNO(1, 1, (4,), width=8, depth=2, projection_width=16, key=key,
                      dtype=jnp.float64)  # fmt: skip


def assert_trees_close(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=RTOL, atol=ATOL)


def params_of(model):
    return eqx.filter(model, eqx.is_inexact_array)


def test_fit_sweep_members_equal_single_fits(x64):
    train, test = smooth_pairs(32, 0), smooth_pairs(12, 1)
    lrs, seeds, wd = [1e-3, 3e-3, 1e-2], [0, 1, 2], 1e-4
    config = OptimConfig("adam", 1.0, 0.0, "cosine", 1, 1.0, 1)  # lr, wd overridden below
    result = fit_sweep(
        tiny_fno, train, test, lrs=lrs, weight_decays=wd, seeds=seeds, optim_config=config,
        epochs=EPOCHS, batch_size=BATCH, progress=False,
    )  # fmt: skip
    assert result.size == 3 and not result.diverged
    np.testing.assert_array_equal(result.hparams["lr"], np.float32(lrs))
    optimizer_fn, schedule_fn = optimizer_from_config(config, len(train[0]) // BATCH, EPOCHS)
    for i, (lr, seed) in enumerate(zip(lrs, seeds, strict=True)):
        model_key, train_key = member_keys(seed)
        single = loop.fit(
            tiny_fno(model_key), train, test, optimizer=optimizer_fn,
            hparams={"lr": lr, "weight_decay": wd}, epochs=EPOCHS, batch_size=BATCH,
            key=train_key, progress=False,
        )  # fmt: skip
        assert [r["epoch"] for r in result.history[i]] == [1, 2, 3]
        for ours, theirs in zip(result.history[i], single.history, strict=True):
            for name in ("train_loss", "test_rel_l2"):
                assert ours[name] == pytest.approx(theirs[name], rel=RTOL)
        # The logged learning rate follows the member's own cosine schedule.
        expected_lr = float(schedule_fn({"lr": lr, "weight_decay": wd})(EPOCHS * 4 - 1))
        assert result.history[i][-1]["lr"] == pytest.approx(expected_lr, rel=1e-6)
        assert_trees_close(params_of(result.member(i)), params_of(single.model))
        np.testing.assert_allclose(result.test_errors[i], single.test_errors, rtol=RTOL)
    # The learning rates really differ in effect: distinct final models.
    assert not np.allclose(result.final()[0], result.final()[2])
    assert result.best() == int(np.argmin(result.final()))


def test_members_stop_early_and_keep_their_best_as_they_would_alone(x64):
    """Patience 1: the member with learning rate 0 never improves on its first evaluation and
    stops at epoch 2; the other trains on. Each equals `loop.fit` with the same settings."""
    train, test = smooth_pairs(32, 0), smooth_pairs(12, 1)
    lrs, seeds, epochs = [0.0, 1e-2], [0, 1], 4
    options = dict(epochs=epochs, batch_size=BATCH, patience=1, keep_best=True, progress=False)
    result = fit_sweep(tiny_fno, train, test, lrs=lrs, seeds=seeds, **options)
    assert result.stopped == {0: 2} and not result.diverged
    assert [r["epoch"] for r in result.history[0]] == [1, 2]
    optimizer_fn, _ = optimizer_from_config(DEFAULT_OPTIM, len(train[0]) // BATCH, epochs)
    for i, (lr, seed) in enumerate(zip(lrs, seeds, strict=True)):
        model_key, train_key = member_keys(seed)
        single = loop.fit(
            tiny_fno(model_key), train, test, optimizer=optimizer_fn,
            hparams={"lr": lr, "weight_decay": 0.0}, key=train_key, **options,
        )  # fmt: skip
        assert single.stopped_epoch == result.history[i][-1]["epoch"]
        assert single.best_epoch == result.best_epoch[i]
        for ours, theirs in zip(result.history[i], single.history, strict=True):
            assert ours["test_rel_l2"] == pytest.approx(theirs["test_rel_l2"], rel=RTOL)
        assert_trees_close(params_of(result.member(i)), params_of(single.model))
    assert len(result.history[1]) == epochs


class Crash(Exception):
    pass


def test_a_resumed_sweep_ends_as_the_uninterrupted_one(tmp_path):
    """A crash after epoch 2 (the state of epoch 2 is written before `on_epoch` is called);
    the resumed sweep replays the records, trains on and ends bit for bit as one that ran
    through: the same program on the same machine."""
    train, test = smooth_pairs(32, 0), smooth_pairs(12, 1)
    build = lambda key: models.FNO(1, 1, (4,), width=8, depth=2, projection_width=16, key=key)  # noqa: E731
    options = dict(lrs=[1e-3, 1e-2], seeds=[0, 1], epochs=EPOCHS, batch_size=BATCH,
                   progress=False)  # fmt: skip
    full = fit_sweep(build, train, test, **options)

    def crash(member, record):
        if record["epoch"] == 2 and member == 1:
            raise Crash

    with pytest.raises(Crash):
        fit_sweep(build, train, test, checkpointing=Checkpointing(tmp_path, min_seconds=0),
                  on_epoch=crash,
                  **options)  # fmt: skip
    seen = []
    resumed = fit_sweep(
        build, train, test, checkpointing=Checkpointing(tmp_path, resume=True),
        on_epoch=lambda member, record: seen.append((member, record["epoch"])), **options,
    )  # fmt: skip
    assert resumed.resumed_from == 2
    assert seen == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)]  # as first seen
    drop = lambda history: [{k: v for k, v in r.items() if "seconds" not in k} for r in history]  # noqa: E731
    assert [drop(h) for h in resumed.history] == [drop(h) for h in full.history]
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(full.params), strict=True):
        np.testing.assert_array_equal(a, b)


def conv_model(key):
    return eqx.nn.Conv1d(1, 1, 3, padding=1, key=key, dtype=jnp.float64)


def mse(pred, target):
    return jnp.mean((pred - target) ** 2)


def test_a_diverging_member_is_reported_and_the_others_finish(x64):
    x, y = smooth_pairs(32, 2, size=8)
    xt, yt = smooth_pairs(8, 3, size=8)
    objective = loop.pair_objective(x, y, mse)
    options = dict(
        norms=(Normalizer.fit(x), Normalizer.fit(y)),
        epochs=EPOCHS,
        batch_size=BATCH,
        evaluate=lambda model, data: {"test": loop.sample_errors(model, *data)},
        eval_data=(jnp.asarray(xt), jnp.asarray(yt)),
        monitor="test",
        progress=False,
    )
    optimizer = lambda h: optax.sgd(h["lr"])  # noqa: E731
    lrs, seeds = [0.05, 1e30, 0.1], [3, 4, 5]  # SGD on a quadratic: lr 1e30 overflows float64
    result = sweep(
        conv_model, objective, optimizer=optimizer, seeds=seeds, hparams={"lr": lrs}, **options
    )
    assert set(result.diverged) == {1}
    model_key, train_key = member_keys(seeds[1])
    task = {k: options[k] for k in ("norms", "evaluate", "eval_data", "monitor")}
    settings = lambda lr, key: engine.Settings(  # noqa: E731
        optimizer, EPOCHS, BATCH, key, hparams={"lr": lr}, progress=False
    )
    with pytest.raises(TrainingDiverged, match=f"at epoch {result.diverged[1]}, step"):
        engine.train(conv_model(model_key), objective, settings(lrs[1], train_key), **task)
    assert len(result.history[1]) == result.diverged[1] - 1  # records end before divergence
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params_of(result.member(1))))
    assert result.best() != 1
    for i in (0, 2):
        model_key, train_key = member_keys(seeds[i])
        single = engine.train(conv_model(model_key), objective, settings(lrs[i], train_key), **task)
        assert len(result.history[i]) == EPOCHS
        for ours, theirs in zip(result.history[i], single.history, strict=True):
            assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=RTOL)
            assert ours["test"] == pytest.approx(theirs["test"], rel=RTOL)
        assert_trees_close(params_of(result.member(i)), params_of(single.model))
    # The final table names the diverged member.
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(result.table())
    assert "diverged at epoch" in console.export_text()


def never_build(key):
    raise AssertionError("a model was built before the member counts were checked")


def test_mismatched_member_counts_raise_before_compute(no_type_checks):
    x, y = smooth_pairs(16, 4)
    with pytest.raises(ValueError, match="sweep members disagree"):
        fit_sweep(
            never_build, (x, y), (x, y), lrs=[1e-3, 2e-3], seeds=[0, 1, 2],
            epochs=1, batch_size=4, progress=False,
        )  # fmt: skip
    objective = Objective((x, y), np.arange(16, dtype=np.int32)[:, None], lambda *a: 0.0)
    with pytest.raises(ValueError, match=r"hparams\['wd'\]"):
        sweep(
            never_build, objective, norms=(Normalizer.fit(x), Normalizer.fit(y)),
            optimizer=optax.sgd(1e-3), seeds=[0, 1], hparams={"lr": 1e-3, "wd": [0.0] * 3},
            epochs=1, batch_size=4, evaluate=None, eval_data=None, monitor="test",
        )  # fmt: skip
    # Scalars and single entries broadcast to every member.
    size, labels, _, hparams = _members(7, {"lr": [1e-3, 2e-3, 3e-3], "wd": [0.5]})
    assert size == 3 and labels == [7, 7, 7]
    np.testing.assert_array_equal(hparams["wd"], np.full(3, 0.5, np.float32))
