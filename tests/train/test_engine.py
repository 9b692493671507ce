"""The training engine: a resumed run equals the uninterrupted one bit for bit, a half-written
checkpoint is ignored, early stopping and best-model tracking follow their definitions,
extra test sets are evaluated like `evaluate_model`, and a diverging loss keeps the last
checkpoint loadable."""

import errno
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from helpers import assert_within, fno_rounding_chain, relative_error_atol

from jaxops import models, train
from jaxops.data.normalize import Normalizer
from jaxops.train.checkpoint import CheckpointError, StateCheckpoints
from jaxops.train.engine import Checkpointing, Objective
from jaxops.train.losses import relative_l2

EPOCHS, BATCH = 4, 20
# Roundings along one output of `small_fno` on the 17×17 grid (see `fno_rounding_chain`).
CHAIN = fno_rounding_chain(1, (17, 17), (4, 4), width=8, depth=2, projection_width=16)


def small_fno():
    return models.FNO(1, 1, (4, 4), width=8, depth=2, projection_width=16, key=jax.random.key(0))


def run(data, **kwargs):
    (train_set, test_set), schedule = data, optax.cosine_decay_schedule(3e-3, EPOCHS * 10)
    options = dict(optimizer=optax.adam(schedule), epochs=EPOCHS, batch_size=BATCH)
    return train.fit(
        small_fno(),
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        key=jax.random.key(1),
        progress=False,
        **{**options, **kwargs},
    )


class Crash(Exception):
    pass


def crash_after(epoch):
    def on_epoch(record):
        if record["epoch"] == epoch:
            raise Crash

    return on_epoch


@pytest.fixture(scope="module")
def uninterrupted(small_darcy):
    return run(small_darcy)


def test_resumed_run_equals_the_uninterrupted_run(small_darcy, uninterrupted, tmp_path):
    state = tmp_path / "state"
    with pytest.raises(Crash):
        run(small_darcy, checkpointing=Checkpointing(state, min_seconds=0),
            on_epoch=crash_after(2))  # fmt: skip
    # A write killed half-way leaves orbax's temporary folder behind: it must be ignored.
    (state / "3.orbax-checkpoint-tmp-1234567").mkdir()
    (state / "3.orbax-checkpoint-tmp-1234567" / "junk").write_text("partial")
    seen = []
    resumed = run(
        small_darcy, checkpointing=Checkpointing(state, resume=True), on_epoch=seen.append
    )
    assert resumed.resumed_from == 2
    assert [r["epoch"] for r in seen] == [1, 2, 3, 4]  # restored history, then new epochs
    for a, b in zip(resumed.history, uninterrupted.history, strict=True):
        assert a["train_loss"] == b["train_loss"] and a["test_rel_l2"] == b["test_rel_l2"]
    x = jnp.asarray(small_darcy[1].inputs[:4])
    np.testing.assert_array_equal(
        train.predict(resumed.model, x), train.predict(uninterrupted.model, x)
    )


def test_a_full_disk_keeps_the_last_state_and_resuming_completes_the_run(
    small_darcy, uninterrupted, tmp_path, monkeypatch
):
    """The disk fills while epoch 3's state is written (orbax's temporary folder half
    written): one error says so and that epoch 2's state is intact; freeing space and
    resuming ends exactly as the uninterrupted run."""
    save = ocp.CheckpointManager.save

    def fills_at_epoch_3(manager, step, *args, **kwargs):
        if step == 3:
            (state / "3.orbax-checkpoint-tmp-1").mkdir()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(manager, step, *args, **kwargs)

    state = tmp_path / "state"
    monkeypatch.setattr(ocp.CheckpointManager, "save", fills_at_epoch_3)
    with pytest.raises(CheckpointError) as error:
        run(small_darcy, checkpointing=Checkpointing(state, min_seconds=0))
    assert str(error.value) == (
        f"writing the training state of epoch 3 to {state} failed ([Errno 28] No space left "
        "on device); the state of epoch 2 there is intact: free space and resume"
    )
    monkeypatch.undo()
    resumed = run(small_darcy, checkpointing=Checkpointing(state, resume=True))
    assert resumed.resumed_from == 2
    assert [r["test_rel_l2"] for r in resumed.history] == [
        r["test_rel_l2"] for r in uninterrupted.history
    ]


def test_early_stopping_after_patience_evaluations_without_improvement(small_darcy):
    # With a zero learning rate the test error never improves after the first evaluation.
    result = run(small_darcy, optimizer=optax.sgd(0.0), epochs=10, patience=2)
    assert result.stopped_epoch == 3 and len(result.history) == 3
    assert result.best_epoch == 1


def test_keep_best_returns_the_best_evaluated_model(small_darcy, tmp_path):
    # Adam at 3e-3 for 4 epochs (10 steps each), then at 0.5: far too large, it wrecks the
    # model, so the best evaluation comes before the last one. Every other epoch is evaluated,
    # and the state (with the best parameters) is saved after the last epoch (the default
    # time floor of 10 s between writes is not reached).
    schedule = optax.piecewise_constant_schedule(3e-3, {4 * 10: 0.5 / 3e-3})
    result = run(small_darcy, optimizer=optax.adam(schedule), epochs=8, keep_best=True,
                 eval_every=2, checkpointing=Checkpointing(tmp_path))  # fmt: skip
    evaluated = [(r["test_rel_l2"], r["epoch"]) for r in result.history if "test_rel_l2" in r]
    assert [epoch for _, epoch in evaluated] == [2, 4, 6, 8]
    best, best_epoch = min(evaluated)
    assert result.best_epoch == best_epoch != 8
    assert StateCheckpoints(tmp_path).manager.all_steps() == [8]
    # The engine re-evaluates the kept parameters with its own compiled evaluation: bit for bit.
    assert float(result.test_errors.mean()) == best
    test_set = small_darcy[1]
    final = float(train.evaluate_model(result.model, test_set.inputs, test_set.outputs).mean())
    # evaluate_model is another program than the engine's evaluation: the two agree to the
    # float32 rounding of the FNO's forward pass (40 samples of 17×17 points), not bit for bit.
    atol = relative_error_atol(CHAIN, best, terms=17 * 17 + len(test_set))
    assert final == pytest.approx(best, abs=atol)
    assert evaluated[-1][0] - best > 100 * atol  # the last model is far from the one returned


