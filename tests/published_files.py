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
