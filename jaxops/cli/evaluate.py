"""`jaxops evaluate run=<run_dir> [key=value ...]`: re-evaluate a trained model.

The run's saved `config.yaml` is the starting point. Overrides of `data.*`, `pde.*`,
`trainer.eval_batch_size` and `trainer.plot_samples` change what it is evaluated on, e.g.
`data.subsample=1` evaluates at the full generated resolution (zero-shot super-resolution)
and `data.resolution=... data.n_samples=...` on newly generated data; the model itself comes
from the checkpoint. Results go to `<run_dir>/evaluations/<time>/` (`config.yaml`,
`metrics.json`, `predictions.png`).
"""

import datetime
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console

from .._config import ConfigError
from .._progress import make_console
from ..train import checkpoint
from ..train.loop import evaluate_model
from ..train.metrics import write_json
from ..train.report import plot_sample_predictions
from .assemble import (
    check_model_applies,
    dataset_names,
    ensure_dataset,
    load_splits,
    sample_shapes,
)
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


def run(
    run_dir: str | Path, overrides: list[str], console: Console | None = None
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
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"{getattr(error, 'full_key', '')}: {str(error).splitlines()[0]}"
        ) from None
    config = validate_config(config)
    config.data.check_split()
    model = checkpoint.load(run_dir)
    check_model_applies(model, *sample_shapes(config), f"the model of {run_dir}")
    path = ensure_dataset(config, console)
    _, test_set = load_splits(config, path)
    errors = np.asarray(
        evaluate_model(model, test_set.inputs, test_set.outputs, config.trainer.eval_batch_size)
    )
    out = unique_dir(
        run_dir / "evaluations" / datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    )
    (out / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))
    metrics = {
        "run": str(run_dir),
        "overrides": overrides,
        "test_rel_l2": float(errors.mean()),
        "test_rel_l2_median": float(np.median(errors)),
        "n_test": len(errors),
        "grid": list(test_set.inputs.shape[2:]),
        "dataset": str(path.resolve()),
    }
    write_json(out / "metrics.json", metrics)
    if config.trainer.plot_samples:
        plot_sample_predictions(
            out / "predictions.png",
            model,
            test_set.inputs,
            test_set.outputs,
            errors,
            config.trainer.plot_samples,
            names=dataset_names(path),
        )
    console.print(
        f"[bold green]test relative L2 {metrics['test_rel_l2']:.4f}[/] on "
        f"{len(errors)} samples at {tuple(metrics['grid'])}\nresults: {out}"
    )
    return metrics
