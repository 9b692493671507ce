"""Sharding rules of a run on a device mesh (`make_mesh`): where each array lives.

- Training samples: split along the sample axis over `data` (padded at the end to a multiple
  of the data-axis size; the padding rows are never indexed). Each process builds only the
  shards of its own devices (`jax.make_array_from_callback` reads just those rows).
- Minibatches: split along the batch axis over `data`; the gradient is summed across devices
  by XLA (one all-reduce per step). Gathering a shuffled minibatch from samples spread over
  devices costs one all-reduce of the minibatch, never a copy of the dataset.
- Parameters and optimiser state: replicated, or with `fsdp=True` (ZeRO-3 / FSDP style) each
  array of at least `fsdp_min_size` elements split over `data` along its largest divisible
  axis; XLA all-gathers them where they are used.
- Spatial (domain) sharding: the first spatial axis of the model's input and output is split
  over `space`, so one sample larger than a device's memory can be processed. XLA partitions
  the layers around it: a spectral layer on the matrix-DFT path (≤ 24 kept modes per axis)
  all-reduces only the kept Fourier coefficients, a full FFT all-gathers the field (see
  the README, "Clusters and multiple devices").
"""

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


@dataclass(frozen=True)
class Parallel:
    """A mesh and the sharding rules of a run (see the module docstring)."""

    mesh: Mesh
    fsdp: bool = False
    fsdp_min_size: int = 2**14

    @property
    def data_size(self) -> int:
        return self.mesh.shape["data"]

    @property
    def space_size(self) -> int:
        return self.mesh.shape["space"]

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    def padded(self, n: int) -> int:
        """`n` samples rounded up to a multiple of the data-axis size."""
        return -(-n // self.data_size) * self.data_size

    def check_batch(self, batch_size: int) -> None:
        """The global batch must split evenly over the data axis."""
        if batch_size % self.data_size:
            raise ValueError(
                f"the global batch {batch_size} (trainer.batch_size) is not divisible by the "
                f"{self.data_size} devices of the data axis; choose a multiple, or set "
                "parallel.per_device_batch or parallel.mesh.data"
            )

    # -- placement -------------------------------------------------------------------------

    def put(self, x: Any, sharding: NamedSharding, rows: int | None = None) -> jax.Array:
        """A global array from a host array (numpy, h5py dataset or a jax array) of which each
        process reads only the slices its devices hold. With `rows`, the leading axis is
        zero-padded to `rows`."""
        if isinstance(x, jax.Array) and x.sharding == sharding and rows in (None, len(x)):
            return x
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(self.put(jax.random.key_data(x), sharding, rows))
        if isinstance(x, jax.Array) and not x.is_fully_addressable:  # already global: reshard
            pad = [(0, (rows or len(x)) - len(x))] + [(0, 0)] * (x.ndim - 1) if x.ndim else []
            return jax.jit(lambda a: jnp.pad(a, pad), out_shardings=sharding)(x)
        n = len(x) if np.ndim(x) else 0
        shape = (rows, *np.shape(x)[1:]) if rows is not None else np.shape(x)
        dtype = x.dtype

        def read(index: tuple) -> np.ndarray:
            if rows is None or not index:
                return np.asarray(x[index])
            first, last, _ = index[0].indices(rows)
            block = np.zeros((last - first, *np.shape(x)[1:]), dtype)
            if first < n:
                block[: min(last, n) - first] = np.asarray(x[(slice(first, min(last, n)),)])
            return block[(slice(None), *index[1:])]

        return jax.make_array_from_callback(shape, sharding, read)

    def samples(self, tree: Any) -> Any:
        """Every array leaf (sample axis first) split over `data`, padded to a multiple."""
        return jax.tree.map(
            lambda x: self.put(x, self.sample_sharding(np.ndim(x)), self.padded(len(x))), tree
        )

    def eval_samples(self, tree: Any) -> Any:
        """Evaluation sets: split over `data` where the sample count divides evenly (their
        per-sample errors must not include padding), replicated otherwise."""

        def place(x):
            split = np.ndim(x) and len(x) % self.data_size == 0
            return self.put(x, self.sample_sharding(np.ndim(x)) if split else self.replicated)

        return jax.tree.map(place, tree)

    def replicate(self, tree: Any) -> Any:
        """Every array leaf copied to all devices (other leaves untouched)."""
        return _map_arrays(lambda x: self.put(x, self.replicated), tree)

    def params(self, tree: Any) -> Any:
        """The array leaves of a model, optimiser state or any pytree, placed by
        `param_sharding` (replicated unless `fsdp`)."""
        return _map_arrays(lambda x: self.put(x, self.param_sharding(x.shape)), tree)

    # -- rules -----------------------------------------------------------------------------

    def sample_sharding(self, ndim: int) -> NamedSharding:
        return NamedSharding(self.mesh, P("data", *[None] * (ndim - 1)) if ndim else P())

    def param_sharding(self, shape: tuple[int, ...]) -> NamedSharding:
        """FSDP: the largest axis divisible by the data size, for arrays of at least
        `fsdp_min_size` elements; else replicated."""
        if not self.fsdp or self.data_size == 1 or int(np.prod(shape)) < self.fsdp_min_size:
            return self.replicated
        for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
            if shape[axis] % self.data_size == 0:
                spec = [None] * len(shape)
                spec[axis] = "data"
                return NamedSharding(self.mesh, P(*spec))
        return self.replicated

    def constrain_batch(self, x: jax.Array) -> jax.Array:
        """Inside a compiled step: split a minibatch (batch axis first) over `data`."""
        spec = P("data", *[None] * (x.ndim - 1))
        return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, spec))

    def constrain_space(self, x: jax.Array) -> jax.Array:
        """Inside a compiled step: split one sample `(C, X, ...)` along X over `space`."""
        if self.space_size == 1 or x.ndim < 2:
            return x
        spec = P(None, "space", *[None] * (x.ndim - 2))
        return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, spec))

    def spatial(self, model: Any) -> Any:
        """`model` with its input and output split over `space` (unchanged if space = 1)."""
        return model if self.space_size == 1 else SpatiallySharded(model, self)


