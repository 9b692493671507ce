"""The Well's HDF5 layout (small files written here from its specification): every field
lands in the channel The Well's own loader names it by, with the values written; constant
scalars become the parameters; conversion of several files, streamed in chunks, equals the
whole files read one after another."""

import numpy as np
import pytest
from published_files import random, write_the_well

from jaxops.data import DatasetError, load, load_the_well
from jaxops.data.formats import convert, count, detect, read

N, T, GRID = 5, 4, (6, 4)
TRUE2 = [True, True]


def fields(seed=0):
    """A scalar field per trajectory, a vector and a symmetric tensor field, a field constant
    along y, and a mask constant in time and shared by all trajectories."""
    rng = np.random.default_rng(seed)
    normal = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    return {
        (0, "density"): (normal(N, T, *GRID), True, True, TRUE2),
        (0, "profile"): (normal(N, T, GRID[0]), True, True, [True, False]),
        (0, "mask"): (normal(*GRID), False, False, TRUE2),
        (1, "velocity"): (normal(N, T, *GRID, 2), True, True, TRUE2),
        (2, "stress"): (normal(N, T, *GRID, 2, 2), True, True, TRUE2),
    }


SCALARS = [("Reynolds", 1e4, False, False), ("forcing", np.arange(N) + 1.0, True, False)]
BOUNDARIES = {"x_bc": ("PERIODIC", ["x"]), "y_bc": ("WALL", ["y"])}
TIMES = np.linspace(0, 0.3, T)


@pytest.fixture
def well_file(tmp_path):
    return write_the_well(tmp_path / "shear_flow_Reynolds_1e4.hdf5", GRID, TIMES, fields(),
                          SCALARS, BOUNDARIES)  # fmt: skip


def test_fields_become_named_channels_with_the_written_values(well_file):
    written = fields()
    data = load_the_well(well_file)
    names = data.attrs["trajectories_channels"]
    assert names == ["density", "profile", "mask", "velocity_x", "velocity_y", "stress_xx",
                     "stress_xy", "stress_yx", "stress_yy"]  # fmt: skip
    u = data.trajectories
    assert u.shape == (N, T, 9, *GRID)
    channel = lambda name: u[:, :, names.index(name)]  # noqa: E731
    np.testing.assert_array_equal(channel("density"), written[0, "density"][0])
    profile = written[0, "profile"][0]  # constant along y: repeated
    np.testing.assert_array_equal(channel("profile"), np.repeat(profile[..., None], 4, axis=-1))
    mask = written[0, "mask"][0]  # one field for all trajectories and times
    np.testing.assert_array_equal(channel("mask"), np.broadcast_to(mask, (N, T, *GRID)))
    velocity, stress = written[1, "velocity"][0], written[2, "stress"][0]
    np.testing.assert_array_equal(channel("velocity_y"), velocity[..., 1])
    np.testing.assert_array_equal(channel("stress_xy"), stress[..., 0, 1])
    np.testing.assert_array_equal(channel("stress_yx"), stress[..., 1, 0])
    assert data.attrs["constant_channels"] == ["mask"]


def test_constant_scalars_are_the_parameters_and_boundaries_set_the_grid(well_file):
    data = load_the_well(well_file)
    assert data.attrs["param_names"] == ["Reynolds", "forcing"]
    np.testing.assert_array_equal(data.params, np.stack([np.full(N, 1e4), np.arange(N) + 1], 1))
    assert data.attrs["boundary_conditions"] == ["x: periodic", "y: wall"]
    assert data.attrs["grid"] == "cell"  # not periodic along y
    np.testing.assert_allclose(data.coords["t"], TIMES)
    np.testing.assert_allclose(data.coords["x0"], (np.arange(6) + 0.5) / 6)


def test_a_range_of_trajectories_reads_those_rows(well_file):
    whole, part = load_the_well(well_file), load_the_well(well_file, samples=slice(1, 4))
    np.testing.assert_array_equal(part.trajectories, whole.trajectories[1:4])
    np.testing.assert_array_equal(part.params, whole.params[1:4])


def test_bad_files_are_named_with_the_problem(tmp_path):
    moving = [*SCALARS, ("inflow", np.ones(T), False, True)]
    bad = write_the_well(tmp_path / "a.hdf5", GRID, TIMES, fields(), moving)
    with pytest.raises(DatasetError, match="scalar 'inflow' varies in time"):
        load_the_well(bad)
    wrong = {**fields(), (0, "density"): (random(N, T, 6, 5), True, True, TRUE2)}
    bad = write_the_well(tmp_path / "b.hdf5", GRID, TIMES, wrong)
    with pytest.raises(DatasetError, match=r"field /t0_fields/density has shape \(5, 4, 6, 5\)"):
        load_the_well(bad)
    times = np.stack([TIMES, 2 * TIMES, TIMES, TIMES, TIMES])
    bad = write_the_well(tmp_path / "c.hdf5", GRID, times, fields())
    with pytest.raises(DatasetError, match="different time grids"):
        load_the_well(bad)


def test_files_convert_in_chunks_to_one_dataset_with_per_file_parameters(tmp_path):
    paths = []
    for i, reynolds in enumerate((1e4, 1e5)):
        scalars = [("Reynolds", reynolds, False, False)]
        path = tmp_path / f"shear_flow_Reynolds_{reynolds:.0e}.hdf5"
        paths.append(write_the_well(path, GRID, TIMES, fields(seed=i), scalars, BOUNDARIES))
    assert [detect(p) for p in paths] == ["the_well"] * 2 and count(paths[0]) == N
    out = convert(paths, tmp_path / "shear.h5", chunk=2)  # 3 reads of each 5-trajectory file
    data = load(out)
    expected = np.concatenate([read(p).trajectories for p in paths])
    np.testing.assert_array_equal(data.trajectories, expected)
    np.testing.assert_array_equal(data.params[:, 0], np.repeat([1e4, 1e5], N))
    assert data.attrs["source"] == "the_well" and data.attrs["param_names"] == ["Reynolds"]
