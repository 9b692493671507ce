"""HDF5 dataset files: one file per dataset, written atomically.

Layout (DESIGN.md): one array per sample field, each with the sample axis first —
`inputs` `(N, C_in, *grid)` and `outputs` `(N, C_out, *grid)` for steady problems,
`trajectories` `(N, T, C, *grid)` for time-dependent ones, and `params` `(N, P)`;
`coords/x0, x1, ...` the coordinates of each spatial axis and `coords/t` the save times;
attributes `config` (the generating config as YAML), `problem`, `grid` (`nodal` or
`periodic`), channel and parameter names, `seed`, `jaxops_version`, `created`.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np


class DatasetError(ValueError):
    """A dataset file is missing, incomplete, or does not fit the request."""


@dataclass
class Dataset:
    """Per-sample arrays (numpy, sample axis first), coordinates and attributes of a dataset.

    Arrays are also attributes: `dataset.inputs`, `dataset.trajectories`, `dataset.params`.
    """

    arrays: dict[str, np.ndarray]
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"dataset has no array {name!r}; it has {sorted(arrays)}")

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def split(self, n_first: int) -> tuple["Dataset", "Dataset"]:
        """The first `n_first` samples and the rest."""
        head = {k: v[:n_first] for k, v in self.arrays.items()}
        tail = {k: v[n_first:] for k, v in self.arrays.items()}
        return Dataset(head, self.coords, self.attrs), Dataset(tail, self.coords, self.attrs)

    def partition(self, mask: np.ndarray) -> tuple["Dataset", "Dataset"]:
        """The samples where the boolean `mask` `(N,)` holds, and the others (order kept)."""
        kept = {k: v[mask] for k, v in self.arrays.items()}
        rest = {k: v[~mask] for k, v in self.arrays.items()}
        return Dataset(kept, self.coords, self.attrs), Dataset(rest, self.coords, self.attrs)


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
        coords: Mapping[str, np.ndarray],
        attrs: Mapping[str, Any],
        dtype=np.float32,
    ):
        self.path = Path(path)
        self.names = tuple(shapes)
        self.partial = self.path.with_name(f"{self.path.name}.partial-{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.partial, "w")
        try:
            for name, shape in shapes.items():
                chunks = (1, *shape) if np.prod(shape) > 0 else None
                self.file.create_dataset(
                    name, shape=(n_samples, *shape), dtype=dtype, chunks=chunks
                )
            group = self.file.create_group("coords")
            for name, values in coords.items():
                group.create_dataset(name, data=np.asarray(values, dtype))
            for key, value in attrs.items():
                self.file.attrs[key] = value
        except BaseException:
            self.abort()
            raise

    def write(self, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        for name in self.names:
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
    with h5py.File(existing_dataset(path), "r") as f:
        return {k: _plain(v) for k, v in f.attrs.items()}


def read_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every array of a dataset file (sample axis dropped)."""
    with h5py.File(existing_dataset(path), "r") as f:
        return {name: f[name].shape[1:] for name in f if isinstance(f[name], h5py.Dataset)}


def sample_count(path: str | os.PathLike) -> int:
    """The number of samples of a dataset file."""
    with h5py.File(existing_dataset(path), "r") as f:
        return min(f[name].shape[0] for name in f if isinstance(f[name], h5py.Dataset))


def subsampled(n: int, stride: int, grid: str) -> int:
    """Points left on an axis of `n` points after keeping every `stride`-th one.

    Nodal grids keep both boundary nodes, so `(n − 1)` must be divisible by `stride`
    (421 → 85 with stride 5, as in the FNO paper); periodic grids need `n` divisible.
    """
    span = n - 1 if grid == "nodal" else n
    if span % stride:
        valid = [s for s in range(1, n) if span % s == 0][:8]
        raise DatasetError(
            f"a {grid} grid of {n} points cannot be subsampled by {stride} "
            f"(need {'n - 1' if grid == 'nodal' else 'n'} divisible by it); valid: {valid}"
        )
    return span // stride + (1 if grid == "nodal" else 0)


