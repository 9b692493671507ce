"""`jaxops train` on trajectory datasets end to end (tiny sizes): each rollout mode's
experiment config runs, writes its figures and rollout errors, the saved model reproduces the
reported rollout error, and `jaxops evaluate` re-scores it identically (2D case). The
parameter-conditioned experiment (`burgers_cape`) runs in tests/cli/test_parametric.py."""

import json

import jax.numpy as jnp
import matplotlib.image
import numpy as np
import pytest
from helpers import jaxops_in_process

from jaxops import train
from jaxops.data import load
from jaxops.experiment.trajectories import decayed_state_note
from jaxops.train.temporal import step_errors

TINY_1D = [
    "data.n_samples=24",
    "data.n_test=4",
    "data.resolution=32",
    "pde.n_times=6",
    "model.modes=[6]",
    "model.width=8",
    "model.depth=2",
    "model.projection_width=16",
    "trainer.epochs=2",
    "trainer.batch_size=8",
    "trainer.plot_samples=1",
]
TINY_2D = [
    "data.n_samples=10",
    "data.n_test=2",
    "data.resolution=16",
    "pde.t_end=1.0",
    "pde.n_times=6",
    "pde.dt=0.05",
    "model.modes=[4,4]",
    "model.width=8",
    "model.depth=2",
    "model.projection_width=16",
    "trainer.epochs=2",
    "trainer.batch_size=4",
    "trainer.plot_samples=1",
    "trainer.rollout.history=2",
    "trainer.rollout.steps=2",
]
CASES = {
    "burgers_fno": (TINY_1D, ["trainer.rollout.mode=curriculum", "trainer.rollout.steps=3"]),
    "burgers_time_fno": (TINY_1D, []),
    "navier_stokes_fno": (TINY_2D, []),
}


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_trajectory_experiment_end_to_end(experiment, tmp_path):
    sizes, extra = CASES[experiment]
    result = jaxops_in_process("train", f"experiment={experiment}", *sizes, *extra,
                               "hydra.run.dir=run", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run = tmp_path / "run"
    figures = ["rollout_errors.png", "history.png", "predictions.png"]
    figures += ["spectra.png"] if experiment.startswith("navier") else []
    for name in figures:
        assert matplotlib.image.imread(run / name).ndim == 3, name
    summary = json.loads((run / "summary.json").read_text())
    curve = json.loads((run / "rollout_errors.json").read_text())
    assert len(curve["mean"]) == len(curve["times"]) == len(curve["persistence_mean"])

    # The saved model reproduces the reported error from the dataset file alone.
    data = load(summary["dataset"])
    n_test = int(sizes[1].split("=")[1])
    test = jnp.asarray(data.trajectories[-n_test:])
    mode = "all_to_all" if "time_fno" in experiment else "curriculum"
    history = 2 if experiment.startswith("navier") else 1
    model = train.load(run)
    declared = {"burgers_time_fno": ("lead_time",)}
    assert model.conditions == declared.get(experiment, ())
    errors = step_errors(model, test, jnp.asarray(data.coords["t"]), (), mode=mode,
                         history=history, batch_size=4)  # fmt: skip
    # The same float32 program in another process: per-state errors are 32- to 256-term
    # reductions (≤ 256 eps ≈ 3e-5 relative) averaged over the steps.
    assert float(np.mean(errors)) == pytest.approx(summary["test_rel_l2"], rel=3e-5)

    if experiment != "navier_stokes_fno":
        return  # a pair-free re-evaluation through the command
    evaluated = jaxops_in_process("evaluate", "run=run", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    (metrics,) = list((run / "evaluations").glob("*/metrics.json"))
    assert json.loads(metrics.read_text())["test_rel_l2"] == pytest.approx(
        summary["test_rel_l2"], rel=3e-5
    )


def test_a_window_longer_than_the_trajectories_is_refused_before_generation(tmp_path):
    window = ["trainer.rollout.mode=pushforward", "trainer.rollout.steps=9"]
    result = jaxops_in_process("train", "experiment=burgers_fno", *TINY_1D, *window, cwd=tmp_path)
    assert result.returncode == 2
    assert "trainer.rollout: a pushforward window needs history + steps = 10 states" in (
        result.stderr
    )
    assert not (tmp_path / "datasets").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["experiment=burgers_time_fno", "trainer.rollout.mode=one_step"],
         "TimeConditionedFNO takes a lead time: train it with rollout mode all_to_all"),
        (["experiment=burgers_fno", "trainer.rollout.mode=all_to_all"],
         "all_to_all predicts at a lead time, but FNO takes none"),
        (["experiment=darcy", "model=cape", "model.base_config.modes=[4,4]"],
         "model=cape takes params per sample, but pde=darcy records none"),
    ],
)  # fmt: skip
def test_a_model_the_data_cannot_condition_is_refused_before_generation(
    overrides, message, tmp_path
):
    sizes = ["data.n_samples=24", "data.n_test=4", "trainer.batch_size=4"]
    result = jaxops_in_process("train", *overrides, *sizes, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "datasets").exists()


def test_states_decayed_to_zero_are_pointed_out_for_relative_losses():
    """u = sin(2πx) e^{−3t} at t = 0..4: only the last state (e^{−12} ≈ 6e-6; e^{−9} ≈ 1.2e-4
    is not) falls below 1e-4 of the trajectory's largest."""
    x = np.arange(16) / 16
    decaying = np.sin(2 * np.pi * x) * np.exp(-3.0 * np.arange(5))[:, None]
    steady = np.broadcast_to(np.cos(2 * np.pi * x), (5, 16))
    trajectories = np.stack([decaying, steady, steady])[:, :, None]  # (3, 5, 1, 16)
    note = decayed_state_note(trajectories, "rel_l2")
    assert note.startswith("note: 1 of 15 training states (1 trajectories) have decayed below")
    assert "trainer.loss=mse" in note
    assert decayed_state_note(trajectories, "mse") is None  # it does not divide by them
    assert decayed_state_note(trajectories[1:], "rel_l2") is None
