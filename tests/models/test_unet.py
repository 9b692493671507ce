"""U-Net and its blocks: shapes in 1D/2D/3D at even and odd sizes, ceil-mode pooling and
upsampling known answers, the gradient in 1D, parameter counts (a small configuration and the
shipped one), argument errors. What every model promises: test_every_model.py."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import directional_derivatives, normal, with_numpy_parameters
from hydra import compose, initialize_config_dir

from jaxops.experiment.paths import config_dir
from jaxops.experiment.schema import register_configs, validate_config
from jaxops.layers.unet_blocks import ConvBlock, Up, max_pool, upsample
from jaxops.models import build, config_kwargs
from jaxops.models.unet import UNet
from jaxops.train import count_parameters

SMALL = dict(width=4, levels=2, projection_width=8)


@pytest.fixture(scope="module")
def unet2d() -> UNet:
    return UNet(2, 3, dims=2, **SMALL, key=jax.random.key(0))


@pytest.mark.parametrize(
    "spatial", [(16, 16), (17, 23), (48, 40), (5, 9), (1, 3), (64,), (37,), (9, 8, 7)]
)
def test_shapes_at_several_resolutions_and_dimensions(spatial):
    def apply(key):
        unet = UNet(2, 3, dims=len(spatial), width=4, levels=3, key=key)
        return unet(jnp.zeros((2, *spatial)))

    assert eqx.filter_eval_shape(apply, jax.random.key(0)).shape == (3, *spatial)


def test_ceil_mode_pooling_and_upsampling_onto_the_skip_grid():
    x = np.arange(15.0).reshape(1, 3, 5)
    expected = np.array([[[6.0, 8.0, 9.0], [11.0, 13.0, 14.0]]])  # last row/column alone
    np.testing.assert_array_equal(np.asarray(max_pool(jnp.asarray(x))), expected)
    np.testing.assert_array_equal(np.asarray(max_pool(jnp.asarray([[1.0, -2.0, -3.0]]))), [[1, -3]])
    # Multilinear upsampling reproduces constants and linear functions away from the ends.
    np.testing.assert_allclose(np.asarray(upsample(jnp.full((2, 3, 4), 1.5), (5, 7))), 1.5)
    # Coarse node j (value j) sits at fine coordinate 2j + 0.5, for even and odd sizes.
    fine = np.asarray(upsample(jnp.arange(4.0)[None], (8,)))[0]
    np.testing.assert_allclose(fine, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0])
    fine = np.asarray(upsample(jnp.arange(3.0)[None], (5,)))[0]
    np.testing.assert_allclose(fine, [0.0, 0.25, 0.75, 1.25, 1.75])
    up = lambda k: Up(2, 6, 3, 4, key=k)(jnp.zeros((6, 9, 12)), jnp.zeros((3, 17, 23)))
    assert eqx.filter_eval_shape(up, jax.random.key(0)).shape == (4, 17, 23)


def test_gradient_matches_finite_differences_in_one_dimension(x64):
    """A tiny 1D U-Net in float64, one sample of 11 points (pooled to 6)."""
    tiny = dict(dims=1, width=2, levels=1, projection_width=4)
    abstract = eqx.filter_eval_shape(UNet, 2, 3, **tiny, key=jax.random.key(1), dtype=jnp.float64)
    unet = with_numpy_parameters(abstract, seed=1)
    x = normal((2, 11), seed=3, dtype=jnp.float64)
    ad, fd = directional_derivatives(lambda model: jnp.mean(model(x) ** 2), unet)
    np.testing.assert_allclose(ad, fd, rtol=1e-6)


def conv_block(c_in: int, c_out: int, c_mid: int, dims: int = 2) -> int:
    """Two bias-free 3^d convolutions and two GroupNorms (scale and shift per channel)."""
    return 3**dims * (c_in * c_mid + c_mid * c_out) + 2 * (c_mid + c_out)


def unet_parameters(c_in, c_out, width, levels, projection, dims=2) -> int:
    """Counted by hand: lifting (inputs + coordinates → width); ConvBlock width → width;
    Down i: c_i → 2c_i; Up i: [skip c_i, upsampled 2c_i] → c_i; projection width → P → out."""
    c = [width * 2**i for i in range(levels + 1)]
    total = (c_in + dims) * width + width + conv_block(width, width, width, dims)
    total += sum(conv_block(c[i], c[i + 1], c[i + 1], dims) for i in range(levels))
    total += sum(conv_block(3 * c[i], c[i], c[i], dims) for i in range(levels))
    return total + width * projection + projection + projection * c_out + c_out


def test_parameter_count_of_a_small_configuration():
    unet = eqx.filter_eval_shape(UNet, 1, 1, **SMALL, key=jax.random.key(0))
    assert count_parameters(unet) == unet_parameters(1, 1, 4, 2, 8) == 7713
    block = eqx.filter_eval_shape(ConvBlock, 1, 3, 5, 4, key=jax.random.key(0))
    assert count_parameters(block) == conv_block(3, 5, 4, dims=1) == 3 * (12 + 20) + 2 * 9


def test_shipped_configuration_composes_and_counts():
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        config = validate_config(compose("config", overrides=["model=unet"]))
    kwargs = config_kwargs(config.model)
    assert (kwargs["width"], kwargs["levels"], kwargs["dims"]) == (64, 4, 2)
    unet = eqx.filter_eval_shape(
        build, "unet", in_channels=1, out_channels=1, key=jax.random.key(0), **kwargs
    )
    assert count_parameters(unet) == unet_parameters(1, 1, 64, 4, 128) == 31_428_609


def test_invalid_arguments_are_rejected(unet2d, no_type_checks):
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="levels must be a positive int, got 0"):
        UNet(1, 1, levels=0, key=key)
    with pytest.raises(ValueError, match="width must be a positive int, got -2"):
        UNet(1, 1, width=-2, key=key)
    with pytest.raises(ValueError, match="grid must be 'nodal', 'periodic' or None"):
        UNet(1, 1, grid="cartesian", key=key)
    with pytest.raises(ValueError, match="padding must be a boundary condition"):
        UNet(1, 1, padding_mode="mirror", key=key)
    shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
    with pytest.raises(ValueError, match=r"UNet expects one sample \(2, 2 spatial axes\)"):
        jax.eval_shape(unet2d, shape(3, 16, 16))
    with pytest.raises(ValueError, match="use jax.vmap for batches"):
        jax.eval_shape(unet2d, shape(4, 2, 16, 16))
    with pytest.raises(ValueError, match=r"expects the coarse grid ceil\(size/2\) = \(9, 12\)"):
        upsample(jnp.zeros((2, 8, 12)), (17, 23))
    with pytest.raises(ValueError, match="skip connection with 3 channels"):
        eqx.filter_eval_shape(
            lambda k: Up(2, 6, 3, 4, key=k)(jnp.zeros((6, 4, 4)), jnp.zeros((5, 8, 8))), key
        )
