"""`parallel=...`: the config group that spreads a run over devices and processes, and the
start-up report of what that means for batch size, learning rate and memory.

The default, `parallel=auto`, trains data parallel over every device when the global batch
splits evenly over them and on one device (with a note) when it does not, so the same command
runs on a laptop, a multi-GPU node and a TPU VM. `parallel=data|fsdp|spatial` refuse such a
batch instead; `parallel=single` always trains on the first device.
"""

import dataclasses
from dataclasses import dataclass

import jax

from .._config import ConfigError, spec
from .distributed import initialize
from .mesh import make_mesh
from .sharding import Parallel, param_bytes


@dataclass
class MeshConfig:
    """Devices per mesh axis; -1 on one axis: all remaining devices."""

    data: int = spec(-1, help="devices sharing each minibatch (data parallel; FSDP axis)")
    space: int = spec(1, help="devices sharing each sample's grid (spatial sharding)")


@dataclass
class ParallelConfig:
    """`parallel=auto|single|data|fsdp|spatial`: mesh, sharding rules and multi-host start-up."""

    mesh: MeshConfig = dataclasses.field(default_factory=MeshConfig)
    fallback: bool = spec(
        True,
        help="if the global batch does not split evenly over the data devices, train on one "
        "device (with a note) instead of refusing; single-process runs only",
    )
    fsdp: bool = spec(False, help="shard parameters and optimiser state over the data axis")
    fsdp_min_size: int = spec(2**14, ge=1, help="FSDP: arrays smaller than this stay replicated")
    distributed: str = spec(
        "auto",
        choices=("auto", "on", "off"),
        help="start jax.distributed: auto = when launched by SLURM srun, on a Cloud TPU pod "
        "slice, with JAX_COORDINATOR_ADDRESS set, or with parallel.coordinator_address",
    )
    coordinator_address: str | None = spec(None, help="host:port of process 0 (explicit start)")
    num_processes: int | None = spec(None, ge=1, help="explicit start: number of processes")
    process_id: int | None = spec(None, ge=0, help="explicit start: this process's id")
    per_device_batch: int | None = spec(
        None, ge=1, help="if set, the global batch is this times the data-axis size"
    )
    lr_scaling: str = spec(
        "none",
        choices=("none", "linear", "sqrt"),
        help="scale optim.lr by (global batch / trainer.batch_size) or its square root",
    )


def start(config: ParallelConfig) -> bool:
    """Start the multi-host runtime if the config or the launcher asks for it (before any
    JAX computation). Returns whether this is a multi-process run."""
    try:
        return initialize(
            config.distributed,
            config.coordinator_address,
            config.num_processes,
            config.process_id,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None


def build(config: ParallelConfig) -> Parallel | None:
    """The `Parallel` of the config, or None for a one-device run."""
    try:
        mesh = make_mesh({"data": config.mesh.data, "space": config.mesh.space})
    except ValueError as error:
        raise ConfigError(f"parallel.mesh: {error}") from None
    if mesh.size == 1:
        return None
    return Parallel(mesh, fsdp=config.fsdp, fsdp_min_size=config.fsdp_min_size)


def for_batch(
    config: ParallelConfig, parallel: Parallel | None, batch: int
) -> tuple[Parallel | None, str | None]:
    """The `Parallel` that trains with global batch `batch`, and a note for the user: `parallel`
    if the batch splits over its data axis; else, with `fallback` in a single-process run,
    None (one device) and a note saying why; else a `ConfigError` naming the fix."""
    if parallel is None:
        devices = jax.device_count()
        if devices > 1:
            return None, f"devices: 1 of {devices} (a one-device mesh; parallel=auto uses all)"
        if (config.mesh.data, config.mesh.space) == (1, 1):
            return None, None  # parallel=single asks for one device: nothing to report
        platform = jax.devices()[0].platform
        return None, f"devices: 1 ({platform}): no mesh to split over; batch {batch} on it"
    try:
        parallel.check_batch(batch)
    except ValueError as error:
        if not config.fallback or jax.process_count() > 1:
            raise ConfigError(str(error)) from None
        return None, (
            f"devices: 1 of {jax.device_count()}: the global batch {batch} "
            f"(trainer.batch_size) does not split over {parallel.data_size} devices; choose a "
            "multiple to use them all"
        )
    return parallel, None


def scaled_batch_and_lr(
    config: ParallelConfig, data_devices: int, batch_size: int, lr: float
) -> tuple[int, float]:
    """The global batch (`per_device_batch` × `data_devices`, the size of the mesh's `data`
    axis; else `batch_size`) and the learning rate scaled by `lr_scaling` for it."""
    batch = config.per_device_batch * data_devices if config.per_device_batch else batch_size
    power = {"none": 0.0, "linear": 1.0, "sqrt": 0.5}[config.lr_scaling]
    return batch, lr * (batch / batch_size) ** power


def report(parallel: Parallel | None, batch: int, lr: float, params) -> list[str]:
    """Start-up lines: processes and devices, mesh, global and per-device batch, learning
    rate, and the memory each device holds for parameters (and its limit, where known)."""
    devices = jax.devices()
    lines = [
        f"devices: {len(devices)} {devices[0].platform} in {jax.process_count()} process(es), "
        f"{jax.local_device_count()} local"
    ]
    data = 1 if parallel is None else parallel.data_size
    if parallel is not None:
        mesh = ", ".join(f"{k}={v}" for k, v in parallel.mesh.shape.items())
        lines.append(f"mesh: {mesh}" + ("  (FSDP parameters)" if parallel.fsdp else ""))
    lines.append(f"batch: global {batch}, per device {batch // data}; learning rate {lr:.3g}")
    held = param_bytes(params, parallel)
    limit = _memory_limit(devices[0])
    memory = f"parameters {held / 2**20:.1f} MiB per device"
    if limit:
        memory += f" of {limit / 2**30:.1f} GiB"
    lines.append(memory)
    return lines


def _memory_limit(device) -> int | None:
    """Bytes the device may allocate, where the backend reports it (not on CPU)."""
    try:
        return (device.memory_stats() or {}).get("bytes_limit")
    except Exception:  # noqa: BLE001 - some backends do not implement memory_stats
        return None
