"""Held-out samples by PDE parameter: `data.test_params` picks the test set by the values
of the samples' `params` instead of by position, e.g. `{nu: [0.01]}` (given values) or
`{nu: {low: 0.05, high: 0.1}}` (a range, `low <= nu <= high`). Several names must all
match. This is how generalisation to unseen parameters is measured: train on some
viscosities, test on others (interpolation between them, extrapolation beyond)."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .store import DatasetError

# Stored parameters are float32 while configs are float64: values closer than this
# (relative) are the same value.
SAME_VALUE_RTOL = 1e-5


def held_out_mask(
    params: np.ndarray, names: Sequence[str], selection: Mapping[str, Any], source: str = ""
) -> np.ndarray:
    """`(N,)` booleans: the samples whose `params` `(N, P)` (columns named `names`) match
    every entry of `selection` (name → list of values, or `{low, high}`). A `DatasetError`
    names an unknown parameter, a malformed entry, or a selection that takes no sample or
    every sample (`source`: the data, for the message)."""
    mask = np.ones(len(params), bool)
    for name, wanted in selection.items():
        if name not in names:
            raise DatasetError(
                f"data.test_params.{name}: {source} records parameters {list(names)}; "
                "hold out by one of them"
            )
        column = np.asarray(params[:, list(names).index(name)], np.float64)
        mask &= _matches(column, wanted, f"data.test_params.{name}")
    values = lambda m: _shown(params[m], names, selection)  # noqa: E731
    if not mask.any():
        raise DatasetError(
            f"data.test_params={dict(selection)} matches no sample of {source} (its values: "
            f"{values(np.ones(len(params), bool))}); choose values the data holds"
        )
    if mask.all():
        raise DatasetError(
            f"data.test_params={dict(selection)} holds out every sample of {source}, leaving "
            "none to train on; choose fewer values"
        )
    return mask


def _matches(column: np.ndarray, wanted: Any, key: str) -> np.ndarray:
    if isinstance(wanted, Mapping) and set(wanted) == {"low", "high"}:
        return (column >= wanted["low"]) & (column <= wanted["high"])
    values = wanted if isinstance(wanted, list | tuple) else [wanted]
    if not values or not all(isinstance(v, int | float) for v in values):
        raise DatasetError(
            f"{key}={wanted!r}: give a value, a list of values or {{low: a, high: b}}"
        )
    close = np.isclose(column[:, None], np.asarray(values, np.float64)[None], rtol=SAME_VALUE_RTOL)
    return close.any(axis=1)


def _shown(params: np.ndarray, names: Sequence[str], selection: Mapping[str, Any]) -> str:
    """The distinct values of the selected parameters (at most 8 each)."""
    shown = []
    for name in selection:
        if name in names:
            distinct = np.unique(params[:, list(names).index(name)])
            more = f", ... ({len(distinct)} values)" if len(distinct) > 8 else ""
            shown.append(f"{name}: {', '.join(f'{v:.4g}' for v in distinct[:8])}{more}")
    return "; ".join(shown)
