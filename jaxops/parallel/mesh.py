"""The device mesh of a run: named axes `data` (batch and FSDP sharding) and `space`
(domain decomposition of the grid), built from a config such as `{data: -1, space: 1}`.

Devices are laid out in `jax.devices()` order (process by process), so the devices of one
process hold consecutive blocks of the data axis: each process reads a contiguous range of
the training samples.
"""

from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh

AXES = ("data", "space")


def make_mesh(shape: Mapping[str, int] | None = None, devices: Sequence | None = None) -> Mesh:
    """A `Mesh` with axes `("data", "space")` over `devices` (default: all devices of all
    processes). One size may be -1: all devices not used by the other axis. A mesh smaller
    than the devices takes the first ones (single-process runs only); a larger one is refused.

        make_mesh({"data": -1})               # data parallel over every device
        make_mesh({"data": 2, "space": 2})    # 2 groups of 2 devices sharing each sample
    """
    devices = list(jax.devices() if devices is None else devices)
    shape = dict(shape or {"data": -1})
    unknown = set(shape) - set(AXES)
    if unknown:
        raise ValueError(
            f"unknown mesh axes {sorted(unknown)}; the axes are {AXES} "
            "(parallel.mesh={data: -1, space: 1})"
        )
    sizes = {axis: int(shape.get(axis, 1)) for axis in AXES}
    free = [axis for axis, size in sizes.items() if size == -1]
    if len(free) > 1 or any(size < 1 and size != -1 for size in sizes.values()):
        raise ValueError(
            f"mesh sizes must be positive, with at most one -1 (all remaining devices); got {sizes}"
        )
    fixed = int(np.prod([size for size in sizes.values() if size != -1]))
    if free:
        if len(devices) % fixed:
            raise ValueError(
                f"{len(devices)} devices cannot be split into groups of {fixed} for mesh {sizes}"
            )
        sizes[free[0]] = len(devices) // fixed
    total = int(np.prod(list(sizes.values())))
    if total > len(devices):
        raise ValueError(
            f"mesh {sizes} needs {total} devices but {len(devices)} are available "
            f"({devices[0].platform}); use -1 for one axis to take all devices, or run with "
            "more devices (CPU: XLA_FLAGS=--xla_force_host_platform_device_count=N)"
        )
    if total < len(devices):
        if jax.process_count() > 1:
            raise ValueError(
                f"mesh {sizes} uses {total} of the {len(devices)} devices of a "
                f"{jax.process_count()}-process run, which needs a mesh over all of them; "
                "use -1 for one axis (parallel=auto or parallel=data)"
            )
        devices = devices[:total]  # one process: the first `total` devices
    local = jax.local_device_count()
    if jax.process_count() > 1 and local % sizes["space"]:
        raise ValueError(
            f"space={sizes['space']} must divide the {local} devices of each process: a "
            "sample is not split across processes"
        )
    grid = np.array(devices, dtype=object).reshape(sizes["data"], sizes["space"])
    return Mesh(grid, AXES)
