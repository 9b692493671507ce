"""The training engine: a resumed run equals the uninterrupted one bit for bit, a half-written
checkpoint is ignored, early stopping and best-model tracking follow their definitions,
extra test sets are evaluated like `evaluate_model`, and a diverging loss keeps the last
checkpoint loadable."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops import models, train
from jaxops.data.normalize import Normalizer
from jaxops.train.checkpoint import StateCheckpoints
from jaxops.train.engine import Checkpointing, Objective
from jaxops.train.losses import relative_l2

EPOCHS, BATCH = 4, 20


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
        run(small_darcy, checkpointing=Checkpointing(state), on_epoch=crash_after(2))
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


def test_early_stopping_after_patience_evaluations_without_improvement(small_darcy):
    # With a zero learning rate the test error never improves after the first evaluation.
    result = run(small_darcy, optimizer=optax.sgd(0.0), epochs=10, patience=2)
    assert result.stopped_epoch == 3 and len(result.history) == 3
    assert result.best_epoch == 1


def test_keep_best_returns_the_best_evaluated_model(small_darcy, tmp_path):
    # A learning rate too large for Adam makes the test error wander; keep the minimum. Every
    # other epoch is evaluated, and the state (with the best parameters) is saved each epoch.
    result = run(small_darcy, optimizer=optax.adam(0.3), epochs=8, keep_best=True, eval_every=2,
                 checkpointing=Checkpointing(tmp_path))  # fmt: skip
    evaluated = [(r["test_rel_l2"], r["epoch"]) for r in result.history if "test_rel_l2" in r]
    assert [epoch for _, epoch in evaluated] == [2, 4, 6, 8]
    assert result.best_epoch == min(evaluated)[1]
    test_set = small_darcy[1]
    final = train.evaluate_model(result.model, test_set.inputs, test_set.outputs)
    assert float(final.mean()) == pytest.approx(min(evaluated)[0], rel=1e-5)


def test_extra_test_sets_and_validation_are_evaluated_like_evaluate_model(small_darcy):
    train_set, test_set = small_darcy
    coarse = (test_set.inputs[:, :, ::2, ::2], test_set.outputs[:, :, ::2, ::2])
    validation = (train_set.inputs[:20], train_set.outputs[:20])
    result = run(small_darcy, epochs=1, extra_test={"9x9": coarse}, validation=validation)
    record = result.history[-1]
    for name, (x, y) in (("test_rel_l2@9x9", coarse), ("val_rel_l2", validation)):
        expected = float(train.evaluate_model(result.model, x, y).mean())
        assert record[name] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(
        result.test_errors, train.evaluate_model(result.model, test_set.inputs, test_set.outputs)
    )


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
    options = dict(
        norms=norms,
        optimizer=optax.adam(1e-3),
        epochs=EPOCHS,
        batch_size=BATCH,
        key=jax.random.key(1),
        evaluate=lambda model, data: {"test": train.loop.sample_errors(model, *data)},
        eval_data=(jnp.asarray(test_set.inputs), jnp.asarray(test_set.outputs)),
        monitor="test",
        progress=False,
    )
    with pytest.raises(train.TrainingDiverged, match="epoch 3, step 1 of 10.*epoch 2 is intact"):
        train.engine.train(small_fno(), objective, checkpointing=Checkpointing(tmp_path), **options)
    assert StateCheckpoints(tmp_path).manager.latest_step() == 2
