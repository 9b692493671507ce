"""Readers for published PDE datasets, returning a `store.Dataset` in the jaxops layout.

- **PDEBench** HDF5 files (Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific
  Machine Learning", NeurIPS 2022 Datasets and Benchmarks), read by `load_pdebench`: the 1D
  time-dependent files (advection, Burgers, reaction-diffusion), 2D Darcy flow, the
  compressible CFD files (1D/2D/3D) and the files with one group per sample (2D
  diffusion-reaction, shallow water, 1D diffusion-sorption).
- **FNO** MATLAB files (Li et al., "Fourier Neural Operator for Parametric Partial
  Differential Equations", ICLR 2021), MAT v5 and v7.3, read by `load_fno_mat`: Darcy flow,
  2D Navier–Stokes (vorticity) and 1D Burgers.

`write_dataset` stores any `Dataset` as a jaxops HDF5 file, so that converted data can be
used with `jaxops train data.path=<file>`.

Arrays keep the dtype stored in the file. The `grid` attribute is `periodic`, `nodal` (boundary
nodes included, x_i = i/(n − 1)) or `cell`: cell-centred and not periodic, x_i = (i + ½)·h, as in
PDEBench's Darcy and per-sample-group files. PDEBench's periodic grids are cell-centred too;
their coordinates are kept as stored. `store.subsampled` treats a `cell` grid like a periodic
one: subsampling needs n divisible by the stride, and keeps every stride-th cell centre (the
kept points are then offset by −(stride − 1)·h/2 from the centres of the coarse cells).
"""

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from .store import Dataset, DatasetError, DatasetWriter, existing_file, sample_selection

PDEBENCH_LAYOUTS = (
    "1D time-dependent: tensor [N, T, X], x-coordinate [X], t-coordinate [T or T+1]",
    "2D Darcy: nu [N, X, Y], tensor [N, 1, X, Y], x-coordinate, y-coordinate",
    "CFD: Vx[, Vy[, Vz]], density, pressure, each [N, T, *grid], x-/y-/z-coordinate, t-coordinate",
    "one group per sample: <0000>/data [T, *grid, C], <0000>/grid/x[, y[, z]], <0000>/grid/t",
)
FNO_LAYOUTS = (
    "Darcy: coeff [N, s, s], sol [N, s, s]",
    "Navier-Stokes: a [N, s, s], u [N, s, s, T], t [T]",
    "Burgers: a [N, s], u [N, s]",
    "any other file: input_key= and output_key= naming two arrays [N, *grid] of equal shape",
)
CFD_FIELDS = ("Vx", "Vy", "Vz", "density", "pressure")


def load_pdebench(path: str | os.PathLike, *, samples: slice = slice(None)) -> Dataset:
    """Read a PDEBench HDF5 file; the layout is detected from the names of its datasets.

    **Arguments:** `path`; `samples`, the samples to read (only those are read from disk).

    **Returns:** a `Dataset` with `params` `(N, 0)` and, by layout:

    - 1D time-dependent (`tensor` `[N, T, X]`): `trajectories` `(N, T, 1, X)`, coords `x0`
      and `t`. These files store T + 1 entries in `t-coordinate` for T saved steps; the
      first T are used. Grid `periodic`.
    - 2D Darcy (`nu` `[N, X, Y]`, `tensor` `[N, 1, X, Y]`): `inputs` `(N, 1, X, Y)` (the
      coefficient a), `outputs` `(N, 1, X, Y)` (the solution u), coords `x0`, `x1`.
      Grid `cell`.
    - CFD (`Vx`, [`Vy`, [`Vz`]], `density`, `pressure`, each `[N, T, *grid]`):
      `trajectories` `(N, T, C, *grid)` with the channels in that order, coords `x0, ...`
      and `t`. Grid `periodic`.
    - one group per sample (`0000/data` `[T, *grid, C]`, `0000/grid/{x, y, z, t}`):
      `trajectories` `(N, T, C, *grid)`, channels named `c0, c1, ...`. Grid `cell`.

    Attributes: `source="pdebench"`, `source_file`, `layout`, `grid`, `param_names` (empty:
    PDEBench records its parameters in the file name) and `<array>_channels`.
    """
    path = existing_file(path, "PDEBench HDF5 file")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path} is not an HDF5 file; PDEBench files are HDF5 (.hdf5, .h5)")
    with h5py.File(path, "r") as f:
        names = sorted(f)
        if {"nu", "tensor"} <= set(names):
            return _pdebench_darcy(f, path, samples)
        if "tensor" in names:
            return _pdebench_tensor(f, path, samples)
        if {"Vx", "density", "pressure"} <= set(names):
            return _pdebench_cfd(f, path, samples)
        if names and all(isinstance(f[n], h5py.Group) and "data" in f[n] for n in names):
            return _pdebench_groups(f, path, samples)
    raise DatasetError(
        f"{path} has an unknown layout: it holds {names}. Supported PDEBench layouts: "
        + "; ".join(PDEBENCH_LAYOUTS)
        + ". Read other files with h5py and build a `Dataset` yourself."
    )


