"""The layers' random draws (`jaxops._random`) give JAX's own values, with few programs."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from helpers import EPS32, assert_within

from jaxops._random import _normal, _uniform, normal, uniform

SHAPES = [(1,), (3, 5), (7, 2, 3), (4, 6, 5, 3)]


def test_draws_are_jax_draws_of_the_same_size():
    key = jr.key(5)
    for shape in SHAPES:
        size = int(np.prod(shape))
        # threefry bits and their conversion to [0, 1) are exact integer/bit operations
        np.testing.assert_array_equal(uniform(key, shape), jr.uniform(key, (size,)).reshape(shape))
        # scaling (one multiply-add) and the normal's inverse error function are
        # elementwise: a few roundings of each value, in programs of different sizes
        expected = jr.uniform(key, (size,), minval=-0.4, maxval=0.3).reshape(shape)
        assert_within(uniform(key, shape, minval=-0.4, maxval=0.3), expected, 2 * EPS32 * 0.4)
        expected = jr.normal(key, (size,)).reshape(shape)
        assert_within(normal(key, shape), expected, 4 * EPS32 * (1 + np.abs(expected)))


def test_traced_draws_match_eager_ones():
    """Under `jit`, and under `vmap` over keys (how ensembles of models are built)."""
    draw = lambda k: (uniform(k, (3, 5), minval=-1.0), normal(k, (3, 5)))  # noqa: E731
    keys = jr.split(jr.key(6), 2)
    jitted, vmapped = jax.jit(draw)(keys[0]), jax.vmap(draw)(keys)
    for i, traced in ((0, jitted), (0, [x[0] for x in vmapped]), (1, [x[1] for x in vmapped])):
        eager = draw(keys[i])
        assert_within(traced[0], eager[0], 2 * EPS32)
        assert_within(traced[1], eager[1], 4 * EPS32 * (1 + np.abs(eager[1])))


def test_eager_draws_of_many_shapes_share_a_program():
    key = jr.key(7)
    shapes = [(2, 3), (5, 7), (64,), (4, 4, 4), (33,)]  # all within the 64-value draw
    before = _uniform._cache_size(), _normal._cache_size()
    for shape in shapes:
        uniform(key, shape, jnp.float16)
        normal(key, shape, jnp.float16)
    assert _uniform._cache_size() <= before[0] + 1
    assert _normal._cache_size() <= before[1] + 1
