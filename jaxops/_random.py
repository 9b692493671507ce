"""Random draws that compile fast for any shape.

With JAX's default (partitionable) threefry, drawing bits directly in a 4-D shape such as an
FNO weight `(32, 32, 24, 12)` takes ~10 s to compile on CPU, a 1-D draw of the same size
0.3 s (measured with jax 0.10.2). These helpers draw flat and reshape, in one compiled
program per shape and dtype (called eagerly, as model constructors do, the draw and the
reshape would otherwise compile one program each).
"""

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray


def uniform(
    key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32, minval=0.0, maxval=1.0
) -> Array:
    return _uniform(key, tuple(shape), jnp.dtype(dtype), minval, maxval)


def normal(key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32) -> Array:
    return _normal(key, tuple(shape), jnp.dtype(dtype))


@partial(jax.jit, static_argnums=(1, 2))
def _uniform(key, shape, dtype, minval, maxval):
    return jr.uniform(key, (math.prod(shape),), dtype, minval, maxval).reshape(shape)


@partial(jax.jit, static_argnums=(1, 2))
def _normal(key, shape, dtype):
    return jr.normal(key, (math.prod(shape),), dtype).reshape(shape)
