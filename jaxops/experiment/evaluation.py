"""`jaxops.experiment.evaluate(run_dir, overrides)`, what `jaxops evaluate run=<run_dir>
[key=value ...]` runs: re-evaluate a trained model.

The run's saved `config.yaml` is the starting point. Overrides of `data.*`, `pde.*`,
`trainer.eval_batch_size` and `trainer.plot_samples` change what it is evaluated on, e.g.
`data.subsample=1` evaluates at the full generated resolution (zero-shot super-resolution)
and `data.resolution=... data.n_samples=...` on newly generated data; the model itself comes
from the checkpoint. Results go to `<run_dir>/evaluations/<time>/` (`config.yaml`,
`metrics.json`, `predictions.png`).
"""

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console

from .._config import ConfigError
from .._progress import make_console
from ..train import checkpoint, conditions
from ..train.loop import evaluate_model, predict
from ..train.losses import median_relative_l1
from ..train.metrics import write_json
from ..train.report import plot_rollout_errors, plot_sample_predictions
from ..train.temporal import step_errors
from .assemble import (
    check_model_applies,
    condition_arguments,
    counted,
    dataset_names,
    ensure_dataset,
    load_splits,
    sample_shapes,
)
from .breakdown import breakdown_report
from .by_parameter import trained_params
from .schema import typed, validate_config

# Keys an evaluation may change: the data it is evaluated on, and how it is reported.
EVALUATE_OVERRIDABLE = ("data.", "pde.", "trainer.eval_batch_size=", "trainer.plot_samples=")


def unique_dir(path: Path) -> Path:
    """Create and return `path`, or `path-2`, `path-3`, ... if it exists."""
    candidate, number = path, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            number += 1
            candidate = path.with_name(f"{path.name}-{number}")


def evaluate_trajectories(config, model, test_set, out: Path) -> tuple[np.ndarray, dict]:
    """Rollout (or lead-time) errors of every test trajectory: per-sample means `(N,)`, the
    per-step curve and the final-step error; writes `rollout_errors.png`."""
    rollout = config.trainer.rollout
    times = jnp.asarray(test_set.coords["t"])
    per_step = np.asarray(
        step_errors(
            model, jnp.asarray(test_set.trajectories), times,
            tuple(map(jnp.asarray, conditions.select(model, test_set.arrays, "the test set"))),
            mode=rollout.mode, history=rollout.history,
            batch_size=config.trainer.eval_batch_size,
        )
    )  # fmt: skip
    shown = np.asarray(times)[-per_step.shape[1] :]
    plot_rollout_errors(out / "rollout_errors.png", {config.model.name: per_step}, shown)
    extra = {
        "test_final_rel_l2": float(per_step[:, -1].mean()),
        "rollout_times": shown.tolist(),
        "rollout_rel_l2_mean": per_step.mean(axis=0).tolist(),
    }
    return per_step.mean(axis=1), extra


def evaluate(
    run_dir: str | Path, overrides: Sequence[str] = (), console: Console | None = None
) -> dict[str, Any]:
    """Evaluate the model of `run_dir` on the test split of its (overridden) data config."""
    console = console or make_console()
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise ConfigError(
            f"run={run_dir} has no config.yaml; pass a directory written by "
            "`jaxops train` (runs/<experiment>/<time>)"
        )
    fixed = [o for o in overrides if not o.startswith(EVALUATE_OVERRIDABLE)]
    if fixed:
        raise ConfigError(
            f"evaluate cannot change {fixed}: the model, optimiser and training settings come "
            f"from the checkpoint; overridable keys start with {', '.join(EVALUATE_OVERRIDABLE)}"
        )
    config = typed(OmegaConf.load(saved))
    try:
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"{getattr(error, 'full_key', '')}: {str(error).splitlines()[0]}"
        ) from None
    config = counted(validate_config(config))
    config.data.check_split()
    model = checkpoint.load(run_dir)
    args = condition_arguments(model, config)
    check_model_applies(model, *sample_shapes(config), f"the model of {run_dir}", args)
    path = ensure_dataset(config, console)
    train_set, _, test_set = load_splits(config, path)
    out = unique_dir(
        run_dir / "evaluations" / datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    )
    (out / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))
    if "trajectories" in test_set.arrays:
        errors, extra = evaluate_trajectories(config, model, test_set, out)
        grid = test_set.trajectories.shape[3:]
    else:
        batch = config.trainer.eval_batch_size
        values = conditions.select(model, test_set.arrays, "the test set")
        errors = np.asarray(evaluate_model(model, test_set.inputs, test_set.outputs, batch, values))
        predictions = np.asarray(predict(model, test_set.inputs, batch, values))
        extra = {"test_rel_l1_median": float(median_relative_l1(predictions, test_set.outputs))}
        grid = test_set.inputs.shape[2:]
    metrics = {
        "run": str(run_dir),
        "overrides": list(overrides),
        "test_rel_l2": float(errors.mean()),
        "test_rel_l2_median": float(np.median(errors)),
        **extra,
        "n_test": len(errors),
        "grid": list(grid),
        "dataset": str(path.resolve()),
    }
    # classes against what the model trained on, not the training split of the data given
    trained = trained_params(run_dir)
    metrics.update(breakdown_report(train_set, test_set, errors, out, train_params=trained)[0])
    write_json(out / "metrics.json", metrics)
    if config.trainer.plot_samples and "inputs" in test_set.arrays:
        plot_sample_predictions(
            out / "predictions.png",
            model,
            test_set.inputs,
            test_set.outputs,
            errors,
            config.trainer.plot_samples,
            names=dataset_names(path),
            conditions=conditions.select(model, test_set.arrays, "the test set"),
        )
    console.print(
        f"[bold green]test relative L2 {metrics['test_rel_l2']:.4f}[/] on "
        f"{len(errors)} samples at {tuple(metrics['grid'])}\nresults: {out}"
    )
    return metrics
