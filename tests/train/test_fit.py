"""fit learns (far below the mean-prediction baseline), is deterministic, guards against
divergence; checkpoints load back into an identical model with one call."""

import errno
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from helpers import fno_rounding_chain, relative_error_atol

from jaxops import models, train
from jaxops.train.metrics import mean_prediction_error
from jaxops.train.optim import OptimConfig, make_optimizer

N_TRAIN, N_TEST, EPOCHS, BATCH = 200, 40, 25, 10


@pytest.fixture(scope="module")
def darcy(small_darcy):
    assert len(small_darcy[0]) == N_TRAIN and len(small_darcy[1]) == N_TEST
    return small_darcy


def small_fno(key):
    return models.FNO(1, 1, (6, 6), width=16, depth=3, projection_width=32, key=key)


def fit_small(darcy, epochs):
    train_set, test_set = darcy
    cfg = OptimConfig(
        name="adam",
        lr=3e-3,
        weight_decay=1e-5,
        schedule="cosine",
        step_epochs=1,
        gamma=1.0,
        warmup_epochs=0,
    )
    optimizer, schedule = make_optimizer(cfg, N_TRAIN // BATCH, EPOCHS)
    return train.fit(
        small_fno(jax.random.key(0)),
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        optimizer=optimizer,
        schedule=schedule,
        epochs=epochs,
        batch_size=BATCH,
        key=jax.random.key(1),
        progress=False,
    )


@pytest.fixture(scope="module")
def trained(darcy):
    return fit_small(darcy, EPOCHS)


def test_fit_learns_far_below_the_baseline(darcy, trained):
    train_set, test_set = darcy
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    final = trained.history[-1]["test_rel_l2"]
    assert final < baseline / 4, (final, baseline)
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"] / 3
    errors = train.evaluate_model(trained.model, test_set.inputs, test_set.outputs)
    # Another program than the engine's evaluation: equal up to the float32 rounding of the
    # forward pass and of the norms and the mean (40 samples of 17×17 points).
    chain = fno_rounding_chain(1, (17, 17), (6, 6), width=16, depth=3, projection_width=32)
    atol = relative_error_atol(chain, final, terms=17 * 17 + N_TEST)
    assert float(errors.mean()) == pytest.approx(final, abs=atol)
    assert [h["epoch"] for h in trained.history] == list(range(1, EPOCHS + 1))


def test_fit_is_deterministic(darcy, trained):
    again = fit_small(darcy, epochs=2)
    for a, b in zip(again.history, trained.history[:2], strict=True):
        assert a["train_loss"] == b["train_loss"] and a["test_rel_l2"] == b["test_rel_l2"]


def test_checkpoint_round_trip(trained, darcy, tmp_path):
    _, test_set = darcy
    kwargs = dict(modes=(6, 6), width=16, depth=3, projection_width=32)
    train.save(
        tmp_path / "checkpoint",
        trained.model,
        name="fno",
        kwargs=kwargs,
        in_channels=1,
        out_channels=1,
    )
    loaded = train.load(tmp_path)  # a run directory holding checkpoint/
    x = jnp.asarray(test_set.inputs[:5])
    np.testing.assert_array_equal(train.predict(loaded, x), train.predict(trained.model, x))
    assert type(loaded.model) is models.FNO


def test_a_full_disk_while_writing_the_model_names_the_state_that_can_rewrite_it(
    trained, tmp_path, monkeypatch
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", full)
    (tmp_path / "state" / "7").mkdir(parents=True)  # a finished step of the run's state
    (tmp_path / "state" / "8.orbax-checkpoint-tmp-1").mkdir()  # an unfinished one
    with pytest.raises(train.CheckpointError) as error:
        train.save(tmp_path / "checkpoint", trained.model, name="fno", kwargs={},
                   in_channels=1, out_channels=1)  # fmt: skip
    assert str(error.value) == (
        f"writing {tmp_path / 'checkpoint'} failed ([Errno 28] No space left on device); the "
        f"training state of epoch 7 in {tmp_path / 'state'} is intact: free space and resume "
        f"the run (resume=true hydra.run.dir={tmp_path}) to write it"
    )


def test_load_rejects_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass a run directory"):
        train.load(tmp_path)


def test_divergence_names_the_epoch_and_step(darcy):
    train_set, test_set = darcy
    targets = np.array(train_set.outputs)
    targets[7] = np.nan
    optimizer, _ = make_optimizer(OptimConfig("adam", 1e-3, 0.0, "constant", 1, 1.0, 0), 1, 1)
    with pytest.raises(train.TrainingDiverged, match="at epoch 1, step \\d+ of 20"):
        train.fit(
            small_fno(jax.random.key(0)),
            (train_set.inputs, targets),
            (test_set.inputs, test_set.outputs),
            optimizer=optimizer,
            epochs=1,
            batch_size=BATCH,
            key=jax.random.key(0),
            normalizer="none",
            progress=False,
        )
