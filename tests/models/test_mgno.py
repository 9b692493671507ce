"""MgNO: the paper's parameter count, shapes at any resolution, periodic equivariance."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal

from jaxops import models
from jaxops.train import count_parameters


def test_parameter_count_matches_the_paper_darcy_configuration():
    """MgNO Darcy (4 layers, 24 channels, 6 levels): 572,661 parameters by the paper's count
    (its released MgNO_DC): first MgConv 74 853, three of 165 312, skips 48 + 3·600, output 24."""
    shape = eqx.filter_eval_shape(
        models.build, "mgno", in_channels=1, out_channels=1, key=jax.random.key(0)
    )
    assert count_parameters(shape) == 74_853 + 3 * 165_312 + 48 + 3 * 600 + 24 == 572_661


@pytest.mark.parametrize("spatial", [(29, 29), (32, 40)])
def test_shapes(spatial, getkey):
    model = models.MgNO(2, 3, width=4, depth=2, smoothing=[[1, 0]] * 3, key=getkey())
    out = jax.eval_shape(model, jax.ShapeDtypeStruct((2, *spatial), jnp.float32))
    assert out.shape == (3, *spatial)


def test_periodic_mgno_is_translation_equivariant(getkey):
    model = models.MgNO(
        1, 1, width=4, depth=2, smoothing=[[1, 0]] * 3, padding="periodic", key=getkey()
    )
    x = normal((1, 24, 24))
    apply = eqx.filter_jit(model)
    shift = (4, -8)
    np.testing.assert_allclose(
        apply(jnp.roll(x, shift, axis=(1, 2))), jnp.roll(apply(x), shift, axis=(1, 2)), atol=1e-5
    )
