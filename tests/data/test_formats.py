"""`data.formats`: the format of a file is detected (jaxops, PDEBench, FNO .mat v5 and v7.3); a
truncated or foreign file is a `DatasetError` naming it; PDEBench parameters come from the file
name; several files become one jaxops file with exactly their samples in order, and files of
different grids or parameters are refused; `prepare` converts once and reuses the copy."""

import numpy as np
import pytest
from published_files import random, write_h5, write_mat

from jaxops.data import DatasetError, load, write_dataset
from jaxops.data.formats import convert, detect, pdebench_parameters, prepare, read
from jaxops.data.store import Dataset


def pdebench_1d(path, n, size=8):
    x = (np.arange(size, dtype=np.float32) + 0.5) / size
    t = np.linspace(0, 2, 4, dtype=np.float32)
    tensor = random(n, 3, size)
    write_h5(path, **{"tensor": tensor, "x-coordinate": x, "t-coordinate": t})
    return tensor


def test_the_format_is_detected_and_bad_files_are_named(tmp_path):
    pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", 3)
    assert detect(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5") == "pdebench"
    for version in ("v5", "v7.3"):
        mat = write_mat(tmp_path / f"darcy_{version}.mat", version, coeff=random(2, 3, 3),
                        sol=random(2, 3, 3))  # fmt: skip
        assert detect(mat) == "fno_mat"
    ours = write_dataset(read(tmp_path / "darcy_v5.mat"), tmp_path / "ours.h5")
    assert detect(ours) == "jaxops"

    (tmp_path / "notes.h5").write_text("not a dataset")
    with pytest.raises(DatasetError, match="notes.h5 is not an HDF5 or MATLAB file"):
        detect(tmp_path / "notes.h5")
    whole = (tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5").read_bytes()
    (tmp_path / "cut.hdf5").write_bytes(whole[: len(whole) // 2])  # a download cut short
    with pytest.raises(DatasetError, match="cut.hdf5 cannot be read .* truncated or corrupt"):
        read(tmp_path / "cut.hdf5")
    with pytest.raises(DatasetError, match="no dataset file at"):
        detect(tmp_path / "absent.h5")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("1D_Burgers_Sols_Nu0.01.hdf5", {"nu": 0.01}),
        ("1D_Advection_Sols_beta0.4.hdf5", {"beta": 0.4}),
        ("2D_DarcyFlow_beta1.0_Train.hdf5", {"beta": 1.0}),
        ("ReacDiff_Nu0.5_Rho1.0.hdf5", {"nu": 0.5, "rho": 1.0}),
        (
            "2D_CFD_Rand_M0.1_Eta1e-08_Zeta1e-08_periodic_128_Train.hdf5",
            {"m": 0.1, "eta": 1e-8, "zeta": 1e-8},
        ),  # fmt: skip
        ("2D_diff-react_NA_NA.h5", {}),
    ],
)
def test_pdebench_parameters_come_from_the_file_name(name, expected):
    assert pdebench_parameters(name) == pytest.approx(expected)


def test_files_become_one_dataset_with_their_parameters(tmp_path):
    a = pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", 3)
    b = pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5", 2)
    sources = [tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5"]
    data = load(convert(sources, tmp_path / "burgers.h5"))
    np.testing.assert_array_equal(data.trajectories[:, :, 0], np.concatenate([a, b]))
    np.testing.assert_array_equal(data.params[:, 0], np.float32([0.01] * 3 + [0.1] * 2))
    assert data.attrs["param_names"] == ["nu"]
    assert data.attrs["source_file"] == [str(p) for p in sources]

    pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu1.0.hdf5", 2, size=16)
    with pytest.raises(DatasetError, match="Nu1.0.hdf5 does not match .* same arrays"):
        convert([sources[0], tmp_path / "1D_Burgers_Sols_Nu1.0.hdf5"], tmp_path / "bad.h5")
    pdebench_1d(tmp_path / "1D_Advection_Sols_beta0.4.hdf5", 2)
    with pytest.raises(DatasetError, match=r"has parameters \['beta'\]"):
        convert([sources[0], tmp_path / "1D_Advection_Sols_beta0.4.hdf5"], tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


def test_files_of_another_grid_are_refused(tmp_path):
    x = np.linspace(0, 1, 4)
    for name, shift in (("a.h5", 0.0), ("b.h5", 0.1)):
        coords = {"x0": x + shift}
        arrays = {"inputs": random(2, 1, 4), "outputs": random(2, 1, 4), "params": random(2, 0)}
        write_dataset(Dataset(arrays, coords, {"grid": "nodal"}), tmp_path / name)
    with pytest.raises(DatasetError, match="b.h5 has another grid than .*a.h5"):
        convert([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "ab.h5")


def test_prepare_converts_once_and_keeps_jaxops_files(tmp_path):
    source = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    tensor = pdebench_1d(source, 3)
    cache = tmp_path / "cache"
    converted = prepare(str(source), cache)
    assert converted.parent == cache and detect(converted) == "jaxops"
    np.testing.assert_array_equal(load(converted).trajectories[:, :, 0], tensor)
    written = converted.stat().st_mtime_ns
    assert prepare([source], cache) == converted  # the same sources: reused, not rewritten
    assert converted.stat().st_mtime_ns == written
    assert prepare(converted, cache) == converted  # a jaxops file is used where it is
