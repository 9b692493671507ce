"""`jaxops train` on published files: FNO-paper `.mat` files given as `data.path` and
`data.test_path` (written here from jaxops Darcy data in the paper's `coeff`/`sol` layout) train
on every training sample and report the test files' error (all, and per file), which the
saved model reproduces; bad data stops with a one-line error naming the file and the fix,
exit code 2, before anything trains. `jaxops convert` writes the same files as one jaxops
file. PDEBench and The Well files over several parameter values train as one dataset whose
samples carry their file's parameters."""

import json

import numpy as np
import pytest
import scipy.io
from helpers import jaxops_in_process
from published_files import random, write_h5, write_the_well

from jaxops import train
from jaxops.data import load

TINY = [
    "experiment=darcy_fno",
    "data.n_samples=null",
    "data.subsample=1",
    "model.modes=[4,4]",
    "model.width=8",
    "model.depth=2",
    "model.projection_width=16",
    "trainer.epochs=1",
    "trainer.batch_size=20",
    "trainer.plot_samples=0",
    "trainer.progress=false",
]


def fno_layout(dataset) -> dict[str, np.ndarray]:
    """A Darcy dataset as the FNO paper's files hold it: `coeff`, `sol` `[N, s, s]`, float64."""
    return {"coeff": dataset.inputs[:, 0].astype(np.float64),
            "sol": dataset.outputs[:, 0].astype(np.float64)}  # fmt: skip


@pytest.fixture(scope="module")
def mat_files(small_darcy, tmp_path_factory):
    """`train.mat` (200 samples) and `test.mat` (40) in the FNO paper's Darcy layout."""
    folder = tmp_path_factory.mktemp("fno")
    for name, dataset in zip(("train", "test"), small_darcy, strict=True):
        scipy.io.savemat(folder / f"{name}.mat", fno_layout(dataset))
    return folder / "train.mat", folder / "test.mat"


