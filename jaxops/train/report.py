"""Figures of a run: sample predictions with error maps, and training curves (PNG, matplotlib)."""

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_predictions(
    path: str | os.PathLike,
    inputs: np.ndarray,
    targets: np.ndarray,
    predictions: np.ndarray,
    *,
    input_name: str = "input",
    output_name: str = "output",
    errors: Sequence[float] | None = None,
) -> Path:
    """Rows of samples `(N, C, H, W)`; columns: input, truth, prediction, |error| (channel 0)."""
    n = len(inputs)
    fig, axes = plt.subplots(n, 4, figsize=(13, 3.0 * n), squeeze=False)
    titles = [input_name, f"{output_name} (truth)", f"{output_name} (prediction)", "|error|"]
    for row in range(n):
        truth, pred = targets[row, 0], predictions[row, 0]
        lo, hi = truth.min(), truth.max()
        panels = [
            (inputs[row, 0], {}),
            (truth, {"vmin": lo, "vmax": hi}),
            (pred, {"vmin": lo, "vmax": hi}),
            (np.abs(pred - truth), {"cmap": "magma"}),
        ]
        for col, (image, style) in enumerate(panels):
            ax = axes[row, col]
            im = ax.imshow(image.T, origin="lower", extent=(0, 1, 0, 1), **style)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            ax.set_xticks([])
            ax.set_yticks([])
            title = titles[col]
            if col == 3 and errors is not None:
                title += f"  (rel L2 {errors[row]:.3f})"
            if row == 0 or col == 3:
                ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_sample_predictions(
    path: str | os.PathLike,
    model,
    inputs: np.ndarray,
    targets: np.ndarray,
    errors: Sequence[float],
    n_samples: int,
    *,
    names: tuple[str, str] = ("input", "output"),
) -> Path:
    """Predict `n_samples` samples spread over the set and plot them with `plot_predictions`."""
    from .loop import predict

    chosen = np.linspace(0, len(inputs) - 1, min(n_samples, len(inputs))).astype(int)
    predictions = np.asarray(predict(model, inputs[chosen]))
    return plot_predictions(
        path,
        inputs[chosen],
        targets[chosen],
        predictions,
        input_name=names[0],
        output_name=names[1],
        errors=np.asarray(errors)[chosen],
    )


def plot_history(
    path: str | os.PathLike, history: Sequence[dict], baseline: float | None = None
) -> Path:
    """Training loss and test relative L2 against epoch, log scale."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(epochs, [h["train_loss"] for h in history], label="train rel L2")
    ax.semilogy(epochs, [h["test_rel_l2"] for h in history], label="test rel L2")
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", label="mean-prediction baseline")
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative L2 error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
