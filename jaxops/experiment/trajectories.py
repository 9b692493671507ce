"""The trajectory recipe: fit states over time with `trainer.rollout` (one-step, curriculum,
pushforward or all-to-all); the test score is the rollout error, compared with persistence."""

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._config import ConfigError
from ..data.store import domain_lengths
from ..parallel import is_primary
from ..train import conditions
from ..train.conditions import bind
from ..train.loop import count_parameters
from ..train.losses import energy_spectrum
from ..train.metrics import write_json
from ..train.report import (
    plot_energy_spectra,
    plot_history,
    plot_predictions,
    plot_rollout_errors,
    plot_trajectory,
)
from ..train.rollout import rollout as rollout_states
from ..train.temporal import fit_trajectories, input_channels, trajectory_items
from .assemble import initial_model
from .breakdown import breakdown_report
from .devices import local_copy
from .options import engine_settings, objective_options
from .summary import engine_summary, error_summary


def fit_trajectory_data(config, path, splits, run_dir, console, start, par=None):
    """Fit trajectories with `trainer.rollout`; the test score is the rollout error."""
    train_set, val_set, test_set = splits
    if val_set is not None:
        raise ConfigError("data.n_val is not supported for trajectory datasets yet; set it to 0")
    rollout = config.trainer.rollout
    trajectories, test = train_set.trajectories, test_set.trajectories
    times = np.asarray(train_set.coords["t"])
    data_seconds = time.perf_counter() - start
    channels = trajectories.shape[2]
    in_channels = input_channels(rollout.mode, rollout.history, channels)
    network, trainable = initial_model(config, in_channels, channels, console)
    objective_items = len(
        trajectory_items(rollout.mode, *trajectories.shape[:2], rollout.history, rollout.steps)
    )
    note = decayed_state_note(np.asarray(trajectories), config.trainer.loss)
    if note:
        console.print(note)
    console.print(
        f"train: {config.model.name} ({count_parameters(network):,} parameters) on "
        f"{len(trajectories)} trajectories of {trajectories.shape[1]} states at "
        f"{trajectories.shape[3:]}, {rollout.mode} (history {rollout.history}, steps "
        f"{rollout.steps}: {objective_items} items), {len(test)} test, "
        f"{config.trainer.epochs} epochs, device {jax.devices()[0].platform}"
    )
    result = fit_trajectories(
        network,
        train_set.arrays,
        test_set.arrays,
        times=times,
        mode=rollout.mode,
        history=rollout.history,
        steps=rollout.steps,
        center=rollout.center,
        width=rollout.width,
        lengths=domain_lengths(train_set),
        settings=engine_settings(config, run_dir, objective_items, console, par),
        **objective_options(config),
        trainable=trainable,
    )
    model = local_copy(result.model)
    if not is_primary():
        return model, {}, [], (in_channels, channels)
    step_errors = result.extra["step_errors"]
    start_index = 1 if rollout.mode == "all_to_all" else rollout.history
    persistence = persistence_errors(test, 0 if rollout.mode == "all_to_all" else start_index - 1)
    write_json(
        run_dir / "rollout_errors.json",
        {
            "times": times[start_index:].tolist(),
            "median": np.median(step_errors, axis=0).tolist(),
            "mean": step_errors.mean(axis=0).tolist(),
            "persistence_mean": persistence.mean(axis=0).tolist(),
        },
    )
    figures = [
        plot_rollout_errors(
            run_dir / "rollout_errors.png",
            {config.model.name: step_errors, "persistence": persistence},
            times[start_index:],
        ),
        plot_history(
            run_dir / "history.png", result.history, loss_name=f"train {config.trainer.loss}"
        ),
    ]
    if config.trainer.plot_samples:
        first = tuple(c[0] for c in conditions.select(model, test_set.arrays, "the test set"))
        figures[1:1] = trajectory_figures(
            run_dir, bind(model, first), test, times, rollout, train_set.attrs.get("problem", "")
        )
    monitored = result.test_errors
    by_param, param_figures = breakdown_report(train_set, test_set, monitored, run_dir)
    figures += param_figures
    summary = {
        **error_summary(monitored, float(persistence.mean())),
        **by_param,
        "metric": "test rollout relative L2"
        if rollout.mode != "all_to_all"
        else "test lead-time relative L2",
        "baseline": "persistence",
        "rollout_mode": rollout.mode,
        "train_grid": list(trajectories.shape[3:]),
        "data_seconds": data_seconds,
        **engine_summary(result),
    }
    return model, summary, figures, (in_channels, channels)


