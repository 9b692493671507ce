"""`jaxops train`: generate or load the dataset, fit the model, write the run directory.

Run directory: `config.yaml` (resolved), `metrics.jsonl` (one line per epoch),
`summary.json`, `checkpoint/` (load with `jaxops.train.load(run_dir)`), `state/` (the
resumable training state: `resume=true` continues a killed run), `predictions.png` (test
samples: input, truth, prediction, error) and `history.png` (training curves).
"""

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from omegaconf import OmegaConf
from rich.console import Console

from .. import models
from .._config import ConfigError
from .._progress import make_console
from ..data.store import Rows, read_shapes
from ..data.stream import ChunkedArrays, fit_normalizers
from ..parallel import Parallel, is_primary, process_zero_value, to_host
from ..parallel import config as parallel_config
from ..train import checkpoint, conditions
from ..train.checkpoint import STATE_DIR
from ..train.conditions import bind
from ..train.engine import Checkpointing
from ..train.loop import count_parameters, fit, predict
from ..train.losses import energy_spectrum
from ..train.metrics import MetricsLog, mean_prediction_error, write_json
from ..train.optim import make_optimizer
from ..train.report import (
    plot_energy_spectra,
    plot_history,
    plot_predictions,
    plot_rollout_errors,
    plot_sample_predictions,
    plot_trajectory,
)
from ..train.rollout import rollout as rollout_states
from ..train.sweep import fit_sweep
from ..train.temporal import fit_trajectories, trajectory_items
from .assemble import (
    build_model,
    check_model_fits_data,
    dataset_names,
    ensure_dataset,
    initial_model,
    load_splits,
    physics_options,
    sample_shapes,
)
from .compare import write_csv
from .resume import resolve_run_dir
from .schema import Config, check_training


def run(config: Config, run_dir: str | Path, console: Console | None = None) -> dict[str, Any]:
    """Train `config`'s model on its dataset (pairs or trajectories); write and return the
    summary."""
    check_training(config)
    check_model_fits_data(config)
    physics = physics_options(config)
    primary = is_primary()
    console = console or make_console(quiet=not primary)
    start = time.perf_counter()
    config, par = parallel_setup(config, console)
    run_dir = resolve_run_dir(config, Path(run_dir))
    if process_zero_value(str(run_dir.absolute())) != str(run_dir.absolute()):
        raise ConfigError(
            f"process {jax.process_index()} would write to {run_dir}, process 0 elsewhere: "
            "give every process the same hydra.run.dir (e.g. runs/<name>/$SLURM_JOB_ID)"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    if not config.resume and primary:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))
    path = ensure_dataset(config, console)
    trajectories = "trajectories" in read_shapes(path)
    stream = config.data.stream_chunk is not None
    if (config.sweep.active or stream) and trajectories:
        raise ConfigError(
            "sweep.* and data.stream_chunk work on pair datasets only; use -m for trajectory "
            "sweeps and load trajectories into memory"
        )
    if physics and trajectories:
        raise ConfigError(
            f"trainer.physics needs a pair dataset, but {path} holds trajectories; set "
            "trainer.physics.weight=0"
        )
    if stream and config.sweep.active:
        raise ConfigError(
            "a vmapped sweep needs the training data in memory: drop data.stream_chunk"
        )
    # Several processes: each reads only the training rows its devices hold (pair datasets).
    lazy = jax.process_count() > 1 and not trajectories and not stream
    splits = load_splits(config, path, stream=stream, lazy=lazy)
    fit_data = (
        fit_trajectory_data
        if trajectories
        else fit_pair_sweep
        if config.sweep.active
        else functools.partial(fit_pair_data, physics=physics)
    )
    model, summary, figures, channels = fit_data(config, path, splits, run_dir, console, start, par)
    checkpoint.save(  # every process takes part in a multi-process write
        run_dir / checkpoint.CHECKPOINT_DIR,
        model if jax.process_count() == 1 else par.replicate(model),
        name=config.model.name,
        kwargs=models.config_kwargs(config.model),
        in_channels=channels[0],
        out_channels=channels[1],
    )
    if not primary:
        return {}
    summary = {
        "experiment": config.name,
        "model": config.model.name,
        **summary,
        "n_params": count_parameters(model.model),
        "n_train": config.data.n_train,
        "n_test": len(splits[2]),
        "epochs": config.trainer.epochs,
        "total_seconds": time.perf_counter() - start,
        "dataset": str(path.resolve()),
        "device": str(jax.devices()[0]),
        "devices": jax.device_count(),
        "processes": jax.process_count(),
        "mesh": dict(par.mesh.shape) if par is not None else {"data": 1, "space": 1},
        "global_batch_size": config.trainer.batch_size,
        "lr": config.optim.lr,
        "jax_version": jax.__version__,
        "figures": [str(f) for f in figures],
    }
    write_json(run_dir / "summary.json", summary)
    print_summary(console, summary, run_dir)
    return summary


