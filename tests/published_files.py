"""Small files in published layouts, written by the tests: HDF5 files with given datasets
(PDEBench, MAT v7.3) and MATLAB files (v5 through scipy, v7.3 transposed as MATLAB stores
them)."""

import h5py
import numpy as np
import scipy.io

rng = np.random.default_rng(0)


def random(*shape, dtype=np.float32):
    return rng.normal(size=shape).astype(dtype)


def write_h5(path, userblock=0, **datasets):
    """An HDF5 file holding `datasets` (a name with `/` makes groups)."""
    with h5py.File(path, "w", userblock_size=userblock) as f:
        for name, data in datasets.items():
            f.create_dataset(name, data=data)
    return path


def write_mat(path, version, **arrays):
    """A MATLAB file: v5 through scipy, v7.3 as HDF5 with every array's axes reversed."""
    if version == "v5":
        scipy.io.savemat(path, arrays)
        return path
    transposed = {name: np.atleast_2d(a).T for name, a in arrays.items()}  # [T] is 1×T
    return write_h5(path, userblock=512, **transposed)


def write_the_well(path, grid, times, fields, scalars=(), boundaries=None, n=None):
    """A file in The Well's layout (its docs/data_format.md) on `grid` (cell-centred
    coordinates in [0, 1]) and `times` (`[T]`, or `[N, T]` per trajectory): `fields` maps
    `(order, name)` to `(array, sample_varying, time_varying, dim_varying)`; `scalars` is a
    list of `(name, value, sample_varying, time_varying)`; `boundaries` maps a boundary group
    name to `(bc_type, associated_dims)`; `n` trajectories (from the first field by default)."""
    spatial = ["x", "y", "z"][: len(grid)]
    n = next(iter(fields.values()))[0].shape[0] if n is None else n
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="test_set", grid_type="cartesian", n_spatial_dims=len(grid),
                       n_trajectories=n, simulation_parameters=[s[0] for s in scalars])  # fmt: skip
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = spatial
        dims.create_dataset("time", data=np.asarray(times, np.float32))
        dims["time"].attrs["sample_varying"] = np.ndim(times) == 2
        for name, size in zip(spatial, grid, strict=True):
            dims.create_dataset(name, data=((np.arange(size) + 0.5) / size).astype(np.float32))
            dims[name].attrs.update(sample_varying=False, time_varying=False)
        bcs = f.create_group("boundary_conditions")
        for name, (kind, associated) in (boundaries or {}).items():
            bcs.create_group(name).attrs.update(bc_type=kind, associated_dims=associated,
                                                associated_fields=[], sample_varying=False,
                                                time_varying=False)  # fmt: skip
        group = f.create_group("scalars")
        group.attrs["field_names"] = [s[0] for s in scalars]
        for name, value, per_sample, in_time in scalars:
            group.create_dataset(name, data=np.asarray(value, np.float32))
            group[name].attrs.update(sample_varying=per_sample, time_varying=in_time)
        for order in range(3):
            group = f.create_group(f"t{order}_fields")
            names = [name for (o, name) in fields if o == order]
            group.attrs["field_names"] = names
            for name in names:
                data, per_sample, in_time, along = fields[order, name]
                group.create_dataset(name, data=data)
                group[name].attrs.update(sample_varying=per_sample, time_varying=in_time,
                                         dim_varying=along)  # fmt: skip
    return path
