"""The Flax front-ends run the equinox code: same weights, identical outputs and gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal

import jaxops.flax as jf
from jaxops import layers, models

CASES = {
    "spectral_conv": (
        lambda key: layers.SpectralConv(2, 3, (4, 3), key=key),
        jf.SpectralConv(2, 3, (4, 3)),
        (2, 12, 10),
    ),
    "mg_conv": (
        lambda key: layers.MgConv(2, 2, 3, [[1, 0], [1, 1]], padding="periodic", key=key),
        jf.MgConv(2, 2, 3, [[1, 0], [1, 1]], padding="periodic"),
        (2, 12, 10),
    ),
    "neural_spectral_block": (
        lambda key: layers.NeuralSpectralBlock(8, (3, 3), 4, 2, 2, key=key),
        jf.NeuralSpectralBlock(8, (3, 3), 4, 2, 2),
        (8, 6, 9),
    ),
    "fno": (
        lambda key: models.FNO(1, 2, (4, 4), width=8, depth=2, key=key),
        jf.FNO(1, 2, (4, 4), width=8, depth=2),
        (1, 16, 16),
    ),
}


def channels_last(x):
    return jnp.moveaxis(x, 1, -1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_weights_give_identical_outputs_and_gradients(name, getkey):
    build, module, sample = CASES[name]
    eqx_model = build(getkey())
    x = normal((3, *sample))
    variables = jf.variables_from(eqx_model)
    # Flax's own init creates parameters of the same names, shapes and dtypes.
    init = jax.eval_shape(lambda key, x: module.init(key, channels_last(x)), getkey(), x)
    same = jax.tree.map(lambda a, b: (a.shape, a.dtype) == (b.shape, b.dtype), init, variables)
    assert all(jax.tree.leaves(same))

    # One program per front-end gives the output and the gradient of its sum of squares.
    def flax_loss(variables, x):
        out = module.apply(variables, channels_last(x))
        return jnp.sum(out**2), out

    def eqx_loss(model, x):
        out = channels_last(jax.vmap(model)(x))
        return jnp.sum(out**2), out

    flax_value_and_grad = jax.jit(jax.value_and_grad(flax_loss, has_aux=True))
    (_, flax_out), flax_grad = flax_value_and_grad(variables, x)
    eqx_value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(eqx_loss, has_aux=True))
    (_, eqx_out), eqx_grad = eqx_value_and_grad(eqx_model, x)
    np.testing.assert_array_equal(np.asarray(flax_out), np.asarray(eqx_out))
    eqx_named = jf.variables_from(eqx_grad)["params"]
    for key, value in flax_grad["params"].items():
        np.testing.assert_allclose(value, eqx_named[key], rtol=1e-5, atol=1e-6)


def test_flax_init_is_usable_and_batches_any_leading_axes(getkey):
    module = jf.SpectralConv(1, 1, (3,))
    variables = jax.jit(module.init)(getkey(), jnp.ones((16, 1)))
    out = jax.jit(module.apply)(variables, jnp.ones((2, 5, 16, 1)))
    assert out.shape == (2, 5, 16, 1)
    with pytest.raises(ValueError, match="expects \\(\\*batch, \\*spatial, channels\\)"):
        module.apply(variables, jnp.ones((16,)))