def _pdebench_tensor(f: h5py.File, path: Path, samples: slice) -> Dataset:
    tensor = _dataset(f, "tensor", 3, path)
    selection = sample_selection(samples, tensor.shape[0], path)
    coords = _coords(f, ("x-coordinate", "t-coordinate"), tensor.shape[2:], tensor.shape[1], path)
    trajectories = tensor[selection][:, :, None]
    attrs = _attrs("pdebench", path, "1D time-dependent", "periodic", trajectories=["u"])
    return Dataset({"trajectories": trajectories, **_no_params(trajectories)}, coords, attrs)


def _pdebench_darcy(f: h5py.File, path: Path, samples: slice) -> Dataset:
    nu, tensor = _dataset(f, "nu", 3, path), _dataset(f, "tensor", 4, path)
    if tensor.shape != (nu.shape[0], 1, *nu.shape[1:]):
        raise DatasetError(
            f"{path}: a Darcy file needs tensor [N, 1, X, Y] to match nu [N, X, Y], got "
            f"tensor {tensor.shape} and nu {nu.shape}"
        )
    selection = sample_selection(samples, nu.shape[0], path)
    coords = _coords(f, ("x-coordinate", "y-coordinate"), nu.shape[1:], None, path)
    arrays = {"inputs": nu[selection][:, None], "outputs": tensor[selection]}
    attrs = _attrs("pdebench", path, "2D Darcy", "cell", inputs=["a"], outputs=["u"])
    return Dataset({**arrays, **_no_params(arrays["inputs"])}, coords, attrs)


def _pdebench_cfd(f: h5py.File, path: Path, samples: slice) -> Dataset:
    fields = [name for name in CFD_FIELDS if name in f]
    velocities = len(fields) - 2
    shapes = {name: _dataset(f, name, velocities + 2, path).shape for name in fields}
    if len(set(shapes.values())) > 1:
        raise DatasetError(f"{path}: the CFD fields must have equal shapes, got {shapes}")
    n, steps, *grid = shapes["Vx"]
    selection = sample_selection(samples, n, path)
    names = ("x-coordinate", "y-coordinate", "z-coordinate")[:velocities] + ("t-coordinate",)
    coords = _coords(f, names, grid, steps, path)
    trajectories = np.stack([f[name][selection] for name in fields], axis=2)
    attrs = _attrs("pdebench", path, f"{velocities}D CFD", "periodic", trajectories=fields)
    return Dataset({"trajectories": trajectories, **_no_params(trajectories)}, coords, attrs)


