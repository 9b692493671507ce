"""HDF5 dataset files: one file per dataset, written atomically.

Layout (DESIGN.md): `inputs` `(N, C_in, *grid)`, `outputs` `(N, C_out, *grid)`, `params`
`(N, P)`; `coords/x0, x1, ...` the nodal coordinates of each axis; attributes `config` (the
generating config as YAML), `problem`, `input_names`, `output_names`, `param_names`, `seed`,
`jaxops_version`, `created`.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

ARRAYS = ("inputs", "outputs", "params")


class DatasetError(ValueError):
    """A dataset file is missing, incomplete, or does not fit the request."""


@dataclass
class Dataset:
    """Arrays of a dataset (numpy, on host) and its attributes."""

    inputs: np.ndarray
    outputs: np.ndarray
    params: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.inputs)

    def split(self, n_first: int) -> tuple["Dataset", "Dataset"]:
        """The first `n_first` samples and the rest."""
        head = Dataset(*(a[:n_first] for a in self._arrays()), attrs=self.attrs)
        tail = Dataset(*(a[n_first:] for a in self._arrays()), attrs=self.attrs)
        return head, tail

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.inputs, self.outputs, self.params


class DatasetWriter:
    """Preallocates a dataset in `<path>.partial-<pid>`, fills it chunk by chunk and renames
    it to `path` on `close`.

    A run that stops early leaves no file at `path` and never damages an existing one; the
    per-process name keeps concurrent jobs (a parallel sweep) from writing the same file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_samples: int,
        shapes: Mapping[str, tuple[int, ...]],
        *,
        coords: list[np.ndarray],
        attrs: Mapping[str, Any],
        dtype=np.float32,
    ):
        self.path = Path(path)
        self.partial = self.path.with_name(f"{self.path.name}.partial-{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.partial, "w")
        try:
            for name in ARRAYS:
                shape = (n_samples, *shapes[name])
                chunks = (1, *shapes[name]) if np.prod(shapes[name]) > 0 else None
                self.file.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks)
            group = self.file.create_group("coords")
            for axis, x in enumerate(coords):
                group.create_dataset(f"x{axis}", data=np.asarray(x, dtype))
            for key, value in attrs.items():
                self.file.attrs[key] = value
        except BaseException:
            self.abort()
            raise

    def write(self, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        for name in ARRAYS:
            data = np.asarray(arrays[name])
            self.file[name][start : start + len(data)] = data

    def close(self) -> Path:
        self.file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Attributes of a dataset file, without reading its arrays."""
    with h5py.File(_existing(path), "r") as f:
        return {k: _plain(v) for k, v in f.attrs.items()}


def load(path: str | os.PathLike, *, subsample: int = 1, samples: slice = slice(None)) -> Dataset:
    """Read a dataset, optionally a range of `samples` and every `subsample`-th grid node.

    Nodal grids keep their boundary nodes only when `(n − 1)` is divisible by `subsample`
    (421 → 85 with `subsample=5`, as in the FNO paper); otherwise this raises.
    """
    path = _existing(path)
    if not isinstance(subsample, int) or subsample < 1:
        raise DatasetError(f"subsample must be a positive int, got {subsample!r}")
    with h5py.File(path, "r") as f:
        grid = f["inputs"].shape[2:]
        for n in grid:
            if (n - 1) % subsample:
                raise DatasetError(
                    f"{path}: a nodal grid of {n} points cannot be subsampled by {subsample} "
                    f"(need (n - 1) divisible by subsample); valid: "
                    f"{[s for s in range(1, n) if (n - 1) % s == 0][:8]}"
                )
        stride = (samples, slice(None)) + (slice(None, None, subsample),) * len(grid)
        arrays = [f[name][stride[: f[name].ndim]] for name in ARRAYS]
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
    return Dataset(*arrays, attrs=attrs)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        unfinished = list(path.parent.glob(f"{path.name}.partial-*"))
        hint = f" (unfinished: {unfinished[0].name}; rerun the generation)" if unfinished else ""
        raise DatasetError(f"no dataset at {path}{hint}; create it with `jaxops generate`")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
