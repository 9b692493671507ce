"""LSM: automatic padding (any resolution, odd and not divisible by the patch size), shapes,
parameter counts (a small configuration and the shipped Darcy one), argument errors. What
every model promises (vmap, bfloat16, gradients, no re-tracing): test_every_model.py."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hydra import compose, initialize_config_dir

from jaxops._config import ConfigError
from jaxops.experiment.paths import config_dir
from jaxops.experiment.schema import register_configs, validate_config
from jaxops.models import build, config_kwargs
from jaxops.models.lsm import LSM, padded_size
from jaxops.train import count_parameters

SMALL = dict(width=4, levels=2, patch_size=(2, 3), num_basis=3, num_tokens=2, heads=2)


@pytest.fixture(scope="module")
def lsm() -> LSM:
    return LSM(1, 2, **SMALL, projection_width=8, key=jax.random.key(0))


def test_padding_makes_every_scale_divisible_by_the_patch(lsm):
    # The official Darcy setting: 85 points, patches of 3 (or 6), five scales → padding 11.
    assert padded_size(85, 3, 5) == padded_size(85, 6, 5) == 96
    assert padded_size(16, 4, 3) == 16 and padded_size(17, 4, 3) == 32
    assert padded_size(7, 1, 4) == 7 and padded_size(10, 3, 1) == 12
    for n, p, levels in [(17, 2, 3), (23, 3, 3), (5, 5, 2), (100, 6, 4), (9, 1, 3)]:
        m = padded_size(n, p, levels)
        scales = [m]
        for _ in range(levels - 1):
            scales.append(-(-scales[-1] // 2))  # ceil-mode pooling
        assert all(s % p == 0 for s in scales)
        # The smallest such size: the next multiple of p·2^(levels−1) (any size when p = 1).
        block = p * 2 ** (levels - 1)
        assert m == (n if p == 1 else -(-n // block) * block)
    assert lsm.padded_shape((17, 23)) == (20, 24)


@pytest.mark.parametrize("spatial", [(16, 16), (17, 23), (48, 40), (5, 7), (85, 85), (1, 2)])
def test_shapes_at_several_resolutions(spatial, lsm):
    out = jax.eval_shape(lsm, jax.ShapeDtypeStruct((1, *spatial), jnp.float32))
    assert out.shape == (2, *spatial)


def conv_block(c_in: int, c_out: int, c_mid: int) -> int:
    """Two bias-free 3×3 convolutions and two GroupNorms (scale and shift per channel)."""
    return 9 * (c_in * c_mid + c_mid * c_out) + 2 * (c_mid + c_out)


def lsm_parameters(c_in, c_out, width, levels, basis, tokens, projection) -> int:
    """Counted by hand from the official `LSM2d`: channels c_i = width·2^i, the coarsest equal
    to the one above; lifting (inputs + 2 coordinates → width); DoubleConv width → width;
    Down i: c_i → c_{i+1}; a neural spectral block per scale (tokens c·T, sin and cos weights
    2·c·M, 1×1 convs c → 2c and c → c with biases); Up i: [skip c_i, upsampled c_i] → c_{i−1}
    (width at i = 0) via c_i; OutConv width → width; projection width → P → out."""
    c = [width * 2**i for i in range(levels)]
    c[-1] = c[-2] if levels > 1 else c[-1]
    total = (c_in + 2) * width + width + conv_block(width, width, width)
    total += sum(conv_block(c[i], c[i + 1], c[i + 1]) for i in range(levels - 1))
    total += sum(k * tokens + 2 * k * basis + (2 * k * k + 2 * k) + (k * k + k) for k in c)
    total += sum(conv_block(2 * c[i], c[i - 1] if i else width, c[i]) for i in range(levels - 1))
    total += width * width + width
    return total + width * projection + projection + projection * c_out + c_out


def test_parameter_count_of_small_configurations(lsm):
    assert count_parameters(lsm) == lsm_parameters(1, 2, 4, 2, 3, 2, 8) == 1334
    three = eqx.filter_eval_shape(
        LSM, 1, 2, **{**SMALL, "levels": 3}, projection_width=8, key=jax.random.key(0)
    )
    assert count_parameters(three) == lsm_parameters(1, 2, 4, 3, 3, 2, 8) == 5042


def test_shipped_configuration_composes_and_counts():
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        config = validate_config(compose("config", overrides=["model=lsm"]))
    kwargs = config_kwargs(config.model)
    assert kwargs["patch_size"] == (3, 3) and (kwargs["width"], kwargs["levels"]) == (64, 5)
    assert (kwargs["num_basis"], kwargs["num_tokens"], kwargs["heads"]) == (12, 4, 8)
    lsm = eqx.filter_eval_shape(
        build, "lsm", in_channels=1, out_channels=1, key=jax.random.key(0), **kwargs
    )
    assert count_parameters(lsm) == lsm_parameters(1, 1, 64, 5, 12, 4, 128) == 19_187_457
    assert lsm.padded_shape((85, 85)) == (96, 96)
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for override, message in [
            ("model.width=12", "model.width=12 must be divisible by model.heads=8"),
            ("model.patch_size=[3]", "model.patch_size=[3] must give two sizes"),
            ("model.num_basis=0", "model.num_basis=0 is invalid: it must be >= 1"),
        ]:
            with pytest.raises(ConfigError, match=re.escape(message)):
                validate_config(compose("config", overrides=["model=lsm", override]))


def test_invalid_arguments_are_rejected(lsm, no_type_checks):
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="width=12 must be divisible by heads=8"):
        LSM(1, 1, width=12, key=key)
    with pytest.raises(ValueError, match="levels must be a positive int, got 0"):
        LSM(1, 1, levels=0, key=key)
    with pytest.raises(ValueError, match="patch_size must be a positive int or two of them"):
        LSM(1, 1, patch_size=(3, 3, 3), key=key)
    with pytest.raises(ValueError, match="num_tokens must be a positive int, got 0"):
        LSM(1, 1, num_tokens=0, key=key)
    shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
    with pytest.raises(ValueError, match=r"LSM expects one 2D sample \(1, H, W\)"):
        jax.eval_shape(lsm, shape(3, 16, 16))
    with pytest.raises(ValueError, match="use jax.vmap for batches"):
        jax.eval_shape(lsm, shape(4, 1, 16, 16))
    with pytest.raises(ValueError, match="use jax.vmap for batches"):
        jax.eval_shape(lsm, shape(1, 16))
