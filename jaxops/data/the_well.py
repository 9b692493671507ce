"""Reader for The Well's HDF5 files (Ohana et al., "The Well: a Large-Scale Collection of
Diverse Physics Simulations for Machine Learning", NeurIPS 2024 Datasets and Benchmarks).

One file holds `n_trajectories` trajectories of one simulation family (usually one parameter
set). Its layout, as The Well's `docs/data_format.md` specifies it:

- root attributes `dataset_name`, `n_spatial_dims`, `n_trajectories`, `grid_type`;
- `dimensions/`: `time` `[T]` (`[N, T]` when `sample_varying`) and one coordinate array per
  name of its `spatial_dims` attribute;
- `t0_fields/`, `t1_fields/`, `t2_fields/`: scalar, vector (`[..., D]`) and tensor
  (`[..., D, D]`) fields listed in each group's `field_names`. An array holds the axes
  `[N][T][*spatial][D...]` that its `sample_varying`, `time_varying` and `dim_varying`
  attributes say it varies over;
- `scalars/`: named scalars, each constant or per trajectory (`sample_varying`);
- `boundary_conditions/`: one group per boundary, with `bc_type` and `associated_dims`.
"""

import itertools
import os
from pathlib import Path

import h5py
import numpy as np

from .store import Dataset, DatasetError, existing_file, sample_selection

FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")


def is_the_well(f: h5py.File) -> bool:
    """Whether an open HDF5 file has The Well's layout."""
    return "dimensions" in f and any(group in f for group in FIELD_GROUPS)


def trajectories_in(path: str | os.PathLike) -> int:
    """The number of trajectories a The Well file holds (its `n_trajectories` attribute)."""
    with h5py.File(path, "r") as f:
        return int(f.attrs["n_trajectories"])


def load_the_well(path: str | os.PathLike, *, samples: slice = slice(None)) -> Dataset:
    """Read a The Well HDF5 file; only the trajectories `samples` are read from disk.

    **Returns:** a `Dataset` with

    - `trajectories` `(N, T, C, *grid)`: every field, tensors flattened into their components
      and named as The Well names them (`density`, `velocity_x`, `stress_xy`, ...). A field
      that varies over fewer axes (not per trajectory, not over time, not along an axis) is
      repeated along them; the names of the fields constant in time are in the attribute
      `constant_channels` (they are inputs the model should not need to predict);
    - `params` `(N, P)`: the constant scalars (the simulation parameters, e.g. `Reynolds`),
      per trajectory or shared by the file, with `param_names`;
    - coords `x0, x1, ...` (the stored coordinates) and `t`;
    - attributes `source="the_well"`, `dataset_name`, `grid` (`periodic` when every boundary
      is periodic, else `cell`), `grid_type` (`cartesian`, `spherical`, ...) and
      `boundary_conditions` (`["x: periodic", "y: wall"]`).

    A time-varying scalar, a field whose shape does not match its attributes, or trajectories
    with different time grids are a `DatasetError`.
    """
    path = existing_file(path, "The Well HDF5 file")
    with h5py.File(path, "r") as f:
        if not is_the_well(f):
            raise DatasetError(
                f"{path} is not in The Well's layout: it holds {sorted(f)}, without "
                "dimensions/ and t0_fields/ (or t1_fields/, t2_fields/)"
            )
        spatial = [_text(name) for name in f["dimensions"].attrs["spatial_dims"]]
        grid = tuple(f["dimensions"][name].shape[-1] for name in spatial)
        n = int(f.attrs["n_trajectories"])
        selection = sample_selection(samples, n, path)
        count = len(range(n)[selection])
        times = _times(f["dimensions"]["time"], selection, path)
        shape = (count, len(times), grid)
        fields, names, constant = [], [], []
        for order, group in enumerate(FIELD_GROUPS):
            for field in _listed(f, group):
                data = _field(f[group][field], order, selection, shape, path)
                parts = ["".join(p) for p in itertools.product(spatial, repeat=order)]
                parts = [f"{field}_{p}" if p else field for p in parts]
                fields.append(data)
                names += parts
                if not f[group][field].attrs.get("time_varying", True):
                    constant += parts
        params, param_names = _scalars(f, selection, count, path)
        coords = {f"x{i}": f["dimensions"][name][()].reshape(-1) for i, name in enumerate(spatial)}
        coords["t"] = times
        boundaries = _boundaries(f)
        periodic = bool(boundaries) and all(b.endswith(": periodic") for b in boundaries)
        name = _text(f.attrs.get("dataset_name", ""))
        attrs = {
            "source": "the_well",
            "source_file": path.name,
            "layout": f"The Well: {name or '?'}",
            "dataset_name": name,
            "grid": "periodic" if periodic else "cell",
            "grid_type": _text(f.attrs.get("grid_type", "cartesian")),
            "boundary_conditions": boundaries,
            "param_names": param_names,
            "trajectories_channels": names,
            "constant_channels": constant,
        }
    if not fields:
        raise DatasetError(f"{path} lists no fields in t0_fields, t1_fields or t2_fields")
    trajectories = np.concatenate(fields, axis=2)
    return Dataset({"trajectories": trajectories, "params": params}, coords, attrs)


