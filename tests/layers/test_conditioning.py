"""CAPE and the time-conditioned norm against their formulas; conditioned models respond to
their conditioning and differentiate through it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within, normal

from jaxops import layers, models


def test_time_conditioned_norm_is_the_formula():
    norm = layers.TimeConditionedNorm(3)
    norm = eqx.tree_at(
        lambda n: (n.scale, n.shift),
        norm,
        (normal((2, 3)), normal((2, 3), seed=1)),
    )
    x, t = np.random.default_rng(2).standard_normal((3, 5, 4)).astype(np.float32), 0.7
    mean, var = x.mean(0), x.var(0)
    alpha = np.asarray(norm.scale[0] + t * norm.scale[1])[:, None, None]
    beta = np.asarray(norm.shift[0] + t * norm.shift[1])[:, None, None]
    sigma = np.sqrt(var + 1e-5)
    z = (x - mean) / sigma
    expected = alpha * z + beta
    # float32, per point: the 3-channel mean (<= 2 eps mean|x|) and the subtraction reach z
    # divided by σ; the variance, the root and α, β (two terms each) a few eps relative.
    scale, shift = np.abs(np.asarray(norm.scale)), np.abs(np.asarray(norm.shift))
    size_a = (scale[0] + t * scale[1])[:, None, None]
    size_b = (shift[0] + t * shift[1])[:, None, None]
    atol = 4 * EPS32 * (size_a * np.abs(x).mean(0) / sigma + 2 * size_a * np.abs(z) + size_b)
    assert_within(norm(jnp.asarray(x), t), expected, atol)
    assert norm(x.astype(jnp.bfloat16), t).dtype == jnp.bfloat16


def test_cape_is_attention_weighted_kernels(getkey):
    cape = layers.CAPE(2, 3, (4, 4), width=8, key=getkey())
    u, params = normal((2, 16, 16)), jnp.array([0.3, -1.0, 2.0])

    @eqx.filter_jit
    def by_hand(cape, u, params):
        v = cape.lift(u)
        a = jax.nn.sigmoid(cape.attention(params)).reshape(3, 8, 1, 1)
        mixed = a[0] * cape.kernels[0](v) + a[1] * cape.kernels[1](v) + a[2] * cape.kernels[2](v)
        return cape.project(layers.gelu(mixed))

    apply = eqx.filter_jit(lambda c, u, p: c(u, p))
    np.testing.assert_allclose(apply(cape, u, params), by_hand(cape, u, params), atol=1e-5)
    assert float(jnp.abs(apply(cape, u, params) - apply(cape, u, -params)).max()) > 1e-3
    with pytest.raises(ValueError, match="expects 3 PDE parameters"):
        cape(u, jnp.ones(2))


def test_conditioned_models_depend_on_and_differentiate_through_the_condition(getkey):
    base = {"modes": [4, 4], "width": 8, "depth": 2}
    cape = models.build(
        "cape",
        in_channels=1,
        out_channels=1,
        n_params=1,
        base="fno",
        base_config=base,
        cape_modes=[4, 4],
        key=getkey(),
    )
    timed = models.build(
        "time_fno", in_channels=1, out_channels=1, modes=(4, 4), width=8, depth=2, key=getkey()
    )
    # Give the time norms a non-zero time slope (they start time-independent).
    timed = eqx.tree_at(
        lambda m: [n.scale for n in m.norms], timed, replace_fn=lambda s: s.at[1].set(0.5)
    )
    u = normal((1, 16, 16))
    for model in (cape, timed):
        condition = jnp.array([0.4]) if model is cape else jnp.asarray(0.4)
        out = lambda c, m=model: jnp.sum(m(u, c) ** 2)
        value, grad = eqx.filter_jit(jax.value_and_grad(out))(condition)
        eps = 1e-2
        fd = (eqx.filter_jit(out)(condition + eps) - eqx.filter_jit(out)(condition - eps)) / (
            2 * eps
        )
        np.testing.assert_allclose(jnp.sum(grad), fd, rtol=2e-2)
        assert abs(float(fd)) > 1e-3 * float(value)
