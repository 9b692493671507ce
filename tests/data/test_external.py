"""Readers for PDEBench HDF5 and FNO .mat files: small files written here in the published
layouts (MAT v7.3 transposed, as MATLAB stores it) come back in the jaxops layout with the
exact values, coordinates and attributes; only the requested samples are read from disk;
`write_dataset` round-trips through `load`."""

import h5py
import numpy as np
import pytest
from published_files import random, write_h5, write_mat

from jaxops.data import DatasetError, load, load_fno_mat, load_pdebench, write_dataset
from jaxops.data.store import Dataset


@pytest.fixture
def reads(monkeypatch):
    """`reads[name]`: the number of values read from the HDF5 dataset `name` so far."""
    counts = {}
    original = h5py.Dataset.__getitem__

    def counting(self, index):
        out = original(self, index)
        counts[self.name.lstrip("/")] = counts.get(self.name.lstrip("/"), 0) + np.size(out)
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    return counts


def test_pdebench_1d(tmp_path, reads):
    tensor, x = random(6, 4, 8), (np.arange(8, dtype=np.float32) + 0.5) / 8
    t = np.linspace(0, 2, 5, dtype=np.float32)  # T + 1 entries, as in PDEBench's 1D files
    path = write_h5(
        tmp_path / "1D_Burgers_Sols_Nu0.001.hdf5",
        **{"tensor": tensor, "x-coordinate": x, "t-coordinate": t},
    )
    data = load_pdebench(path, samples=slice(1, 4))
    assert data.trajectories.shape == (3, 4, 1, 8) and data.params.shape == (3, 0)
    np.testing.assert_array_equal(data.trajectories[:, :, 0], tensor[1:4])
    np.testing.assert_array_equal(data.coords["x0"], x)
    np.testing.assert_array_equal(data.coords["t"], t[:4])
    assert reads["tensor"] == 3 * 4 * 8  # only the requested samples
    assert data.attrs["source"] == "pdebench" and data.attrs["grid"] == "periodic"
    assert data.attrs["trajectories_channels"] == ["u"]
    assert data.attrs["source_file"] == path.name


def test_pdebench_darcy(tmp_path):
    nu, u, x, y = random(4, 6, 5), random(4, 1, 6, 5), random(6), random(5)
    path = write_h5(
        tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5",
        **{"nu": nu, "tensor": u, "x-coordinate": x, "y-coordinate": y},
    )
    data = load_pdebench(path)
    np.testing.assert_array_equal(data.inputs, nu[:, None])
    np.testing.assert_array_equal(data.outputs, u)
    np.testing.assert_array_equal(data.coords["x0"], x)
    np.testing.assert_array_equal(data.coords["x1"], y)
    assert data.params.shape == (4, 0) and set(data.coords) == {"x0", "x1"}
    assert data.attrs["grid"] == "cell"
    assert data.attrs["inputs_channels"] == ["a"] and data.attrs["outputs_channels"] == ["u"]


def test_pdebench_cfd_stacks_fields_in_order(tmp_path, reads):
    fields = {name: random(5, 3, 4, 6) for name in ("pressure", "Vy", "density", "Vx")}
    coords = {"x-coordinate": random(4), "y-coordinate": random(6), "t-coordinate": random(3)}
    path = write_h5(tmp_path / "2D_CFD_Rand_M0.1.hdf5", **fields, **coords)
    data = load_pdebench(path, samples=slice(0, 5, 2))
    order = ["Vx", "Vy", "density", "pressure"]
    assert data.trajectories.shape == (3, 3, 4, 4, 6)
    for channel, name in enumerate(order):
        np.testing.assert_array_equal(data.trajectories[:, :, channel], fields[name][::2])
        assert reads[name] == 3 * 3 * 4 * 6
    np.testing.assert_array_equal(data.coords["t"], coords["t-coordinate"])
    assert data.attrs["trajectories_channels"] == order and data.attrs["grid"] == "periodic"


def test_pdebench_groups_per_sample(tmp_path):
    samples = {f"{i:04d}": random(4, 5, 6, 2) for i in range(3)}
    grid = {"x": random(5), "y": random(6), "t": random(4)}
    datasets = {f"{k}/data": v for k, v in samples.items()}
    datasets |= {f"{k}/grid/{axis}": c for k in samples for axis, c in grid.items()}
    path = write_h5(tmp_path / "2D_diff-react_NA_NA.h5", **datasets)
    data = load_pdebench(path, samples=slice(1, None))
    assert data.trajectories.shape == (2, 4, 2, 5, 6)
    for got, key in zip(data.trajectories, ["0001", "0002"], strict=True):
        np.testing.assert_array_equal(got, np.moveaxis(samples[key], -1, 1))
    for key, axis in [("x0", "x"), ("x1", "y"), ("t", "t")]:
        np.testing.assert_array_equal(data.coords[key], grid[axis])
    assert data.attrs["trajectories_channels"] == ["c0", "c1"] and data.attrs["grid"] == "cell"