def load(
    path: str | os.PathLike,
    *,
    subsample: int = 1,
    samples: slice = slice(None),
    lazy: bool = False,
) -> Dataset:
    """Read a dataset, optionally a range of `samples` and every `subsample`-th grid point
    (see `subsampled` for the sizes that are allowed). With `lazy`, the per-sample arrays are
    `Rows` views that read only the rows asked for (each process of a multi-host run reads
    the samples its devices hold)."""
    path = existing_dataset(path)
    if not isinstance(subsample, int) or subsample < 1:
        raise DatasetError(f"subsample must be a positive int, got {subsample!r}")
    with h5py.File(path, "r") as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        coords = {name: f["coords"][name][:] for name in f["coords"]}
        spatial = sorted(name for name in coords if name.startswith("x"))
        grid = attrs.get("grid", "nodal")
        for name in spatial:
            subsampled(len(coords[name]), subsample, grid)
        stride = (slice(None, None, subsample),) * len(spatial)
        arrays = {}
        for name in f:
            if not isinstance(f[name], h5py.Dataset):
                continue
            ds = f[name]
            gridded = ds.ndim >= len(spatial) + 2  # sample, channel(s), *grid
            index = (samples,) + (slice(None),) * (ds.ndim - 1 - len(spatial) * gridded)
            if lazy:
                first, last, _ = samples.indices(len(ds))
                arrays[name] = Rows(
                    path, name, first, last, index[1:] + (stride if gridded else ())
                )
            else:
                arrays[name] = ds[index + (stride if gridded else ())]
    for name in spatial:
        coords[name] = coords[name][::subsample]
    return Dataset(arrays, coords, attrs)


class Rows:
    """Samples `[start, stop)` of one array of a dataset file, read only when indexed: a
    slice of rows gives another `Rows`, a tuple of slices (as `jax.make_array_from_callback`
    passes) the numpy block. `tail` indexes the other axes (e.g. strides subsampling the
    grid)."""

    def __init__(self, path: Path, name: str, start: int, stop: int, tail: tuple = ()):
        self.path, self.name, self.start, self.tail = path, name, start, tail
        with h5py.File(path, "r") as f:
            sample = f[name][(slice(start, start + 1), *tail)]
        self.shape = (stop - start, *sample.shape[1:])
        self.dtype = sample.dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self[(slice(None),)], dtype)

    def __getitem__(self, index):
        if isinstance(index, slice):
            first, last, step = index.indices(len(self))
            if step != 1:
                raise IndexError("Rows supports contiguous row ranges only")
            return Rows(self.path, self.name, self.start + first, self.start + last, self.tail)
        index = index if isinstance(index, tuple) else (index,)
        first, last, step = index[0].indices(len(self))
        rows = slice(self.start + first, self.start + last, step)
        with h5py.File(self.path, "r") as f:
            block = f[self.name][(rows, *self.tail)]
        return block[(slice(None), *index[1:])]


def existing_dataset(path: str | os.PathLike) -> Path:
    """`path` as a `Path` if a dataset file exists there; otherwise a `DatasetError` that
    names an unfinished generation (`<path>.partial-*`) if there is one."""
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


def domain_lengths(dataset) -> tuple[float, ...]:
    """Side lengths of the domain from the dataset's coordinates (periodic: n·h)."""
    names = sorted(k for k in dataset.coords if k.startswith("x"))
    periodic = dataset.attrs.get("grid") == "periodic"
    lengths = []
    for name in names:
        x = np.asarray(dataset.coords[name])
        h = float(x[1] - x[0]) if len(x) > 1 else 1.0
        lengths.append(float(x[-1] - x[0]) + (h if periodic else 0.0))
    return tuple(lengths) or 1.0


def existing_file(path: str | os.PathLike, what: str) -> Path:
    """`path` as a `Path` if a file is there; otherwise a `DatasetError` naming `what` (the
    readers of published files: "PDEBench HDF5 file", ...)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no {what} at {path}; check the path, or download the file first")
    return path


def sample_selection(samples: slice, n: int, path: Path) -> slice:
    """`samples` checked against a file of `n` samples, as a slice h5py can read."""
    if not isinstance(samples, slice) or (samples.step or 1) < 1:
        raise DatasetError(f"samples must be a slice with a positive step, got {samples!r}")
    selection = slice(*samples.indices(n))
    if not range(n)[selection]:
        raise DatasetError(f"samples={samples} selects none of the {n} samples in {path}")
    return selection
