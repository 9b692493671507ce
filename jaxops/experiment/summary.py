"""The figures a run reports: test errors against a baseline, the engine's timings, and the
lines `jaxops train` prints at the end."""

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from .by_parameter import CLASSES


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
    """The end of a run's output: the test error against its baseline, the errors on other
    grids (`trainer.eval_subsample`), sizes and timings, the residual, where the files are."""
    grids = "".join(
        f"test relative L2 at {key.split('@', 1)[1]}: {value:.4f}\n"
        for key, value in summary.items()
        if key.startswith("test_rel_l2@")
    )
    classes = [  # for data with PDE parameters
        f"{name.replace('_', ' ')} {summary[f'test_rel_l2_{name}']:.4f}"
        for name in CLASSES
        if f"test_rel_l2_{name}" in summary
    ]
    if classes:
        grids += f"by parameter: {', '.join(classes)} (errors_by_param.json)\n"
    files = summary.get("test_rel_l2_by_file", {})  # data.test_path lists several files
    if files:
        grids += "by test file: " + ", ".join(f"{k} {v:.4f}" for k, v in files.items()) + "\n"
    console.print(
        f"\n[bold green]{summary.get('metric', 'test relative L2')} {summary['test_rel_l2']:.4f}[/]"
        f"  ({versus_baseline(summary)})\n"
        + grids
        + f"{summary['n_params']:,} parameters, compile {summary['compile_seconds']:.1f} s, "
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