def test_pdebench_errors_name_the_problem(tmp_path):
    unknown = write_h5(tmp_path / "other.h5", velocity=random(2, 3), force=random(2))
    with pytest.raises(
        DatasetError, match=r"other.h5 has an unknown layout.*\['force', 'velocity'\]"
    ):
        load_pdebench(unknown)
    short_t = write_h5(tmp_path / "1D.h5", **{"tensor": random(2, 4, 8), "x-coordinate": random(8)})
    with pytest.raises(DatasetError, match="'t-coordinate' must hold 4 or 5 entries.*missing"):
        load_pdebench(short_t)
    with pytest.raises(DatasetError, match="selects none of the 2 samples"):
        load_pdebench(unknown.with_name("1D.h5"), samples=slice(5, 9))
    with pytest.raises(DatasetError, match="no PDEBench HDF5 file at"):
        load_pdebench(tmp_path / "absent.h5")


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_fno_darcy(tmp_path, version, reads):
    coeff, sol = random(4, 5, 5, dtype=np.float64), random(4, 5, 5, dtype=np.float64)
    path = write_mat(tmp_path / "piececonst_r5_N4.mat", version, coeff=coeff, sol=sol)
    data = load_fno_mat(path, samples=slice(1, 3))
    np.testing.assert_array_equal(data.inputs, coeff[1:3, None])
    np.testing.assert_array_equal(data.outputs, sol[1:3, None])
    np.testing.assert_array_equal(data.coords["x0"], np.linspace(0, 1, 5))
    assert set(data.coords) == {"x0", "x1"} and data.params.shape == (2, 0)
    assert data.attrs["grid"] == "nodal" and data.attrs["source"] == "fno"
    assert data.attrs["inputs_channels"] == ["a"] and data.attrs["outputs_channels"] == ["u"]
    if version == "v7.3":
        assert reads == {"coeff": 2 * 25, "sol": 2 * 25}


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_fno_navier_stokes_prepends_the_initial_condition(tmp_path, version):
    a, u = random(3, 4, 6, dtype=np.float64), random(3, 4, 6, 5, dtype=np.float64)
    t = np.arange(1.0, 6.0) / 2
    path = write_mat(tmp_path / "ns_V1e-3_N3_T5.mat", version, a=a, u=u, t=t)
    data = load_fno_mat(path)
    assert data.trajectories.shape == (3, 6, 1, 4, 6)
    np.testing.assert_array_equal(data.trajectories[:, 0, 0], a)
    for step in range(5):
        np.testing.assert_array_equal(data.trajectories[:, step + 1, 0], u[..., step])
    np.testing.assert_array_equal(data.coords["t"], [0, *t])
    np.testing.assert_array_equal(data.coords["x0"], np.arange(4) / 4)
    np.testing.assert_array_equal(data.coords["x1"], np.arange(6) / 6)
    assert data.attrs["grid"] == "periodic" and data.attrs["trajectories_channels"] == ["w"]


def test_fno_burgers_and_explicit_keys(tmp_path):
    a, u = random(3, 8, dtype=np.float64), random(3, 8, dtype=np.float64)
    burgers = load_fno_mat(write_mat(tmp_path / "burgers.mat", "v5", a=a, u=u))
    np.testing.assert_array_equal(burgers.inputs, a[:, None])
    np.testing.assert_array_equal(burgers.outputs, u[:, None])
    np.testing.assert_array_equal(burgers.coords["x0"], np.arange(8) / 8)
    assert burgers.attrs["grid"] == "periodic"

    k, p = random(2, 3, 4, dtype=np.float64), random(2, 3, 4, dtype=np.float64)
    path = write_mat(tmp_path / "other.mat", "v7.3", K=k, P=p)
    with pytest.raises(DatasetError, match=r"unknown layout: it holds \['K', 'P'\]"):
        load_fno_mat(path)
    with pytest.raises(DatasetError, match="give both input_key and output_key"):
        load_fno_mat(path, input_key="K")
    data = load_fno_mat(path, input_key="K", output_key="P")
    np.testing.assert_array_equal(data.inputs, k[:, None])
    np.testing.assert_array_equal(data.outputs, p[:, None])
    assert data.attrs["inputs_channels"] == ["K"] and data.attrs["grid"] == "nodal"


def test_write_dataset_round_trips(tmp_path):
    nu, u = random(4, 6, 6), random(4, 1, 6, 6)
    x = (np.arange(6, dtype=np.float32) + 0.5) / 6
    source = write_h5(
        tmp_path / "darcy.hdf5",
        **{"nu": nu, "tensor": u, "x-coordinate": x, "y-coordinate": x},
    )
    data = load_pdebench(source)
    data.attrs |= {"note": None, "pair": ("a", "b")}
    back = load(write_dataset(data, tmp_path / "converted.h5"))
    assert back.arrays.keys() == data.arrays.keys()
    for name, array in data.arrays.items():
        np.testing.assert_array_equal(back.arrays[name], array)
        assert back.arrays[name].dtype == array.dtype
    for name, values in data.coords.items():
        np.testing.assert_array_equal(back.coords[name], values)
    assert back.attrs == {**data.attrs, "note": "", "pair": ["a", "b"]}
    # A cell grid subsamples like a periodic one: 6 points, stride 2 -> 3.
    coarse = load(tmp_path / "converted.h5", subsample=2)
    np.testing.assert_array_equal(coarse.inputs, nu[:, None, ::2, ::2])


def test_write_dataset_rejects_unstorable_attributes(tmp_path):
    data = Dataset({"inputs": random(2, 1, 3)}, {"x0": random(3)}, {"config": {"a": 1}})
    with pytest.raises(DatasetError, match="attribute 'config'.*cannot be stored"):
        write_dataset(data, tmp_path / "bad.h5")
    assert list(tmp_path.iterdir()) == []