def parallel_setup(config: Config, console: Console) -> tuple[Config, Parallel | None]:
    """The run's `Parallel` (None on one device) and the config as it is run and saved: the
    global batch and the scaled learning rate in place (`per_device_batch` and `lr_scaling`
    applied), progress only on process 0. Prints the start-up report."""
    par = parallel_config.build(config.parallel)
    batch, lr = parallel_config.scaled_batch_and_lr(
        config.parallel, par, config.trainer.batch_size, config.optim.lr
    )
    par, note = parallel_config.for_batch(config.parallel, par, batch)
    if note:
        console.print(note)
    config = dataclasses.replace(
        config,
        trainer=dataclasses.replace(
            config.trainer, batch_size=batch, progress=config.trainer.progress and is_primary()
        ),
        optim=dataclasses.replace(config.optim, lr=lr),
        parallel=dataclasses.replace(config.parallel, per_device_batch=None, lr_scaling="none"),
    )
    if par is not None or jax.process_count() > 1:
        channels = (shape[0] for shape in sample_shapes(config))
        shapes = eqx.filter_eval_shape(build_model, config, *channels)
        for line in parallel_config.report(par, batch, lr, shapes):
            console.print(line)
    return config, par


def local_copy(model):
    """The trained model on this process's default device (for figures and predictions)."""
    arrays, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(jax.tree.map(jnp.asarray, to_host(arrays)), static)


def error_summary(errors: np.ndarray, baseline: float) -> dict[str, float]:
    """Mean and median of the per-sample test errors, and the baseline they are compared to."""
    mean = float(np.mean(errors))
    return {
        "test_rel_l2": mean,
        "test_rel_l2_median": float(np.median(errors)),
        "baseline_rel_l2": baseline,
        "improvement_over_baseline": baseline / mean,
    }


def engine_summary(result) -> dict[str, Any]:
    """The engine's figures of a run: epochs, mean final metrics, timings."""
    return {
        "stopped_epoch": result.stopped_epoch,
        "best_epoch": result.best_epoch,
        "resumed_from_epoch": result.resumed_from,
        **{k: float(v.mean()) for k, v in result.evaluation.items()},
        "compile_seconds": result.compile_seconds,
        "epoch_seconds_median": float(np.median([h["train_seconds"] for h in result.history])),
    }


def engine_options(
    config: Config, run_dir: Path, n_items: int, console: Console, par: Parallel | None = None
) -> dict:
    """Optimiser, schedule and the engine's settings from the trainer config; metrics are
    logged by process 0."""
    trainer = config.trainer
    optimizer, schedule = make_optimizer(
        config.optim, n_items // trainer.batch_size, trainer.epochs
    )
    return dict(
        optimizer=optimizer,
        schedule=schedule,
        loss=trainer.loss,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        key=jr.fold_in(jr.key(config.seed), 1),
        normalizer=trainer.normalizer,
        eval_batch_size=trainer.eval_batch_size,
        eval_every=trainer.eval_every,
        patience=trainer.patience,
        min_delta=trainer.min_delta,
        keep_best=trainer.keep_best,
        checkpointing=Checkpointing(
            run_dir / STATE_DIR, every=trainer.checkpoint_every, resume=config.resume
        ),
        log_every=trainer.log_every,
        epoch_program=trainer.epoch_program,
        on_epoch=MetricsLog(run_dir / "metrics.jsonl") if is_primary() else None,
        progress=trainer.progress,
        console=console,
        parallel=par,
    )