def persistence_errors(trajectories: np.ndarray, last: int) -> np.ndarray:
    """`(N, S)` relative L2 errors of predicting state `last` at every later time."""
    later = trajectories[:, last + 1 :]
    diff = (later - trajectories[:, last : last + 1]).reshape(*later.shape[:2], -1)
    return np.linalg.norm(diff, axis=-1) / np.linalg.norm(later.reshape(diff.shape), axis=-1)


def trajectory_figures(run_dir, model, test, times, rollout, problem) -> list[Path]:
    """The first test trajectory predicted: a space–time plot (1D) or the final state with
    its error (2D), and for 2D the energy spectra of truth and prediction at the final time."""
    predicted = np.asarray(
        predict_trajectory(model, jnp.asarray(test[0]), times, rollout.mode, rollout.history)
    )
    truth = test[0, -len(predicted) :]
    if truth.ndim == 3:  # (S, C, X)
        return [
            plot_trajectory(
                run_dir / "predictions.png", truth[:, 0], predicted[:, 0],
                times=times[-len(predicted):], title=problem,
            )
        ]  # fmt: skip
    figures = [
        plot_predictions(
            run_dir / "predictions.png", test[:1, 0], truth[-1:], predicted[-1:],
            input_name=f"state at t={times[0]:g}", output_name=f"state at t={times[-1]:g}",
        )
    ]  # fmt: skip
    k, e_true = energy_spectrum(jnp.asarray(truth[-1]))
    _, e_pred = energy_spectrum(jnp.asarray(predicted[-1]))
    spectra = {"truth": np.asarray(e_true), "prediction": np.asarray(e_pred)}
    figures.append(plot_energy_spectra(run_dir / "spectra.png", np.asarray(k), spectra))
    return figures


@eqx.filter_jit
def predict_trajectory(model, trajectory, times, mode: str, history: int):
    """Autoregressive rollout from the first `history` states, or all-to-all predictions of
    every later state from the first."""
    if mode == "all_to_all":
        return jax.vmap(lambda dt: model(trajectory[0], dt))(times[1:] - times[0])
    steps = trajectory.shape[0] - history
    return rollout_states(model, trajectory[:history], steps, history)


DECAYED = 1e-4  # a state this small against its trajectory's largest has decayed to ~0


def decayed_state_note(trajectories: np.ndarray, loss: str) -> str | None:
    """A warning when a relative loss (`rel_*`) would divide by states that have decayed to
    about zero (norm below `DECAYED` times the largest state of their trajectory `(N, T, C,
    *grid)`, as diffusion does to high wavenumbers at large viscosity): their relative
    errors dwarf all others, and training follows them; so does the relative test error,
    whatever the loss. None when there are none."""
    if not loss.startswith("rel_"):
        return None
    norms = np.linalg.norm(trajectories.reshape(*trajectories.shape[:2], -1), axis=-1)
    decayed = norms < DECAYED * norms.max(axis=1, keepdims=True)
    if not decayed.any():
        return None
    trajectories_hit = int(decayed.any(axis=1).sum())
    return (
        f"note: {int(decayed.sum()):,} of {decayed.size:,} training states ({trajectories_hit} "
        f"trajectories) have decayed below {DECAYED:g} of their trajectory's largest: the "
        f"relative loss {loss} divides by them and they dominate training (and the relative "
        "test error). Shorten the time span (pde.t_end), or train with trainer.loss=mse"
    )