def test_fno_mat_files_train_and_test_from_the_shell(mat_files, small_darcy, tmp_path):
    """Training on `train.mat`, testing on two test files (the 40 test samples split 25 +
    15): the summary's error is that of all test samples, and each file's its own."""
    train_mat, test_mat = mat_files
    test = small_darcy[1]
    parts = tmp_path / "test_a.mat", tmp_path / "test_b.mat"
    for path, rows in zip(parts, (slice(0, 25), slice(25, 40)), strict=True):
        scipy.io.savemat(path, fno_layout(test.split(rows.stop)[0].split(rows.start)[1]))
    result = jaxops_in_process("train", *TINY, f"data.path={train_mat}",
                               f"data.test_path=[{parts[0]},{parts[1]}]",
                               f"data.dir={tmp_path / 'cache'}", "hydra.run.dir=run",
                               cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_train"] == 200 and summary["n_test"] == 40
    errors = train.evaluate_model(train.load(tmp_path / "run"), test.inputs, test.outputs)
    # The same float32 program on the same test samples (converted float64 -> float32 exactly:
    # they were float32 before); only the order of the mean's 40 terms may differ.
    assert float(np.mean(errors)) == pytest.approx(summary["test_rel_l2"], rel=40 * 2**-23)
    by_file = summary["test_rel_l2_by_file"]
    assert list(by_file) == ["test_a.mat", "test_b.mat"]
    assert by_file["test_a.mat"] == pytest.approx(float(np.mean(errors[:25])), rel=25 * 2**-23)
    assert by_file["test_b.mat"] == pytest.approx(float(np.mean(errors[25:])), rel=15 * 2**-23)
    assert "by test file: test_a.mat" in result.stdout


def corrupted(folder, small_darcy):
    """Bad data of each kind, as (overrides, message)."""
    train_set = small_darcy[0]
    coeff, sol = (
        train_set.inputs[:, 0].astype(np.float64),
        train_set.outputs[:, 0].astype(np.float64),
    )
    nan = coeff.copy()
    nan[7, 3, 4] = np.nan
    scipy.io.savemat(folder / "nan.mat", {"coeff": nan, "sol": sol})
    scipy.io.savemat(folder / "coarse.mat", {"coeff": coeff[:, ::2, ::2], "sol": sol[:, ::2, ::2]})
    scipy.io.savemat(folder / "good.mat", {"coeff": coeff, "sol": sol})
    whole = (folder / "good.mat").read_bytes()
    (folder / "cut.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + whole[8 : len(whole) // 3])
    return [
        ([f"data.path={folder / 'nan.mat'}"], "inputs of sample 7, channel 0 is nan"),
        ([f"data.path=[{folder / 'good.mat'},{folder / 'coarse.mat'}]"], "does not match"),
        (
            [f"data.path={folder / 'good.mat'}", f"data.test_path={folder / 'coarse.mat'}"],
            "the test set needs the training data's arrays, channels and grid",
        ),  # fmt: skip
        ([f"data.path={folder / 'cut.h5'}"], "cut.h5"),
        ([f"data.path={folder / 'absent.mat'}"], "no dataset file at"),
    ]


def test_bad_data_stops_before_training_with_exit_code_2(small_darcy, tmp_path):
    for overrides, message in corrupted(tmp_path, small_darcy):
        result = jaxops_in_process("train", *TINY, *overrides, "data.n_test=10",
                                   f"data.dir={tmp_path / 'cache'}", "hydra.run.dir=run",
                                   cwd=tmp_path)  # fmt: skip
        assert result.returncode == 2, (overrides, result.stdout + result.stderr)
        assert message in result.stderr, (message, result.stderr)
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "run" / "state").exists()  # nothing trained


def test_convert_writes_one_jaxops_file(mat_files, small_darcy, tmp_path):
    result = jaxops_in_process("convert", *map(str, mat_files), "darcy.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "240 samples from 2 file(s)" in result.stdout
    data = load(tmp_path / "darcy.h5")
    expected = np.concatenate([small_darcy[0].inputs, small_darcy[1].inputs])
    np.testing.assert_array_equal(data.inputs, expected)
    again = jaxops_in_process("convert", *map(str, mat_files), "darcy.h5", cwd=tmp_path)
    assert again.returncode == 2 and "darcy.h5 exists" in again.stderr


def test_pdebench_files_over_viscosities_train_a_parameter_conditioned_model(tmp_path):
    """Two PDEBench 1D Burgers files, `Nu0.01` and `Nu0.1`: one dataset whose `params` are
    the viscosities of the file names, which CAPE takes per sample (mechanics only: the
    trajectories are random fields)."""
    rng = np.random.default_rng(3)
    x = (np.arange(32, dtype=np.float32) + 0.5) / 32
    t = np.linspace(0, 2, 7, dtype=np.float32)  # T + 1 entries for T = 6, as PDEBench stores
    files = []
    for nu in ("0.01", "0.1"):
        files.append(tmp_path / f"1D_Burgers_Sols_Nu{nu}.hdf5")
        tensor = rng.normal(size=(12, 6, 32)).astype(np.float32)
        write_h5(files[-1], **{"tensor": tensor, "x-coordinate": x, "t-coordinate": t})
    sizes = ["model.base_config.modes=[6]", "model.base_config.width=8",
             "model.base_config.depth=2", "model.base_config.projection_width=16",
             "model.cape_modes=[6]", "model.cape_width=4", "trainer.epochs=1",
             "trainer.batch_size=8", "trainer.plot_samples=0",
             "trainer.progress=false"]  # fmt: skip
    result = jaxops_in_process(
        "train", "experiment=burgers_cape", f"data.path=[{files[0]},{files[1]}]",
        "data.n_samples=null", "data.n_test=4", "data.subsample=1", *sizes,
        f"data.dir={tmp_path / 'cache'}", "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_train"] == 20 and summary["n_test"] == 4
    (converted,) = (tmp_path / "cache").glob("*.h5")
    data = load(converted)
    np.testing.assert_array_equal(data.params[:, 0], np.float32([0.01] * 12 + [0.1] * 12))


def test_the_well_files_train_a_trajectory_model_from_the_shell(tmp_path):
    """Two The Well files of a 2D flow (one field, `Reynolds` 1e4 and 1e5) as one dataset of
    the autoregressive FNO experiment: the files' scalars are the samples' parameters, and
    the test error is reported by parameter (mechanics only: the fields are random)."""
    files = []
    for reynolds in (1e4, 1e5):
        vorticity = random(6, 6, 16, 16)  # 6 trajectories of 6 states on 16x16
        files.append(write_the_well(
            tmp_path / f"shear_flow_Reynolds_{reynolds:.0e}.hdf5", (16, 16), np.linspace(0, 1, 6),
            {(0, "vorticity"): (vorticity, True, True, [True, True])},
            [("Reynolds", reynolds, False, False)],
            {"x_bc": ("PERIODIC", ["x"]), "y_bc": ("PERIODIC", ["y"])},
        ))  # fmt: skip
    sizes = ["data.n_test=2", "model.modes=[4,4]", "model.width=8", "model.depth=2",
             "model.projection_width=16", "trainer.epochs=2", "trainer.batch_size=4",
             "trainer.plot_samples=0", "trainer.rollout.history=2",
             "trainer.rollout.steps=2"]  # fmt: skip
    result = jaxops_in_process(
        "train", "experiment=navier_stokes_fno", f"data.path=[{files[0]},{files[1]}]",
        "data.n_samples=null", "data.subsample=1", *sizes, f"data.dir={tmp_path / 'cache'}",
        "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"(converted from {files[0]}, {files[1]})" in result.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_train"] == 10 and summary["n_test"] == 2
    assert "test_rel_l2_in_distribution" in summary  # both Reynolds numbers trained
    (converted,) = (tmp_path / "cache").glob("*.h5")
    data = load(converted)
    assert data.attrs["grid"] == "periodic" and data.attrs["param_names"] == ["Reynolds"]
    np.testing.assert_array_equal(data.params[:, 0], np.float32([1e4] * 6 + [1e5] * 6))