def _map_arrays(f, tree: Any) -> Any:
    arrays, static = eqx.partition(tree, eqx.is_array)
    return eqx.combine(jax.tree.map(f, arrays), static)


class SpatiallySharded(eqx.Module):
    """Runs `model` on one sample whose first spatial axis is split over the `space` axis."""

    model: Any
    parallel: Parallel = eqx.field(static=True)

    def __call__(self, x, *args, **kwargs):
        out = self.model(self.parallel.constrain_space(x), *args, **kwargs)
        return self.parallel.constrain_space(out)


def to_host(tree: Any) -> Any:
    """Numpy copies of the array leaves, gathered from every process where needed."""

    def fetch(x):
        if not isinstance(x, jax.Array) or x.is_fully_addressable or x.is_fully_replicated:
            return np.asarray(x)
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))

    return jax.tree.map(fetch, tree)


def is_primary() -> bool:
    """Whether this process writes logs, figures and summaries (process 0)."""
    return jax.process_index() == 0


def param_bytes(tree: Any, parallel: Parallel | None = None) -> int:
    """Bytes of the arrays (or shape structs) of `tree` that one device holds when placed by
    `parallel.param_sharding` (all of them without `parallel`)."""
    total = 0
    arrays = lambda x: isinstance(x, jax.Array | jax.ShapeDtypeStruct | np.ndarray)
    for x in jax.tree.leaves(eqx.filter(tree, arrays)):
        shape = tuple(x.shape)
        if parallel is not None:
            shape = parallel.param_sharding(shape).shard_shape(shape)
        total += int(np.prod(shape)) * jnp.dtype(x.dtype).itemsize
    return total
