"""Dataset generation and the HDF5 layout: samples solve the PDE (checked by an independent
scipy solve), do not depend on the chunk size, failures leave no file behind, and a killed
run resumes to the same file."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import equinox as eqx
import h5py
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import darcy_solve_atol, scipy_darcy

from jaxops.data import DatasetError, generate_dataset, load, read_attrs
from jaxops.data.store import DatasetWriter
from jaxops.pde import DarcyFlow, Sample


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "darcy.h5"
    generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"),
        path,
        10,
        seed=3,
        chunk_size=4,
        config_yaml="pde: darcy\n",
        progress=False,
    )
    return path


def test_layout_and_attributes(dataset):
    with h5py.File(dataset) as f:
        assert f["inputs"].shape == (10, 1, 17, 17)
        assert f["outputs"].shape == (10, 1, 17, 17)
        assert f["params"].shape == (10, 0)
        np.testing.assert_allclose(f["coords/x0"][:], np.linspace(0, 1, 17))
        np.testing.assert_allclose(f["coords/x1"][:], np.linspace(0, 1, 17))
    attrs = read_attrs(dataset)
    assert attrs["config"] == "pde: darcy\n"
    assert attrs["problem"] == "DarcyFlow" and attrs["seed"] == 3
    assert attrs["inputs_channels"] == ["a"] and attrs["outputs_channels"] == ["u"]
    assert attrs["grid"] == "nodal"
    assert [p.name for p in dataset.parent.iterdir()] == [dataset.name]  # no parts, no partial


def test_samples_solve_the_pde(dataset):
    data = load(dataset)
    assert set(np.unique(data.inputs)) == {3.0, 12.0}
    for a, u in zip(data.inputs[:3, 0], data.outputs[:3, 0], strict=True):
        reference = scipy_darcy(a.astype(np.float64), np.ones(a.shape))
        # a float32 CG solve to its tolerance: within half the bound on two solves' difference
        # (0.4 % of max u); harmonic instead of arithmetic face means move u by several %
        atol = darcy_solve_atol(reference, 3.0, 12.0) / 2
        np.testing.assert_allclose(u, reference, rtol=0, atol=atol)


def test_samples_do_not_depend_on_chunk_size(dataset, tmp_path):
    other = generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"),
        tmp_path / "b.h5",
        10,
        seed=3,
        chunk_size=7,
        progress=False,
    )
    a, b = load(dataset), load(other)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    # batches of another size are other programs: the CG may stop at other iterates, both to
    # its tolerance (0.8 % of max u, where another sample's solution differs by tens of %)
    atol = max(darcy_solve_atol(u, 3.0, 12.0) for u in a.outputs)
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=0, atol=atol)
    np.testing.assert_array_equal(load(dataset, samples=slice(4, 6)).inputs, a.inputs[4:6])


def test_subsampling_keeps_the_boundary_nodes(dataset):
    full, coarse = load(dataset), load(dataset, subsample=4)
    assert coarse.inputs.shape == (10, 1, 5, 5)
    np.testing.assert_array_equal(coarse.outputs, full.outputs[:, :, ::4, ::4])
    with pytest.raises(DatasetError, match="cannot be subsampled by 3.*valid: \\[1, 2, 4, 8"):
        load(dataset, subsample=3)


class NaNAtSample(eqx.Module):
    """A toy problem whose sample number `bad` (seed 0) is not finite."""

    bad: int = eqx.field(static=True)
    grid_kind = "periodic"
    channel_names = {"inputs": ("x",), "outputs": ("y",)}
    param_names = ()

    def coords(self):
        return {"x0": jnp.arange(4.0)}

    def sample(self, key, index=None):
        bad_key = jr.fold_in(jr.key(0), self.bad)
        is_bad = jnp.all(jr.key_data(key) == jr.key_data(bad_key))
        x = jnp.where(is_bad, jnp.nan, 1.0) * jnp.ones((1, 4))
        return Sample(x, x, jnp.zeros(0))


def test_non_finite_sample_is_named_and_finished_chunks_are_kept(tmp_path):
    with pytest.raises(DatasetError, match="sample 5 \\(seed 0\\) has non-finite inputs"):
        generate_dataset(
            NaNAtSample(bad=5), tmp_path / "bad.h5", 8, seed=0, chunk_size=3, progress=False
        )
    assert not (tmp_path / "bad.h5").exists()
    assert sorted(p.name for p in (tmp_path / "bad.h5.parts").glob("*.npz")) == ["000000.npz"]


def test_missing_file_error_names_the_command(tmp_path):
    with pytest.raises(DatasetError, match="jaxops generate"):
        load(tmp_path / "nothing.h5")


def test_solver_failure_names_the_chunk_and_writes_nothing(tmp_path):
    problem = DarcyFlow(n=33, max_steps=3, preconditioner="jacobi")  # too few CG steps
    with pytest.raises(DatasetError, match="samples 0..3 \\(seed 0\\).*did not reach the tol"):
        generate_dataset(problem, tmp_path / "d.h5", 6, seed=0, chunk_size=4, progress=False)
    assert not (tmp_path / "d.h5").exists()


KILLED_RUN = """
import sys, time
from jaxops.data import generate as gen
from jaxops.pde import DarcyFlow
save = gen._save_part
def slow_save(path, arrays):  # slow the run down so that the test can kill it mid-way
    save(path, arrays)
    time.sleep(0.5)
