"""Random draws that compile fast for any shape.

With JAX's default (partitionable) threefry, drawing bits directly in a 4-D shape such as an
FNO weight `(32, 32, 24, 12)` takes ~10 s to compile on CPU, a 1-D draw of the same size
0.3 s (measured with jax 0.10.2). These helpers draw flat and reshape.
"""

import math
from collections.abc import Sequence

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray


def uniform(
    key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32, minval=0.0, maxval=1.0
) -> Array:
    shape = tuple(shape)
    return jr.uniform(key, (math.prod(shape),), dtype, minval, maxval).reshape(shape)


def normal(key: PRNGKeyArray, shape: Sequence[int], dtype=jnp.float32) -> Array:
    shape = tuple(shape)
    return jr.normal(key, (math.prod(shape),), dtype).reshape(shape)