def _pdebench_groups(f: h5py.File, path: Path, samples: slice) -> Dataset:
    keys = sorted(f)
    shape = f[keys[0]]["data"].shape
    odd = [k for k in keys if f[k]["data"].shape != shape or "grid" not in f[k]]
    if len(shape) < 3 or odd:
        raise DatasetError(
            f"{path}: every group needs data [T, *grid, C] of one shape and a grid group; "
            f"group {keys[0]} has data {shape}, groups {odd[:5]} differ"
        )
    keys = keys[sample_selection(samples, len(keys), path)]
    steps, *grid, channels = shape
    names = ("x", "y", "z")[: len(grid)] + ("t",)
    coords = _coords(f[keys[0]]["grid"], names, grid, steps, path)
    trajectories = np.moveaxis(np.stack([f[k]["data"][()] for k in keys]), -1, 2)
    attrs = _attrs(
        "pdebench",
        path,
        "one group per sample",
        "cell",
        trajectories=[f"c{i}" for i in range(channels)],
    )
    return Dataset({"trajectories": trajectories, **_no_params(trajectories)}, coords, attrs)


def load_fno_mat(
    path: str | os.PathLike,
    *,
    input_key: str | None = None,
    output_key: str | None = None,
    samples: slice = slice(None),
) -> Dataset:
    """Read one of the FNO paper's MATLAB files, v5 (scipy) or v7.3 (HDF5, h5py).

    **Arguments:** `path`; `input_key`, `output_key` (together): names of two arrays
    `[N, *grid]` of equal shape to read as inputs and outputs instead of a known layout;
    `samples`, the samples to read. From a v7.3 file only those are read from disk; scipy
    reads each needed v5 array whole before the selection is taken.

    **Returns:** a `Dataset` with `params` `(N, 0)` and, by the keys of the file:

    - Darcy (`coeff`, `sol` `[N, s, s]`, e.g. `piececonst_r421_N1024_smooth1.mat`):
      `inputs`, `outputs` `(N, 1, s, s)`; grid `nodal` on [0, 1]², coords `linspace(0, 1, s)`.
    - Navier–Stokes (`a` `[N, s, s]` the initial vorticity, `u` `[N, s, s, T]`, `t` `[T]`,
      e.g. `ns_V1e-3_N5000_T50.mat`): `trajectories` `(N, T + 1, 1, s, s)` with `a`
      prepended as the state at t = 0; coords `t = [0, *t]`, grid `periodic`, x_i = i/s.
    - Burgers (`a`, `u` `[N, s]`, e.g. `burgers_data_R10.mat`): `inputs` (u at t = 0),
      `outputs` (u at t = 1) `(N, 1, s)`; grid `periodic`, x_i = i/s.
    - `input_key`/`output_key`: `inputs`, `outputs` `(N, 1, *grid)`, grid `nodal` on
      [0, 1]^d (set `dataset.attrs["grid"]` if the file's grid is periodic).

    Shapes are given in MATLAB's axis order; v7.3 files store arrays transposed, which is
    undone here. Attributes: `source="fno"`, `source_file`, `layout`, `grid`,
    `param_names` (empty) and `<array>_channels`.
    """
    path = existing_file(path, "MATLAB file")
    if (input_key is None) != (output_key is None):
        raise DatasetError("give both input_key and output_key, or neither")
    with _open_mat(path) as (shapes, read):
        keys = set(shapes)
        if input_key is not None:
            layout, grid, ins, outs = "input_key/output_key", "nodal", input_key, output_key
        elif {"coeff", "sol"} <= keys:
            layout, grid, ins, outs = "Darcy", "nodal", "coeff", "sol"
        elif {"a", "u", "t"} <= keys and len(shapes["u"]) == len(shapes["a"]) + 1:
            return _fno_navier_stokes(shapes, read, path, samples)
        elif {"a", "u"} <= keys and len(shapes["a"]) == 2:
            layout, grid, ins, outs = "Burgers", "periodic", "a", "u"
        else:
            raise DatasetError(
                f"{path} has an unknown layout: it holds {sorted(keys)}. Known FNO layouts: "
                + "; ".join(FNO_LAYOUTS)
            )
        for key in (ins, outs):
            if key not in shapes or len(shapes[key]) < 2:
                raise DatasetError(
                    f"{path}: {key!r} must be an array [N, *grid]; it holds {shapes}"
                )
        if shapes[ins] != shapes[outs]:
            raise DatasetError(
                f"{path}: {ins!r} {shapes[ins]} and {outs!r} {shapes[outs]} must have equal "
                "shapes [N, *grid]"
            )
        selection = sample_selection(samples, shapes[ins][0], path)
        arrays = {"inputs": read(ins, selection), "outputs": read(outs, selection)}
    arrays = {name: array[:, None] for name, array in arrays.items()}
    spatial = shapes[ins][1:]
    points = (lambda n: np.linspace(0, 1, n)) if grid == "nodal" else (lambda n: np.arange(n) / n)
    coords = {f"x{i}": points(n) for i, n in enumerate(spatial)}
    names = {"Darcy": (["a"], ["u"]), "Burgers": (["u0"], ["u"])}.get(layout, ([ins], [outs]))
    attrs = _attrs("fno", path, layout, grid, inputs=names[0], outputs=names[1])
    return Dataset({**arrays, **_no_params(arrays["inputs"])}, coords, attrs)


