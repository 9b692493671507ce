"""Random draws that compile fast for any shape.

With JAX's default (partitionable) threefry, drawing bits directly in a 4-D shape such as an
FNO weight `(32, 32, 24, 12)` takes ~10 s to compile on CPU, a 1-D draw of the same size
0.3 s (measured with jax 0.10.2). These helpers draw flat, and reshape.

Called eagerly, as model constructors do, each new shape would compile its own program
(~0.2 s each; a test suite that builds hundreds of models spends a minute on it). So an
eager draw is made at the next power of two of its size and its first `prod(shape)` values
are kept: with partitionable threefry a value depends only on its flat index, so these are
exactly the values a draw of `prod(shape)` gives (`tests/layers/test_random.py`), and a
few programs serve every layer. Under a trace (a model built under `vmap`, as ensembles
are) the same draw is sliced in the traced program.
"""

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

_SMALLEST = 64


def uniform(
    key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32, minval=0.0, maxval=1.0
) -> Array:
    """`jax.random.uniform(key, shape, dtype, minval, maxval)` drawn flat."""
    shape, dtype = tuple(shape), jnp.dtype(dtype)
    return _first(_uniform(key, _bucket(shape), dtype, minval, maxval), shape)


def normal(key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32) -> Array:
    """`jax.random.normal(key, shape, dtype)` drawn flat."""
    shape, dtype = tuple(shape), jnp.dtype(dtype)
    return _first(_normal(key, _bucket(shape), dtype), shape)


def _bucket(shape: tuple[int, ...]) -> int:
    return max(_SMALLEST, 1 << (math.prod(shape) - 1).bit_length())


def _first(flat: Array, shape: tuple[int, ...]) -> Array:
    """The first `prod(shape)` values of `flat`, reshaped: on the host (no new program) if
    `flat` is concrete, then put on the default device, uncommitted as an eager draw's result
    is (`jnp.asarray` would compile a staging program for each new shape); in the traced
    program otherwise."""
    if isinstance(flat, jax.core.Tracer):
        return flat[: math.prod(shape)].reshape(shape)
    return jax.device_put(np.asarray(flat)[: math.prod(shape)].reshape(shape))


@partial(jax.jit, static_argnums=(1, 2))
def _uniform(key, size: int, dtype, minval, maxval):
    return jr.uniform(key, (size,), dtype, minval, maxval)


@partial(jax.jit, static_argnums=(1, 2))
def _normal(key, size: int, dtype):
    return jr.normal(key, (size,), dtype)
