"""Test error per PDE parameter value: the question "trained on these viscosities, how good is
it on one it never saw?". Each test sample is classed by its parameters `params` against
the training samples' ones:

- `in_distribution`: the same parameter values appear in training;
- `interpolation`: new values, each inside the training range;
- `extrapolation`: some value outside the training range.

A run writes the mean error of each class in its summary, one row per distinct test
parameter value (and the distinct training values) in `errors_by_param.json`, and
`error_by_param.png` (error against each parameter, training values marked)."""

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.held_out import SAME_VALUE_RTOL
from ..train.metrics import write_json
from ..train.report import plot_error_by_parameter

CLASSES = ("in_distribution", "interpolation", "extrapolation")


def classify(train_params: np.ndarray, test_params: np.ndarray) -> np.ndarray:
    """`(N,)` class names of the test samples' parameters `(N, P)` against the training
    samples' `(M, P)` (see the module docstring)."""
    train = np.asarray(train_params, np.float64)
    test = np.asarray(test_params, np.float64)
    seen = np.isclose(test[:, None], train[None], rtol=SAME_VALUE_RTOL).all(axis=2).any(axis=1)
    inside = ((test >= train.min(axis=0)) & (test <= train.max(axis=0))).all(axis=1)
    return np.where(seen, CLASSES[0], np.where(inside, CLASSES[1], CLASSES[2]))


def parameter_report(
    train_params: np.ndarray | None,
    test_params: np.ndarray | None,
    names: list[str],
    errors: np.ndarray,
    run_dir: Path,
    metric: str = "test_rel_l2",
) -> tuple[dict[str, Any], list[Path]]:
    """`(summary entries, figures)` of the per-sample test `errors` `(N,)` by parameter;
    nothing when the data records no parameters."""
    if train_params is None or test_params is None or np.shape(test_params)[1] == 0:
        return {}, []
    errors = np.asarray(errors, np.float64)
    classes = classify(train_params, test_params)
    values, group = np.unique(np.asarray(test_params), axis=0, return_inverse=True)
    rows = [
        {
            "params": dict(zip(names, map(float, value), strict=True)),
            "class": str(classes[group == g][0]),
            "n": int((group == g).sum()),
            metric: float(errors[group == g].mean()),
        }
        for g, value in enumerate(values)
    ]
    trained = np.unique(np.asarray(train_params, np.float64), axis=0).tolist()
    write_json(run_dir / "errors_by_param.json",
               {"param_names": list(names), "train_params": trained, "rows": rows})  # fmt: skip
    summary = {
        f"{metric}_{name}": float(errors[classes == name].mean())
        for name in CLASSES
        if (classes == name).any()
    }
    figure = plot_error_by_parameter(
        run_dir / "error_by_param.png", np.asarray(test_params), errors, classes,
        np.asarray(train_params), names, metric.replace("_", " "),
    )  # fmt: skip
    return summary, [figure]


def dataset_params(dataset: Any) -> np.ndarray | None:
    """The `params` `(N, P)` of a loaded split (read if lazily stored); None for a streamed
    split (`ChunkedArrays`) or data without parameters."""
    arrays = getattr(dataset, "arrays", None)
    if arrays is None or "params" not in arrays:
        return None
    return np.asarray(arrays["params"])


def trained_params(run_dir: Path) -> np.ndarray | None:
    """The distinct parameter values `(K, P)` a run trained on, as its `errors_by_param.json`
    records them; None for a run without parameters (or written before they were recorded).
    `jaxops evaluate` classes test samples against these, whatever data it is given."""
    path = Path(run_dir) / "errors_by_param.json"
    if not path.is_file():
        return None
    values = json.loads(path.read_text()).get("train_params")
    return None if values is None else np.asarray(values, np.float64)
