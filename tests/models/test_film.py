"""FiLM conditioning (Perez et al., AAAI 2018) around any registered model: an untrained one is
its base model (the MLP's last layer starts at zero), and the parameters shift and scale the
input channels and fill the constant ones."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, normal

from jaxops import models

BASE = dict(modes=(3, 3), width=4, depth=2, projection_width=8)


def test_untrained_film_is_its_base_model_with_zero_channels_added():
    model = models.FiLMConditioned(2, 1, 3, "fno", BASE, embed=2, key=jax.random.key(0))
    u, params = normal((2, 12, 10)), normal((3,), seed=1)
    # (1 + 0) u + 0 is u exactly, so both run the base model on the same values, op by op.
    expected = model.base(jnp.concatenate([u, jnp.zeros((2, 12, 10))]))
    np.testing.assert_array_equal(model(u, params), expected)


def test_the_mlp_output_scales_and_shifts_the_channels_and_fills_the_constant_ones():
    model = models.FiLMConditioned(2, 1, 3, "fno", BASE, embed=1, key=jax.random.key(0))
    out = jnp.array([0.5, -0.5, 1.0, 2.0, 3.0])  # γ (2), β (2), e (1); the weight stays 0
    model = eqx.tree_at(lambda m: (m.film.layers[-1].bias, m.base), model, (out, lambda x: x))
    u = normal((2, 8, 8))
    x = model(u, normal((3,), seed=1))  # what the base model reads
    atol = 4 * EPS32 * float(jnp.abs(u).max() + 2)  # two roundings of values up to 1.5|u| + 2
    np.testing.assert_allclose(x[0], 1.5 * u[0] + 1.0, rtol=0, atol=atol)
    np.testing.assert_allclose(x[1], 0.5 * u[1] + 2.0, rtol=0, atol=atol)
    np.testing.assert_array_equal(x[2], 3.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n_params must be a positive int"):
        models.FiLMConditioned(1, 1, 0, "fno", BASE, key=jax.random.key(0))
