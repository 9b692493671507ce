"""Scale-out on JAX's own runtime: a device mesh from config, sharding rules for data
parallelism, FSDP and spatial (domain) sharding, and multi-host start-up.

    import jaxops.parallel as par
    par.initialize()                                   # multi-host: before any JAX work
    parallel = par.Parallel(par.make_mesh({"data": -1}))
    result = jaxops.train.fit(model, train, test, ..., parallel=parallel)

From the shell: `jaxops train parallel=data` (or `fsdp`, `spatial`, `parallel.mesh.data=4`).
"""

from .distributed import initialize, launcher, process_zero_value
from .mesh import AXES, make_mesh
from .sharding import Parallel, SpatiallySharded, is_primary, param_bytes, to_host

__all__ = [
    "AXES",
    "Parallel",
    "SpatiallySharded",
    "initialize",
    "is_primary",
    "launcher",
    "param_bytes",
    "make_mesh",
    "process_zero_value",
    "to_host",
]
