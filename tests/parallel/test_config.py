"""The parallel config on one device: mesh errors name the fix, launchers are detected from
their environment variables, and batch/learning-rate scaling follows its formula."""

import jax
import pytest

from jaxops._config import ConfigError
from jaxops.parallel import distributed, launcher, make_mesh, param_bytes
from jaxops.parallel.config import (
    MeshConfig,
    ParallelConfig,
    build,
    for_batch,
    scaled_batch_and_lr,
)

LAUNCH_VARIABLES = (
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "TPU_WORKER_HOSTNAMES",
    "TPU_PROCESS_ADDRESSES",
    "MEGASCALE_COORDINATOR_ADDRESS",
    "JAX_COORDINATOR_ADDRESS",
    "CUDA_VISIBLE_DEVICES",
    "JAX_LOCAL_DEVICE_IDS",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_mesh_takes_all_devices_and_names_its_axes():
    mesh = make_mesh({"data": -1})
    assert mesh.axis_names == ("data", "space")
    assert dict(mesh.shape) == {"data": jax.device_count(), "space": 1}


@pytest.mark.parametrize(
    "shape, message",
    [
        ({"data": 2 * jax.device_count()}, "xla_force_host_platform_device_count"),
        ({"model": 1}, "unknown mesh axes ['model']"),
        ({"data": -1, "space": -1}, "at most one -1"),
        ({"data": 0}, "positive"),
    ],
)
def test_bad_mesh_is_refused_with_the_fix(shape, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_mesh(shape)


def test_config_with_too_many_devices_is_a_config_error():
    with pytest.raises(ConfigError, match="parallel.mesh"):
        build(ParallelConfig(mesh=MeshConfig(data=jax.device_count() + 1)))
    assert build(ParallelConfig(mesh=MeshConfig(data=-1))) is None or jax.device_count() > 1


def test_batch_and_learning_rate_scaling():
    config = ParallelConfig(per_device_batch=8, lr_scaling="linear")
    assert scaled_batch_and_lr(config, 1, 32, 1e-3) == (8, pytest.approx(2.5e-4))
    config = ParallelConfig(per_device_batch=None, lr_scaling="sqrt")
    assert scaled_batch_and_lr(config, 1, 32, 1e-3) == (32, pytest.approx(1e-3))
    config = ParallelConfig(per_device_batch=128, lr_scaling="sqrt")
    assert scaled_batch_and_lr(config, 1, 32, 1e-3) == (128, pytest.approx(2e-3))


def test_parameter_bytes_per_device():
    tree = {
        "w": jax.ShapeDtypeStruct((64, 32), "float32"),
        "c": jax.ShapeDtypeStruct((3,), "complex64"),
    }
    assert param_bytes(tree) == 64 * 32 * 4 + 3 * 8


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({}, None),
        ({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"}, None),  # one task: nothing to join
        ({"SLURM_NTASKS": "8", "SLURM_PROCID": "3"}, "slurm"),
        ({"TPU_WORKER_HOSTNAMES": "t1"}, None),  # a single-host TPU VM
        ({"TPU_WORKER_HOSTNAMES": "t1,t2,t3,t4"}, "cloud-tpu"),
        ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}, "environment"),
    ],
)
def test_launcher_detection(clean_env, variables, expected):
    for name, value in variables.items():
        clean_env.setenv(name, value)
    assert launcher() == expected


def test_initialize_without_launcher_does_nothing_and_explicit_start_needs_all_three(clean_env):
    assert distributed.initialize("auto") is False
    assert distributed.initialize("off", "localhost:1", 2, 0) is False
    with pytest.raises(ValueError, match="num_processes and parallel.process_id"):
        distributed.initialize("auto", coordinator_address="localhost:1234")
    with pytest.raises(ValueError, match="auto, on or off"):
        distributed.initialize("sometimes")


def test_slurm_task_uses_every_gpu_it_was_given(clean_env):
    clean_env.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert distributed._visible_gpus() == [0, 1]
    clean_env.setenv("JAX_LOCAL_DEVICE_IDS", "0")
    assert distributed._visible_gpus() is None  # the user's choice wins


def test_resume_may_change_the_devices_but_not_the_batch():
    """The saved config holds the global batch actually used: moving a run to another mesh
    is allowed, a batch that changed with the device count (per_device_batch) is not."""
    from jaxops.experiment.run_dir import config_differences

    saved = {"parallel": {"mesh": {"data": 4, "space": 1}, "fsdp": False, "process_id": 1},
             "trainer": {"batch_size": 40}, "optim": {"lr": 2e-3}}  # fmt: skip
    moved = {"parallel": {"mesh": {"data": 2, "space": 1}, "fsdp": True, "process_id": None},
             "trainer": {"batch_size": 40}, "optim": {"lr": 2e-3}}  # fmt: skip
    assert config_differences(saved, moved) == []
    rescaled = {**moved, "trainer": {"batch_size": 20}, "optim": {"lr": 1e-3}}
    assert config_differences(saved, rescaled) == ["optim.lr", "trainer.batch_size"]


def test_one_device_says_so_unless_one_device_was_asked_for():
    """On this one-device process: parallel=data/auto (a mesh over all devices) note that
    there is no mesh to split over; parallel=single (a 1 x 1 mesh) says nothing."""
    assert jax.device_count() == 1
    for data, expected in ((-1, "devices: 1 (cpu): no mesh to split over; batch 8 on it"),
                           (1, None)):  # fmt: skip
        config = ParallelConfig(mesh=MeshConfig(data=data, space=1))
        assert for_batch(config, build(config), 8) == (None, expected)
