"""Subprocess body of `test_generate_parallel`: generate a small Darcy dataset with as many
CPU devices as the environment's XLA_FLAGS force.

    python _generate_worker.py PATH DEVICES [--mesh] [--port PORT --process-id I]

`--mesh` passes `mesh=make_mesh({"data": DEVICES})` and checks that every chunk's indices
were split over that mesh; `--port` starts `jax.distributed` (2 processes on localhost)
and checks that this process wrote only its own chunk."""

import argparse
import os

import jax

parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("devices", type=int)
parser.add_argument("--mesh", action="store_true")
parser.add_argument("--port", type=int)
parser.add_argument("--process-id", type=int)
args = parser.parse_args()

if os.environ.get("JAXOPS_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["JAXOPS_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

import jaxops.parallel as par  # noqa: E402

if args.port is not None:  # before any JAX work
    assert par.initialize(
        mode="on",
        coordinator_address=f"localhost:{args.port}",
        num_processes=2,
        process_id=args.process_id,
    )
    assert jax.process_count() == 2 and jax.process_index() == args.process_id

from jax.sharding import NamedSharding, PartitionSpec  # noqa: E402

from jaxops.data import generate as gen  # noqa: E402
from jaxops.pde import DarcyFlow  # noqa: E402

assert jax.local_device_count() == args.devices, jax.local_devices()
assert jax.device_count() == args.devices * jax.process_count(), jax.devices()

mesh, placed = None, []
if args.mesh:
    mesh = par.make_mesh({"data": args.devices})
    assert mesh.shape["data"] == args.devices
    sharded_indices = gen._sharded_indices

    def spy(indices, mesh=None):
        out = sharded_indices(indices, mesh)
        placed.append(out.sharding)
        return out

    gen._sharded_indices = spy

saved, save_part = [], gen._save_part


def record_save(path, arrays):
    saved.append(path.name)
    save_part(path, arrays)


gen._save_part = record_save
gen.generate_dataset(
    DarcyFlow(n=17, preconditioner="jacobi"),
    args.path,
    12,
    seed=7,
    chunk_size=8,
    config_yaml="pde: darcy\n",
    progress=False,
    mesh=mesh,
)
if args.mesh:
    assert len(placed) == 2, placed  # two chunks of 8, the last one padded
    for sharding in placed:
        assert isinstance(sharding, NamedSharding) and sharding.mesh == mesh, sharding
        assert sharding.spec == PartitionSpec("data"), sharding
        assert len(sharding.device_set) == args.devices, sharding
if args.port is not None:  # process p generated chunk p of the two, and only that one
    assert saved == [f"{args.process_id:06d}.npz"], saved
else:
    assert saved == ["000000.npz", "000001.npz"], saved
print("worker done", flush=True)
