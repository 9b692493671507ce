"""The test error broken down by what test samples share: their PDE parameters
(`by_parameter`) and, when `data.test_path` lists several files, the file they come from."""

from pathlib import Path
from typing import Any

import numpy as np

from .by_parameter import dataset_params, parameter_report


def breakdown_report(
    train_set: Any,
    test_set: Any,
    errors: np.ndarray,
    run_dir: Path,
    metric: str = "test_rel_l2",
    train_params: np.ndarray | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """`(summary entries, figures)` of the per-sample test `errors` `(N,)`: by parameter
    class and value (`by_parameter.parameter_report`; classes against `train_params`, by
    default the parameters of `train_set`) and `<metric>_by_file`."""
    trained = dataset_params(train_set) if train_params is None else train_params
    summary, figures = parameter_report(
        trained, dataset_params(test_set),
        test_set.attrs.get("param_names", []), errors, run_dir, metric,
    )  # fmt: skip
    return {**summary, **file_report(test_set.attrs, errors, metric)}, figures


def file_report(attrs: dict, errors: np.ndarray, metric: str) -> dict[str, Any]:
    """`{"<metric>_by_file": {file name: mean error}}` when the test set is the files of
    `attrs["source_file"]` concatenated (`attrs["source_samples"]` each); else nothing."""
    files, sizes = attrs.get("source_file"), attrs.get("source_samples")
    if not isinstance(files, list) or sizes is None or sum(sizes) != len(errors):
        return {}
    ends = np.cumsum(sizes)
    errors = np.asarray(errors, np.float64)
    return {
        f"{metric}_by_file": {
            Path(name).name: float(errors[end - size : end].mean())
            for name, size, end in zip(files, sizes, ends, strict=True)
        }
    }