def _field(ds: h5py.Dataset, order: int, selection: slice, shape: tuple, path: Path):
    """One field as `(N, T, D**order, *grid)`, repeated along the axes it does not vary over."""
    count, steps, grid = shape
    per_sample = bool(ds.attrs.get("sample_varying", True))
    in_time = bool(ds.attrs.get("time_varying", True))
    along = [bool(v) for v in ds.attrs.get("dim_varying", [True] * len(grid))]
    expected = (
        ((count,) if per_sample else ())
        + ((steps,) if in_time else ())
        + tuple(n for n, varies in zip(grid, along, strict=True) if varies)
        + (len(grid),) * order
    )
    data = ds[selection] if per_sample else ds[()]
    if data.shape != expected:
        raise DatasetError(
            f"{path}: field {ds.name} has shape {data.shape}; its attributes (sample_varying="
            f"{per_sample}, time_varying={in_time}, dim_varying={along}) ask for {expected}"
        )
    data = data if per_sample else data[None]
    data = data if in_time else data[:, None]
    for axis, varies in enumerate(along):
        data = data if varies else np.expand_dims(data, 2 + axis)
    data = np.broadcast_to(data, (count, steps, *grid, *(len(grid),) * order))
    components = data.reshape(count, steps, *grid, len(grid) ** order)
    return np.moveaxis(components, -1, 2)


def _times(ds: h5py.Dataset, selection: slice, path: Path) -> np.ndarray:
    if ds.ndim == 1:
        return ds[()]
    times = ds[selection]
    if not np.allclose(times, times[:1]):
        raise DatasetError(
            f"{path}: the trajectories have different time grids (dimensions/time varies per "
            "trajectory); jaxops needs one time grid per file"
        )
    return times[0]


def _scalars(f: h5py.File, selection: slice, count: int, path: Path):
    """`(params (N, P) float32, names)` from the constant scalars."""
    columns, names = [], []
    for name in _listed(f, "scalars"):
        ds = f["scalars"][name]
        if ds.attrs.get("time_varying", False):
            raise DatasetError(
                f"{path}: scalar {name!r} varies in time; jaxops takes constant scalars as the "
                "PDE parameters and cannot read time-varying ones. Convert the file yourself "
                "(h5py) without it"
            )
        values = ds[selection] if ds.attrs.get("sample_varying", False) else ds[()]
        columns.append(np.broadcast_to(np.asarray(values, np.float32).reshape(-1), (count,)))
        names.append(name)
    params = np.stack(columns, axis=1) if columns else np.zeros((count, 0), np.float32)
    return params, names


def _boundaries(f: h5py.File) -> list[str]:
    group = f.get("boundary_conditions")
    if group is None:
        return []
    out = []
    for name in sorted(group):
        attrs = group[name].attrs
        dims = ",".join(_text(d) for d in attrs.get("associated_dims", [name]))
        out.append(f"{dims}: {_text(attrs.get('bc_type', '?')).lower()}")
    return out


def _listed(f: h5py.File, group: str) -> list[str]:
    if group not in f:
        return []
    return [_text(name) for name in f[group].attrs.get("field_names", [])]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