def _fno_navier_stokes(shapes: dict, read: Callable, path: Path, samples: slice) -> Dataset:
    a, u, t = shapes["a"], shapes["u"], shapes["t"]
    steps = u[-1]
    if u[:-1] != a or np.prod(t) != steps:
        raise DatasetError(
            f"{path}: Navier-Stokes files need a [N, *grid], u [N, *grid, T] and t [T]; "
            f"got a {a}, u {u}, t {t}"
        )
    selection = sample_selection(samples, a[0], path)
    initial, later = read("a", selection)[:, None], np.moveaxis(read("u", selection), -1, 1)
    trajectories = np.concatenate([initial, later], axis=1)[:, :, None]
    coords = {f"x{i}": np.arange(n) / n for i, n in enumerate(a[1:])}
    coords["t"] = np.concatenate([[0.0], read("t", slice(None)).ravel()])
    attrs = _attrs("fno", path, "Navier-Stokes", "periodic", trajectories=["w"])
    return Dataset({"trajectories": trajectories, **_no_params(trajectories)}, coords, attrs)


@contextlib.contextmanager
def _open_mat(path: Path) -> Iterator[tuple[dict[str, tuple[int, ...]], Callable]]:
    """`(shapes, read)`: the MATLAB shape of every array, and `read(name, samples)`, which
    returns that array's `samples` along its first MATLAB axis, in MATLAB's axis order."""
    if h5py.is_hdf5(path):  # MAT v7.3: arrays stored with their axes reversed
        with h5py.File(path, "r") as f:
            arrays = [k for k in f if isinstance(f[k], h5py.Dataset)]
            shapes = {k: f[k].shape[::-1] for k in arrays}
            yield shapes, lambda name, selection: f[name][..., selection].T
        return
    try:
        shapes = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
    except (ValueError, OSError, scipy.io.matlab.MatReadError) as error:
        raise DatasetError(
            f"{path} is neither a MATLAB v5 nor a v7.3 (HDF5) file: {error}"
        ) from None

    def read(name: str, selection: slice) -> np.ndarray:
        return scipy.io.loadmat(path, variable_names=[name])[name][selection]

    yield shapes, read