def fit_pair_data(config, path, splits, run_dir, console, start, par=None, physics=None):
    """Fit (input, output) pairs; extra test resolutions from `trainer.eval_subsample`; the
    training split streamed from the file if it is a `ChunkedArrays` (`data.stream_chunk`);
    `physics`: `fit`'s physics-informed arguments (`assemble.physics_options`)."""
    physics = physics or {}
    train_set, val_set, test_set = splits
    streamed = isinstance(train_set, ChunkedArrays)
    extra_test = {}
    for stride in config.trainer.eval_subsample:
        *_, other = load_splits(config, path, subsample=stride, stream=streamed)
        extra_test["x".join(map(str, other.inputs.shape[2:]))] = other.arrays
    data_seconds = time.perf_counter() - start
    channels = test_set.inputs.shape[1], test_set.outputs.shape[1]
    network, trainable = initial_model(config, *channels, console)
    console.print(
        f"train: {config.model.name} ({count_parameters(network):,} parameters) on "
        f"{config.data.n_train} samples at {test_set.inputs.shape[2:]}"
        + (f" (streamed in chunks of {config.data.stream_chunk})" if streamed else "")
        + f", {len(test_set)} test, {config.trainer.epochs} epochs, "
        f"loss {loss_description(config)}, device {jax.devices()[0].platform}"
    )
    result = fit(
        network,
        train_set if streamed else train_set.arrays,
        test_set.arrays,
        validation=None if val_set is None else val_set.arrays,
        extra_test=extra_test,
        lengths=domain_lengths(test_set),
        **physics,
        **engine_options(config, run_dir, config.data.n_train, console, par),
        trainable=trainable,
    )
    model = local_copy(result.model)
    if not is_primary():
        return model, {}, [], channels
    errors = result.test_errors
    if not streamed and isinstance(train_set.outputs, Rows):  # lazily read: mean in one pass
        train_set = ChunkedArrays(path, ("inputs", "outputs"), stop=config.data.n_train,
                                  chunk_size=256, subsample=config.data.subsample)  # fmt: skip
        streamed = True
    train_mean = (
        fit_normalizers(train_set, "pointwise")[1].mean[None] if streamed else train_set.outputs
    )
    baseline = mean_prediction_error(np.asarray(train_mean), test_set.outputs)
    figures = [plot_history(run_dir / "history.png", result.history, baseline)]
    if config.trainer.plot_samples:
        names = dataset_names(path)
        figures.insert(
            0,
            plot_sample_predictions(
                run_dir / "predictions.png", model, test_set.inputs, test_set.outputs,
                errors, config.trainer.plot_samples, names=names,
                conditions=conditions.select(model, test_set.arrays, "the test set"),
            ),
        )  # fmt: skip
    summary = {
        **error_summary(errors, baseline),
        "train_grid": list(test_set.inputs.shape[2:]),
        "data_seconds": data_seconds,
        **engine_summary(result),
    }
    if physics:
        summary.update(residual_summary(physics["physics"], model, test_set, config))
    return model, summary, figures, channels


def loss_description(config: Config) -> str:
    """`rel_l2`, or with `trainer.physics` e.g. `1 × rel_l2 + 0.5 × h-1 residual`."""
    settings = config.trainer.physics
    if not settings.active:
        return config.trainer.loss
    residual = f"{settings.weight:g} × {settings.norm} residual"
    if settings.data_weight == 0:
        return f"{residual} (data-free)"
    return f"{settings.data_weight:g} × {config.trainer.loss} + {residual}"


def residual_summary(residual, model, test_set, config: Config) -> dict[str, float]:
    """Mean physics loss of the model's test predictions and of the test targets themselves
    (the data's own residual on the training grid: the floor a model can reach)."""
    loss = jax.jit(jax.vmap(residual))
    values = conditions.select(model, test_set.arrays, "the test set")
    predictions = predict(model, jnp.asarray(test_set.inputs), config.trainer.eval_batch_size,
                          values)  # fmt: skip
    return {
        "test_residual": float(jnp.mean(loss(test_set.inputs, predictions))),
        "test_residual_of_data": float(jnp.mean(loss(test_set.inputs, test_set.outputs))),
    }


