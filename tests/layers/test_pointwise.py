import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within, normal

from jaxops.layers import ChannelMLP, PointwiseLinear, grid_coordinates


def test_pointwise_linear_is_a_per_point_affine_map(getkey):
    layer = PointwiseLinear(3, 2, key=getkey())
    x = np.asarray(normal((3, 5, 4)))
    weight, bias = np.asarray(layer.weight, np.float64), np.asarray(layer.bias)[:, None, None]
    expected = np.einsum("oi,ixy->oxy", weight, x) + bias
    # 3 products and the bias, summed in float32: within 4 eps (|W| |x| + |b|) per output
    magnitude = np.einsum("oi,ixy->oxy", np.abs(weight), np.abs(x)) + np.abs(bias)
    assert_within(layer(jnp.asarray(x)), expected, 4 * EPS32 * magnitude)
    with pytest.raises(ValueError, match="expected 3 input channels"):
        layer(jnp.ones((2, 5, 4)))


def test_channel_mlp_shapes(getkey):
    mlp = ChannelMLP(4, 16, 2, key=getkey())
    assert mlp(jnp.ones((4, 7))).shape == (2, 7)


def test_grid_coordinates(no_type_checks):
    nodal = grid_coordinates((3, 5), "nodal")
    np.testing.assert_allclose(nodal[0, :, 0], [0, 0.5, 1])
    np.testing.assert_allclose(nodal[1, 0], np.linspace(0, 1, 5))
    periodic = grid_coordinates((4,), "periodic")
    np.testing.assert_allclose(periodic[0], [0, 0.25, 0.5, 0.75])
    with pytest.raises(ValueError, match="nodal' or 'periodic"):
        grid_coordinates((4,), "cell")