def write_dataset(dataset: Dataset, path: str | os.PathLike) -> Path:
    """Write `dataset` as a jaxops HDF5 file (layout: `store`), atomically.

    **Arguments:** `dataset` (e.g. from `load_pdebench` or `load_fno_mat`), `path`.

    Arrays and coordinates are stored in the arrays' common floating dtype (at least
    float32). Attributes are copied: None becomes "", tuples become lists; a value HDF5
    cannot store (a dict, say) raises `DatasetError`.

    **Returns:** `path`, readable with `jaxops.data.load` and `jaxops train data.path=<path>`.
    """
    writer = dataset_writer(dataset, path, len(dataset))
    try:
        for start in range(0, len(dataset), 256):
            writer.write(start, {k: v[start : start + 256] for k, v in dataset.arrays.items()})
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def dataset_writer(like: Dataset, path: str | os.PathLike, n_samples: int) -> DatasetWriter:
    """A `DatasetWriter` for `n_samples` samples with the per-sample shapes, coordinates and
    attributes of `like` (stored as `write_dataset` stores them)."""
    attrs = {key: _storable(key, value) for key, value in like.attrs.items()}
    dtype = np.result_type(np.float32, *like.arrays.values())
    shapes = {name: array.shape[1:] for name, array in like.arrays.items()}
    return DatasetWriter(path, n_samples, shapes, coords=like.coords, attrs=attrs, dtype=dtype)


def samples_in(path: str | os.PathLike) -> int:
    """The number of samples in a PDEBench HDF5 or FNO MATLAB file, from its metadata."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        with _open_mat(path) as (shapes, _):
            for key in ("coeff", "a"):
                if key in shapes:
                    return shapes[key][0]
        raise DatasetError(
            f"{path} has an unknown layout: it holds {sorted(shapes)}. Known FNO layouts: "
            + "; ".join(FNO_LAYOUTS)
        )
    with h5py.File(path, "r") as f:
        for name in ("tensor", "Vx"):
            if name in f:
                return f[name].shape[0]
        return len(f)  # one group per sample


def _storable(key: str, value: Any) -> Any:
    value = "" if value is None else list(value) if isinstance(value, tuple) else value
    if np.asarray(value).dtype == object:
        raise DatasetError(
            f"attribute {key!r} = {value!r} cannot be stored in HDF5; "
            "replace it with a str, a number or a list of them"
        )
    return value


def _dataset(f: h5py.Group, name: str, ndim: int, path: Path) -> h5py.Dataset:
    if not isinstance(f.get(name), h5py.Dataset) or f[name].ndim != ndim:
        found = f[name].shape if isinstance(f.get(name), h5py.Dataset) else "missing"
        raise DatasetError(f"{path}: {name!r} must be an array with {ndim} axes; got {found}")
    return f[name]


def _coords(
    group: h5py.Group, names: tuple[str, ...], grid: Sequence[int], steps: int | None, path: Path
) -> dict[str, np.ndarray]:
    """Coordinates `x0, x1, ...` of the `grid` axes from the first names, and `t` from the
    last when `steps` is given; a time coordinate may hold one spare final entry."""
    sizes = [(f"x{i}", name, n, 0) for i, (name, n) in enumerate(zip(names, grid, strict=False))]
    if steps is not None:
        sizes.append(("t", names[-1], steps, 1))
    coords = {}
    for key, name, n, spare in sizes:
        values = group.get(name)
        found = values.shape if isinstance(values, h5py.Dataset) else "missing"
        if found == "missing" or len(found) != 1 or not 0 <= found[0] - n <= spare:
            raise DatasetError(
                f"{path}: coordinate {name!r} must hold {n}{f' or {n + 1}' if spare else ''} "
                f"entries for an axis of {n} points; got {found}"
            )
        coords[key] = values[:n]
    return coords


def _no_params(array: np.ndarray) -> dict[str, np.ndarray]:
    return {"params": np.zeros((len(array), 0), array.dtype)}


def _attrs(source: str, path: Path, layout: str, grid: str, **channels: list[str]) -> dict:
    return {
        "source": source,
        "source_file": path.name,
        "layout": layout,
        "grid": grid,
        "param_names": [],
        **{f"{name}_channels": list(names) for name, names in channels.items()},
    }
