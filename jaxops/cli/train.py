"""`jaxops train`: generate or load the dataset, fit the model, write the run directory.

Run directory: `config.yaml` (resolved), `metrics.jsonl` (one line per epoch),
`summary.json`, `checkpoint/` (load with `jaxops.train.load(run_dir)`), `predictions.png`
(test samples: input, truth, prediction, error) and `history.png` (training curves).
"""

import time
from pathlib import Path
from typing import Any

import jax
import jax.random as jr
import numpy as np
from omegaconf import OmegaConf
from rich.console import Console

from .. import models
from .._progress import make_console
from ..train import checkpoint
from ..train.loop import count_parameters, fit
from ..train.metrics import MetricsLog, mean_prediction_error, write_json
from ..train.optim import make_optimizer
from ..train.report import plot_history, plot_sample_predictions
from .assemble import (
    build_model,
    check_model_fits_data,
    dataset_names,
    ensure_dataset,
    load_splits,
)
from .schema import Config, check_training


def run(config: Config, run_dir: str | Path, console: Console | None = None) -> dict[str, Any]:
    """Train `config`'s model on its dataset; write and return the summary."""
    check_training(config)
    check_model_fits_data(config)
    console = console or make_console()
    start = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))

    path = ensure_dataset(config, console)
    train_set, test_set = load_splits(config, path)
    data_seconds = time.perf_counter() - start
    in_channels, out_channels = train_set.inputs.shape[1], train_set.outputs.shape[1]
    network = build_model(config, in_channels, out_channels)
    trainer = config.trainer
    console.print(
        f"train: {config.model.name} ({count_parameters(network):,} parameters) on "
        f"{len(train_set)} samples at {train_set.inputs.shape[2:]}, {len(test_set)} test, "
        f"{trainer.epochs} epochs, device {jax.devices()[0].platform}"
    )

    optimizer, schedule = make_optimizer(
        config.optim, len(train_set) // trainer.batch_size, trainer.epochs
    )
    result = fit(
        network,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        optimizer=optimizer,
        schedule=schedule,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        key=jr.fold_in(jr.key(config.seed), 1),
        normalizer=trainer.normalizer,
        eval_batch_size=trainer.eval_batch_size,
        log_every=trainer.log_every,
        on_epoch=MetricsLog(run_dir / "metrics.jsonl"),
        progress=trainer.progress,
        console=console,
    )
    train_seconds = time.perf_counter() - start - data_seconds

    checkpoint.save(
        run_dir / checkpoint.CHECKPOINT_DIR,
        result.model,
        name=config.model.name,
        kwargs=models.config_kwargs(config.model),
        in_channels=in_channels,
        out_channels=out_channels,
    )
    errors = result.test_errors
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    figures = write_figures(run_dir, result, test_set, errors, baseline, path, trainer.plot_samples)
    epoch_seconds = [h["train_seconds"] for h in result.history]
    summary = {
        "experiment": config.name,
        "model": config.model.name,
        "test_rel_l2": float(errors.mean()),
        "test_rel_l2_median": float(np.median(errors)),
        "baseline_rel_l2": baseline,
        "improvement_over_baseline": baseline / float(errors.mean()),
        "n_params": count_parameters(result.model.model),
        "n_train": len(train_set),
        "n_test": len(test_set),
        "train_grid": list(train_set.inputs.shape[2:]),
        "epochs": trainer.epochs,
        "compile_seconds": result.compile_seconds,
        "epoch_seconds_median": float(np.median(epoch_seconds)),
        "train_seconds": train_seconds,
        "data_seconds": data_seconds,
        "total_seconds": time.perf_counter() - start,
        "dataset": str(path.resolve()),
        "device": str(jax.devices()[0]),
        "jax_version": jax.__version__,
        "figures": [str(f) for f in figures],
    }
    write_json(run_dir / "summary.json", summary)
    print_summary(console, summary, run_dir)
    return summary


def write_figures(run_dir, result, test_set, errors, baseline, path, n_plot):
    """`predictions.png` (if `n_plot`) and `history.png`; returns their paths."""
    figures = [plot_history(run_dir / "history.png", result.history, baseline)]
    if n_plot:
        figures.insert(
            0,
            plot_sample_predictions(
                run_dir / "predictions.png",
                result.model,
                test_set.inputs,
                test_set.outputs,
                errors,
                n_plot,
                names=dataset_names(path),
            ),
        )
    return figures


def print_summary(console: Console, summary: dict[str, Any], run_dir: Path) -> None:
    console.print(
        f"\n[bold green]test relative L2 {summary['test_rel_l2']:.4f}[/]  (mean-prediction "
        f"baseline {summary['baseline_rel_l2']:.4f}: "
        f"{summary['improvement_over_baseline']:.1f}x lower)\n"
        f"{summary['n_params']:,} parameters, compile {summary['compile_seconds']:.1f} s, "
        f"{summary['epoch_seconds_median']:.2f} s per epoch, total "
        f"{summary['total_seconds']:.0f} s\n"
        f"results: {run_dir}\n"
        f"figure:  {summary['figures'][0]}"
    )
