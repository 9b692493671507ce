"""Run records: an append-only `metrics.jsonl`, a `summary.json`, CSV tables, the
mean-prediction baseline."""

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class MetricsLog:
    """Appends one JSON object per line and flushes, so a running job can be followed."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def __call__(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(_jsonable(record)) + "\n")


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def mean_prediction_error(train_targets: np.ndarray, test_targets: np.ndarray) -> float:
    """Mean relative L2 error on the test set of always predicting the mean training target."""
    mean = np.mean(train_targets, axis=0)
    diff = (test_targets - mean).reshape(len(test_targets), -1)
    norm = test_targets.reshape(len(test_targets), -1)
    return float(np.mean(np.linalg.norm(diff, axis=1) / np.linalg.norm(norm, axis=1)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence]) -> Path:
    """Write the table as CSV atomically (temporary file, then rename): numbers at full
    precision, missing values empty, lists as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_value(v) for v in row])
    os.replace(tmp, path)
    return path


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
