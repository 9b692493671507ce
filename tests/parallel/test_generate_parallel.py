"""Dataset generation on several devices and several processes gives the same file as one
device in one process: 4 forced CPU devices with a `data` mesh, and two `jax.distributed`
processes on localhost writing one file together."""

import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import free_port, start_with_devices, wait_all

WORKER = Path(__file__).with_name("_generate_worker.py")


def worker(path: Path, devices: int, *extra: str) -> subprocess.Popen:
    return start_with_devices(str(WORKER), str(path), str(devices), *extra, devices=devices)


def contents(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(path) as f:
        f.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
        attrs = {k: v for k, v in f.attrs.items() if k != "created"}
    return arrays, attrs


def assert_same_file(a: Path, b: Path) -> None:
    (arrays_a, attrs_a), (arrays_b, attrs_b) = contents(a), contents(b)
    assert {"inputs", "outputs", "params"} <= set(arrays_a)
    assert arrays_a.keys() == arrays_b.keys()
    assert arrays_a["inputs"].shape == (12, 1, 17, 17)
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        assert np.array_equal(arrays_a[name], arrays_b[name]), name
    assert attrs_a.keys() == attrs_b.keys()
    for key in attrs_a:
        assert np.array_equal(attrs_a[key], attrs_b[key]), key


@pytest.fixture(scope="module")
def one_device(tmp_path_factory) -> Path:
    """The reference: one CPU device, one process, no mesh."""
    path = tmp_path_factory.mktemp("one") / "darcy.h5"
    wait_all(worker(path, 1))
    return path


def test_four_devices_on_a_mesh_give_the_one_device_file(one_device, tmp_path):
    path = tmp_path / "darcy.h5"
    wait_all(worker(path, 4, "--mesh"))  # the worker checks the 4 devices and the mesh
    assert_same_file(path, one_device)
    assert not path.with_name("darcy.h5.parts").exists()


def test_two_processes_write_the_one_process_file(one_device, tmp_path):
    path, port = tmp_path / "darcy.h5", free_port()
    processes = [worker(path, 1, "--port", str(port), "--process-id", str(i)) for i in range(2)]
    wait_all(*processes)
    assert_same_file(path, one_device)
    assert not path.with_name("darcy.h5.parts").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["darcy.h5"]