def test_the_state_is_written_every_k_epochs_after_the_time_floor_and_after_the_last():
    every = Checkpointing(every=2, min_seconds=10.0)
    assert [every.due(epoch, False, since=11.0) for epoch in (1, 2, 3, 4)] == [
        False, True, False, True
    ]  # fmt: skip
    assert not every.due(2, False, since=9.0)  # too soon after the last write
    assert every.due(3, True, since=0.0)  # the last epoch always
    assert Checkpointing(every=1, min_seconds=0).due(1, False, since=0.0)


def test_extra_test_sets_and_validation_are_evaluated_like_evaluate_model(small_darcy):
    train_set, test_set = small_darcy
    coarse = (test_set.inputs[:, :, ::2, ::2], test_set.outputs[:, :, ::2, ::2])
    validation = (train_set.inputs[:20], train_set.outputs[:20])
    result = run(small_darcy, epochs=1, extra_test={"9x9": coarse}, validation=validation)
    record = result.history[-1]
    # The engine's evaluation and evaluate_model are two programs running the same function:
    # they agree to the float32 rounding of the forward pass and of the norms and the mean.
    for name, (x, y) in (("test_rel_l2@9x9", coarse), ("val_rel_l2", validation)):
        expected = float(train.evaluate_model(result.model, x, y).mean())
        chain = fno_rounding_chain(1, x.shape[2:], (4, 4), width=8, depth=2, projection_width=16)
        atol = relative_error_atol(chain, expected, terms=x[0].size + len(x))
        assert record[name] == pytest.approx(expected, abs=atol)
    direct = np.asarray(train.evaluate_model(result.model, test_set.inputs, test_set.outputs))
    atol = relative_error_atol(CHAIN, direct, terms=17 * 17)  # per sample
    assert_within(result.test_errors, direct, atol)


def test_divergence_keeps_the_last_checkpoint_loadable(small_darcy, tmp_path):
    train_set, test_set = small_darcy

    def item_loss(model, data, item, progress):
        x, y = data
        poison = jnp.where(progress >= 0.5, jnp.nan, 1.0)  # from epoch 3 of 4 on
        return poison * relative_l2(model(x[item[0]]), y[item[0]])

    objective = Objective(
        (jnp.asarray(train_set.inputs), jnp.asarray(train_set.outputs)),
        np.arange(len(train_set), dtype=np.int32)[:, None],
        item_loss,
    )
    norms = (Normalizer.fit(train_set.inputs), Normalizer.fit(train_set.outputs))
    settings = train.engine.Settings(
        optax.adam(1e-3), EPOCHS, BATCH, jax.random.key(1),
        checkpointing=Checkpointing(tmp_path, min_seconds=0), progress=False,
    )  # fmt: skip
    with pytest.raises(train.TrainingDiverged, match="epoch 3, step 1 of 10.*epoch 2 is intact"):
        train.engine.train(
            small_fno(), objective, settings, norms=norms, monitor="test",
            evaluate=lambda model, data: {"test": train.loop.sample_errors(model, *data)},
            eval_data=(jnp.asarray(test_set.inputs), jnp.asarray(test_set.outputs)),
        )  # fmt: skip
    assert StateCheckpoints(tmp_path).manager.latest_step() == 2


def test_settings_are_one_object_or_keywords():
    """`Settings.of`: keywords build it or replace fields of a given one; an unknown or a
    missing required field is a `TypeError` naming it."""
    base = train.Settings.of(
        optimizer=optax.sgd(0.1), epochs=2, batch_size=4, key=jax.random.key(0)
    )
    assert base.epochs == 2 and base.eval_every == 1 and base.parallel is None
    changed = train.Settings.of(base, epochs=5, progress=False)
    assert (changed.epochs, changed.progress, changed.batch_size) == (5, False, 4)
    with pytest.raises(TypeError, match=r"unknown training setting\(s\) \['epoch'\]"):
        train.Settings.of(base, epoch=5)
    with pytest.raises(TypeError, match=r"missing training setting\(s\) \['batch_size', 'key'\]"):
        train.Settings.of(optimizer=optax.sgd(0.1), epochs=2)


def test_the_learning_rate_is_logged_from_the_schedule_or_left_out(small_darcy, uninterrupted):
    """With the schedule the optimiser was built with, each record's `lr` is its value after
    the epoch's last step (10 steps per epoch); without one there is no `lr`, never a NaN."""
    schedule = optax.cosine_decay_schedule(3e-3, EPOCHS * 10)
    scheduled = run(small_darcy, schedule=schedule, epochs=2)
    assert [r["lr"] for r in scheduled.history] == [float(schedule(9)), float(schedule(19))]
    assert all("lr" not in record for record in uninterrupted.history)