gen._save_part = slow_save
problem = DarcyFlow(n=17, preconditioner="jacobi")
gen.generate_dataset(problem, sys.argv[1], 12, seed=5, chunk_size=2, progress=False)
"""


def test_a_killed_run_resumes_to_the_same_file(tmp_path):
    """SIGKILL a generating process mid-way, rerun: the file equals an uninterrupted run."""
    path = tmp_path / "killed.h5"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)])
    parts = tmp_path / "killed.h5.parts"
    deadline = time.monotonic() + 120
    while len(list(parts.glob("0*.npz"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "run ended too early"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(parts.glob("0*.npz")))
    assert 2 <= finished < 6 and not path.exists()
    resumed = generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"), path, 12, seed=5, chunk_size=2, progress=False
    )
    reference = generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"),
        tmp_path / "ref.h5",
        12,
        seed=5,
        chunk_size=2,
        progress=False,
    )
    a, b = load(resumed), load(reference)
    for name in ("inputs", "outputs", "params"):
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name])
    assert not parts.exists()


def test_parts_of_another_request_are_not_reused(tmp_path, monkeypatch):
    from jaxops.data import generate as gen

    save, calls = gen._save_part, []

    def interrupted(path, arrays):
        save(path, arrays)
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(gen, "_save_part", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(
            DarcyFlow(n=17, preconditioner="jacobi"),
            tmp_path / "d.h5",
            8,
            seed=0,
            chunk_size=2,
            progress=False,
        )
    monkeypatch.setattr(gen, "_save_part", save)
    # Same file name, different seed: the seed-0 parts must not be mixed in.
    other = generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"),
        tmp_path / "d.h5",
        8,
        seed=1,
        chunk_size=2,
        progress=False,
    )
    fresh = generate_dataset(
        DarcyFlow(n=17, preconditioner="jacobi"),
        tmp_path / "e.h5",
        8,
        seed=1,
        chunk_size=2,
        progress=False,
    )
    np.testing.assert_array_equal(load(other).inputs, load(fresh).inputs)


def test_a_full_disk_keeps_the_finished_chunks_and_the_rerun_completes(tmp_path, monkeypatch):
    """The disk fills while the third chunk is written (half of it reaches the disk), then
    while the file is assembled: each time one line says what is kept, nothing half-written
    is left, and the same call afterwards completes the file an uninterrupted run writes."""

    def full(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    savez, calls = np.savez, []

    def fills_on_the_third(file, **arrays):
        calls.append(file)
        if len(calls) == 3:
            Path(file).write_bytes(b"PK\x03\x04 half a chunk")
            full()
        savez(file, **arrays)

    problem = DarcyFlow(n=17, preconditioner="jacobi")
    path, parts = tmp_path / "full.h5", tmp_path / "full.h5.parts"
    generate = lambda p: generate_dataset(problem, p, 12, seed=5, chunk_size=2, progress=False)  # noqa: E731
    monkeypatch.setattr(np, "savez", fills_on_the_third)
    with pytest.raises(DatasetError, match="No space left on device.* the 2 finished chunks in"):
        generate(path)
    assert sorted(p.name for p in parts.iterdir()) == ["000000.npz", "000001.npz", "manifest.json"]
    monkeypatch.setattr(np, "savez", savez)
    monkeypatch.setattr(DatasetWriter, "close", full)
    with pytest.raises(DatasetError, match="No space left on device.* its 6 generated chunks"):
        generate(path)
    assert not path.exists() and len(list(parts.glob("*.npz"))) == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("full.h5")] == [parts.name]
    monkeypatch.undo()
    a, b = load(generate(path)), load(generate(tmp_path / "reference.h5"))
    for name in ("inputs", "outputs", "params"):
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name])
    assert not parts.exists()
