"""Figures of a run (PNG, matplotlib): sample predictions with error maps (2D and 1D), training
curves, rollout error growth, energy spectra, space-time trajectories and errors against PDE
parameters."""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jaxtyping import ArrayLike  # noqa: E402


def plot_predictions(
    path: str | os.PathLike,
    inputs: ArrayLike,
    targets: ArrayLike,
    predictions: ArrayLike,
    *,
    input_name: str = "input",
    output_name: str = "output",
    errors: ArrayLike | Sequence[float] | None = None,
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
    inputs: ArrayLike,
    targets: ArrayLike,
    errors: ArrayLike | Sequence[float],
    n_samples: int,
    *,
    names: tuple[str, str] = ("input", "output"),
    conditions: tuple = (),
) -> Path:
    """Predict `n_samples` samples spread over the set (with their per-sample `conditions`,
    if the model takes any) and plot them with `plot_predictions`."""
    from .loop import predict

    chosen = np.linspace(0, len(inputs) - 1, min(n_samples, len(inputs))).astype(int)
    values = tuple(np.asarray(c)[chosen] for c in conditions)
    predictions = np.asarray(predict(model, inputs[chosen], conditions=values))
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
    path: str | os.PathLike,
    history: Sequence[dict],
    baseline: float | None = None,
    *,
    loss_name: str = "train loss",
) -> Path:
    """Training loss and every evaluated metric (`test_*`, `val_*`) against epoch, log scale."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(epochs, [h["train_loss"] for h in history], label=loss_name)
    metrics = sorted({k for h in history for k in h if k.startswith(("test_", "val_"))})
    for name in metrics:
        points = [(h["epoch"], h[name]) for h in history if name in h]
        marker = "." if len(points) < 30 else None
        ax.semilogy(*zip(*points, strict=True), marker=marker, label=name)
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", label="mean-prediction baseline")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_rollout_errors(
    path: str | os.PathLike,
    errors: ArrayLike | Mapping[str, ArrayLike],
    times: ArrayLike | None = None,
    *,
    label: str = "model",
    ylabel: str = "relative L2 error",
    title: str | None = None,
) -> Path:
    """Error growth of autoregressive rollouts: median and 10–90% band over samples, log y.

    **Arguments:**

    - `path`: the PNG to write.
    - `errors`: `(N, S)` errors of `N` samples after each of `S` rollout steps, or a dict
        `label -> (N, S)` to compare several models or solvers on one axis.
    - `times`: `(S,)` times of the steps for the x axis; default the step number `1..S`.
    - `label`: the legend entry of a single `errors` array.
    - `ylabel`, `title`: axis label and optional title.

    **Returns:** `path`.
    """
    curves = dict(errors) if isinstance(errors, Mapping) else {label: errors}
    if not curves:
        raise ValueError("errors is empty; pass an (N, S) array or a dict label -> (N, S)")
    if times is not None:
        times = np.asarray(times, dtype=float)
        if times.ndim != 1:
            raise ValueError(f"times must have shape (S,), got shape {times.shape}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[1] == 0:
            raise ValueError(
                f"rollout errors {name!r} must have shape (N, S) (samples, rollout steps), "
                f"got shape {values.shape}"
            )
        steps = values.shape[1]
        if times is not None and len(times) != steps:
            raise ValueError(
                f"times must have shape (S,) = ({steps},) to match the rollout errors "
                f"{name!r}, got shape {times.shape}"
            )
        x = times if times is not None else np.arange(1, steps + 1)
        lo, median, hi = np.nanpercentile(values, [10, 50, 90], axis=0)
        (line,) = ax.plot(x, median, marker="." if steps <= 30 else None, label=f"{name} (median)")
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("time" if times is not None else "rollout step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="shaded: 10–90% of samples", title_fontsize=8, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_energy_spectra(
    path: str | os.PathLike,
    k: ArrayLike,
    spectra: Mapping[str, ArrayLike],
    *,
    title: str | None = None,
    xlabel: str = "wavenumber k",
    ylabel: str = "E(k)",
) -> Path:
    """Energy spectra `E(k)` on log-log axes, e.g. truth against predictions.

    **Arguments:**

    - `path`: the PNG to write.
    - `k`: `(K,)` wavenumbers; non-positive ones (the mean mode) are left out of the plot.
    - `spectra`: `label -> (K,)` spectrum, or `label -> (N, K)` spectra of `N` samples,
        drawn as their mean with a 10–90% band. A label containing "truth" or "reference"
        is drawn as a black dashed line.
    - `title`, `xlabel`, `ylabel`: optional title and axis labels.

    **Returns:** `path`.
    """
    k = np.asarray(k, dtype=float)
    if k.ndim != 1:
        raise ValueError(f"k must have shape (K,), got shape {k.shape}")
    if not spectra:
        raise ValueError("spectra is empty; pass a dict label -> (K,) or (N, K) array")
    shown = k > 0
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in spectra.items():
        values = np.asarray(values, dtype=float)
        if values.ndim not in (1, 2) or values.shape[-1] != len(k):
            raise ValueError(
                f"spectrum {name!r} must have shape (K,) or (N, K) with K = {len(k)} "
                f"wavenumbers, got shape {values.shape}"
            )
        reference = any(word in name.lower() for word in ("truth", "reference"))
        style = {"color": "black", "ls": "--"} if reference else {}
        if values.ndim == 2:
            lo, hi = np.nanpercentile(values, [10, 90], axis=0)
            values = np.nanmean(values, axis=0)
            (line,) = ax.loglog(k[shown], values[shown], label=name, **style)
            ax.fill_between(
                k[shown], lo[shown], hi[shown], color=line.get_color(), alpha=0.15, lw=0
            )
        else:
            ax.loglog(k[shown], values[shown], label=name, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_predictions_1d(
    path: str | os.PathLike,
    inputs: ArrayLike,
    targets: ArrayLike,
    predictions: ArrayLike,
    *,
    x: ArrayLike | None = None,
    channel: int = 0,
    input_name: str = "input",
    output_name: str = "output",
    errors: ArrayLike | Sequence[float] | None = None,
) -> Path:
    """Rows of 1D samples `(N, C, X)`; columns: input, truth and prediction, error.

    **Arguments:**

    - `path`: the PNG to write.
    - `inputs`: `(N, C_in, X_in)` input fields (drawn on the same domain as the outputs).
    - `targets`, `predictions`: `(N, C, X)` true and predicted output fields.
    - `x`: `(X,)` grid of the outputs; default `X` points evenly spaced on `[0, 1]`.
    - `channel`: the channel drawn.
    - `input_name`, `output_name`: panel titles.
    - `errors`: optional per-sample errors, shown in the error panels' titles.

    **Returns:** `path`.
    """
    inputs, targets, predictions = (np.asarray(a) for a in (inputs, targets, predictions))
    if targets.ndim != 3 or predictions.shape != targets.shape:
        raise ValueError(
            "targets and predictions must both have shape (N, C, X), got shapes "
            f"{targets.shape} and {predictions.shape}"
        )
    if inputs.ndim != 3 or len(inputs) != len(targets):
        raise ValueError(
            f"inputs must have shape (N, C, X) with N = {len(targets)}, got shape {inputs.shape}"
        )
    if x is None:
        x = np.linspace(0.0, 1.0, targets.shape[2])
    x = np.asarray(x)
    if x.shape != targets.shape[2:]:
        raise ValueError(f"x must have shape (X,) = {targets.shape[2:]}, got shape {x.shape}")
    x_in = np.linspace(x[0], x[-1], inputs.shape[2])
    n = len(targets)
    fig, axes = plt.subplots(n, 3, figsize=(12, 2.4 * n), squeeze=False, sharex=True)
    for row in range(n):
        truth, pred = targets[row, channel], predictions[row, channel]
        ax_in, ax_out, ax_err = axes[row]
        ax_in.plot(x_in, inputs[row, min(channel, inputs.shape[1] - 1)], color="tab:gray")
        ax_out.plot(x, truth, color="black", label="truth")
        ax_out.plot(x, pred, color="tab:red", ls="--", label="prediction")
        ax_err.plot(x, pred - truth, color="tab:purple")
        ax_err.axhline(0.0, color="gray", lw=0.5)
        error_title = "prediction − truth"
        if errors is not None:
            error_title += f"  (rel L2 {errors[row]:.3f})"
        ax_err.set_title(error_title, fontsize=10)
        if row == 0:
            ax_in.set_title(input_name, fontsize=10)
            ax_out.set_title(output_name, fontsize=10)
            ax_out.legend(fontsize=8)
        for ax in axes[row]:
            ax.grid(True, alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.tight_layout()
    return _save(fig, path)


def plot_trajectory(
    path: str | os.PathLike,
    truth: ArrayLike,
    prediction: ArrayLike,
    *,
    times: ArrayLike | None = None,
    x: ArrayLike | None = None,
    name: str = "u",
    title: str | None = None,
) -> Path:
    """Space-time images of a 1D time-dependent solution: truth, prediction, |error|.

    **Arguments:**

    - `path`: the PNG to write.
    - `truth`, `prediction`: `(T, X)` trajectories (time first).
    - `times`: `(T,)` times for the vertical axis; default the step number `0..T-1`.
    - `x`: `(X,)` grid for the horizontal axis; default the point index `0..X-1`.
    - `name`: the field's name in the panel titles; `title`: optional figure title.

    **Returns:** `path`.
    """
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.ndim != 2 or prediction.shape != truth.shape:
        raise ValueError(
            "truth and prediction must both have shape (T, X) (time, space), got shapes "
            f"{truth.shape} and {prediction.shape}"
        )
    steps, points = truth.shape
    if times is not None and np.shape(times) != (steps,):
        raise ValueError(f"times must have shape (T,) = ({steps},), got {np.shape(times)}")
    if x is not None and np.shape(x) != (points,):
        raise ValueError(f"x must have shape (X,) = ({points},), got {np.shape(x)}")
    # Pixel centres on the given times and grid points.
    extent = (*_edges(x, points), *_edges(times, steps))
    lo, hi = np.nanmin(truth), np.nanmax(truth)
    panels = [
        (truth, f"{name} (truth)", {"vmin": lo, "vmax": hi}),
        (prediction, f"{name} (prediction)", {"vmin": lo, "vmax": hi}),
        (np.abs(prediction - truth), "|error|", {"cmap": "magma"}),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, (image, panel_title, style) in zip(axes, panels, strict=True):
        im = ax.imshow(image, origin="lower", aspect="auto", extent=extent, **style)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("x")
    axes[0].set_ylabel("time" if times is not None else "step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _edges(centres: np.ndarray | None, n: int) -> tuple[float, float]:
    """Outer edges of `n` evenly spaced pixels centred on `centres` (default `0..n-1`)."""
    first, last = (float(centres[0]), float(centres[-1])) if centres is not None else (0, n - 1)
    half = (last - first) / (2 * (n - 1)) if n > 1 else 0.5
    return first - half, last + half


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_error_by_parameter(
    path: str | os.PathLike,
    test_params: np.ndarray,
    errors: np.ndarray,
    classes: np.ndarray,
    train_params: np.ndarray,
    names: Sequence[str],
    metric: str = "test rel L2",
) -> Path:
    """One panel per parameter: each test sample's error `(N,)` against its value `(N, P)`,
    coloured by class (in distribution, interpolation, extrapolation), the mean per distinct
    value joined by a line, and the training values marked on the axis (grey)."""
    n = test_params.shape[1]
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    colours = {"in_distribution": "tab:blue", "interpolation": "tab:green",
               "extrapolation": "tab:red"}  # fmt: skip
    classes = np.asarray(classes)
    for p, ax in enumerate(axes[0]):
        x = test_params[:, p]
        seen = np.unique(train_params[:, p])
        for value in seen[:: max(1, len(seen) // 50)]:  # at most ~50 marks
            ax.axvline(value, color="0.85", lw=1, zorder=0)
        for name, colour in colours.items():
            chosen = classes == name
            if chosen.any():
                ax.scatter(x[chosen], errors[chosen], s=12, color=colour, alpha=0.7,
                           label=name.replace("_", " "))  # fmt: skip
        distinct = np.unique(x)
        means = [errors[x == v].mean() for v in distinct]
        ax.plot(distinct, means, "k-", lw=1, label="mean")
        if (x > 0).all() and (train_params[:, p] > 0).all():
            span = max(x.max(), train_params[:, p].max()) / min(x.min(), train_params[:, p].min())
            if span > 10:
                ax.set_xscale("log")
        ax.set_xlabel(f"{names[p]} (grey: training values)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