def fit_pair_sweep(config, path, splits, run_dir, console, start, par=None):
    """`sweep.*`: K members in one vmapped program; the best member is the run's model, every
    member's final metrics go to `sweep.csv` and the summary."""
    train_set, val_set, test_set = splits
    data_seconds = time.perf_counter() - start
    channels = train_set.inputs.shape[1], train_set.outputs.shape[1]
    kwargs = models.config_kwargs(config.model)
    build = lambda key: models.build(
        config.model.name, in_channels=channels[0], out_channels=channels[1], key=key, **kwargs
    )
    sweep_config, trainer = config.sweep, config.trainer
    log = MetricsLog(run_dir / "metrics.jsonl") if is_primary() else lambda record: None
    result = fit_sweep(
        build,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        validation=None if val_set is None else (val_set.inputs, val_set.outputs),
        lrs=sweep_config.lrs or None,
        weight_decays=sweep_config.weight_decays or None,
        seeds=sweep_config.seeds or config.seed,
        optim_config=config.optim,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        normalizer=trainer.normalizer,
        loss=trainer.loss,
        lengths=domain_lengths(train_set),
        eval_batch_size=trainer.eval_batch_size,
        eval_every=trainer.eval_every,
        log_every=trainer.log_every,
        on_epoch=lambda member, record: log({"member": member, **record}),
        progress=trainer.progress,
        console=console,
        parallel=par,
    )
    best = result.best()
    model = local_copy(result.member(best))
    if not is_primary():
        return model, {}, [], channels
    members = [
        {
            "member": i,
            "seed": result.seeds[i],
            **{name: float(f"{values[i]:.7g}") for name, values in result.hparams.items()},
            **{k: float(v[i].mean()) for k, v in result.evaluation.items()},
            "diverged_epoch": result.diverged.get(i),
        }
        for i in range(result.size)
    ]
    write_csv(run_dir / "sweep.csv", list(members[0]), [list(m.values()) for m in members])
    errors = result.evaluation["test_rel_l2"][best]
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    figures = [plot_history(run_dir / "history.png", result.history[best], baseline)]
    summary = {
        **error_summary(errors, baseline),
        "train_grid": list(train_set.inputs.shape[2:]),
        "data_seconds": data_seconds,
        "best_member": best,
        "members": members,
        "compile_seconds": result.compile_seconds,
        "epoch_seconds_median": float(np.median(result.epoch_seconds)),
    }
    return model, summary, figures, channels


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
    in_channels = channels if rollout.mode == "all_to_all" else rollout.history * channels
    network, trainable = initial_model(config, in_channels, channels, console)
    objective_items = len(
        trajectory_items(rollout.mode, *trajectories.shape[:2], rollout.history, rollout.steps)
    )
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
        **engine_options(config, run_dir, objective_items, console, par),
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
    summary = {
        **error_summary(monitored, float(persistence.mean())),
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


def domain_lengths(dataset) -> tuple[float, ...]:
    """Side lengths of the domain from the dataset's coordinates (periodic: n·h)."""
    names = sorted(k for k in dataset.coords if k.startswith("x"))
    periodic = dataset.attrs.get("grid") == "periodic"
    lengths = []
    for name in names:
        x = np.asarray(dataset.coords[name])
        h = float(x[1] - x[0]) if len(x) > 1 else 1.0
        lengths.append(float(x[-1] - x[0]) + (h if periodic else 0.0))
    return tuple(lengths) or 1.0


def versus_baseline(summary: dict[str, Any]) -> str:
    """`"<name> baseline 0.2400: 3.0x lower"`, or `"... 2.9x higher"` when the model is worse."""
    name = summary.get("baseline", "mean-prediction")
    error, baseline = summary["test_rel_l2"], summary["baseline_rel_l2"]
    if error > baseline:
        comparison = f"{error / baseline:.1f}x higher: worse than the baseline"
    else:
        comparison = f"{baseline / error:.1f}x lower" if error > 0 else "exact"
    return f"{name} baseline {baseline:.4f}: {comparison}"


def print_summary(console: Console, summary: dict[str, Any], run_dir: Path) -> None:
    console.print(
        f"\n[bold green]{summary.get('metric', 'test relative L2')} {summary['test_rel_l2']:.4f}[/]"
        f"  ({versus_baseline(summary)})\n"
        f"{summary['n_params']:,} parameters, compile {summary['compile_seconds']:.1f} s, "
        f"{summary['epoch_seconds_median']:.2f} s per epoch, total "
        f"{summary['total_seconds']:.0f} s\n"
        + (
            f"test residual {summary['test_residual']:.3g} (the data's own: "
            f"{summary['test_residual_of_data']:.3g})\n"
            if "test_residual" in summary
            else ""
        )
        + f"results: {run_dir}\n"
        f"figure:  {summary['figures'][0]}"
    )
