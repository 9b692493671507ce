"""NeuralSpectralBlock (LSM) against a loop-by-loop numpy reference of the paper's formulas,
the spectral transition as its formula, patchify round trip, parameter count, dtypes, vmap and
argument errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxops.layers.latent import NeuralSpectralBlock, depatchify, patchify
from jaxops.train import count_parameters


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def transition(z: float, w_sin: np.ndarray, w_cos: np.ndarray) -> float:
    """One channel's scalar map z + Σ_m w_sin[m] sin(π m z/M) + w_cos[m] cos(π m z/M)."""
    num_basis = len(w_sin)
    return z + sum(
        w_sin[m] * np.sin(np.pi * m * z / num_basis) + w_cos[m] * np.cos(np.pi * m * z / num_basis)
        for m in range(num_basis)
    )


def reference(block: NeuralSpectralBlock, x: np.ndarray) -> np.ndarray:
    """The block written out: loops over patches, heads, channels and tokens, explicit softmax;
    keys/values from encoder channels 2c / 2c+1, queries from the decoder."""
    c_total, height, width = x.shape
    p, q = block.patch_size
    heads = block.heads
    latent = np.asarray(block.latent, np.float64)  # (heads, T, d)
    _, tokens, d = latent.shape
    w_sin, w_cos = np.asarray(block.weight_sin), np.asarray(block.weight_cos)
    conv = lambda layer, f: (
        np.einsum("oc,chw->ohw", np.asarray(layer.weight), f)
        + np.asarray(layer.bias)[:, None, None]
    )
    kv, queries = conv(block.encoder, x), conv(block.decoder, x)
    y = x.astype(np.float64).copy()
    for i in range(height // p):
        for j in range(width // q):
            rows, cols = slice(i * p, (i + 1) * p), slice(j * q, (j + 1) * q)
            z = np.zeros((c_total, tokens))
            for h in range(heads):
                channels = list(range(h * d, (h + 1) * d))
                keys = kv[[2 * c for c in channels], rows, cols].reshape(d, -1)
                values = kv[[2 * c + 1 for c in channels], rows, cols].reshape(d, -1)
                attention = softmax(latent[h] @ keys)  # (T, L)
                z[channels] = (attention @ values.T + latent[h]).T
            for c in range(c_total):
                for t in range(tokens):
                    z[c, t] = transition(z[c, t], w_sin[c], w_cos[c])
            for h in range(heads):
                channels = list(range(h * d, (h + 1) * d))
                query = queries[channels, rows, cols].reshape(d, -1)  # (d, L)
                attention = softmax(query.T @ z[channels])  # (L, T)
                y[channels, rows, cols] += (attention @ z[channels].T).T.reshape(d, p, q)
    return y


def randomised(block: NeuralSpectralBlock, seed: int = 0) -> NeuralSpectralBlock:
    """The block with O(1) tokens and spectral weights (its initialisation is uniform on
    [0, 1/C), which makes attention nearly uniform), drawn with numpy."""
    rng = np.random.default_rng(seed)
    get = lambda b: (b.latent, b.weight_sin, b.weight_cos)
    draw = lambda a: jnp.asarray(rng.standard_normal(a.shape), a.dtype)
    return eqx.tree_at(get, block, tuple(draw(a) for a in get(block)))


@eqx.filter_jit
def astype(tree, dtype):
    """The floating-point arrays of `tree` cast to `dtype` (one compiled call, not one per leaf)."""
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


@pytest.fixture(scope="module")
def block() -> NeuralSpectralBlock:
    """8 channels, 2 heads, 3 tokens, 5 basis functions, 3×2 patches (float32)."""
    made = NeuralSpectralBlock(8, (3, 2), num_basis=5, num_tokens=3, heads=2, key=jax.random.key(0))
    return randomised(made)


def test_block_matches_the_loop_reference(block, x64):
    block = astype(block, jnp.float64)
    x = np.random.default_rng(1).standard_normal((8, 6, 4))
    expected = reference(block, x)
    actual = np.asarray(eqx.filter_jit(block)(jnp.asarray(x)))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(expected - x).max() > 0.1  # the block does change its input


def test_spectral_transition_is_the_formula(block, x64):
    block = astype(block, jnp.float64)
    z = 3 * np.random.default_rng(2).standard_normal((5, 8, 3))
    actual = np.asarray(block.spectral_transition(jnp.asarray(z)))
    w_sin, w_cos = np.asarray(block.weight_sin), np.asarray(block.weight_cos)
    for index in np.ndindex(*z.shape):
        c = index[1]
        assert abs(actual[index] - transition(z[index], w_sin[c], w_cos[c])) < 1e-12


@pytest.mark.parametrize(
    "shape, patch", [((3, 6, 4), (3, 2)), ((2, 8, 8), (4, 4)), ((1, 5, 7), (5, 1))]
)
def test_patchify_round_trip_is_identity(shape, patch):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    patches = np.asarray(patchify(x, patch))
    columns = shape[2] // patch[1]
    assert patches.shape == ((shape[1] // patch[0]) * columns, shape[0], *patch)
    i, j = divmod(1, columns)  # patches are row-major over the patch grid
    rows, cols = slice(i * patch[0], (i + 1) * patch[0]), slice(j * patch[1], (j + 1) * patch[1])
    np.testing.assert_array_equal(patches[1], x[:, rows, cols])
    np.testing.assert_array_equal(np.asarray(depatchify(patches, shape[1:])), x)


def test_parameter_count():
    c, basis, tokens = 16, 12, 4
    block = eqx.filter_eval_shape(
        NeuralSpectralBlock, c, 6, basis, tokens, 8, key=jax.random.key(0)
    )
    expected = c * tokens + 2 * c * basis + (2 * c * c + 2 * c) + (c * c + c)
    assert count_parameters(block) == expected == 1264


def test_bfloat16_close_to_float32_and_vmap_equals_loop(block):
    x = jnp.asarray(np.random.default_rng(3).standard_normal((3, 8, 6, 4)), jnp.float32)
    apply = eqx.filter_jit(jax.vmap(lambda b, xi: b(xi), in_axes=(None, 0)))
    y = apply(block, x)
    single = eqx.filter_jit(lambda b, xi: b(xi))
    for xi, yi in zip(x, y, strict=True):
        np.testing.assert_allclose(single(block, xi), yi, atol=1e-5)
    y_bf16 = apply(astype(block, jnp.bfloat16), x.astype(jnp.bfloat16))
    assert y_bf16.dtype == jnp.bfloat16 and bool(jnp.isfinite(y_bf16).all())
    error = jnp.linalg.norm(y_bf16.astype(jnp.float32) - y) / jnp.linalg.norm(y)
    assert error < 2e-2


def test_invalid_arguments_are_rejected(block, no_type_checks):
    with pytest.raises(ValueError, match="channels=12 must be divisible by heads=8"):
        NeuralSpectralBlock(12, 4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="patch_size must be a positive int or two"):
        NeuralSpectralBlock(8, (4, 0), key=jax.random.key(0))
    with pytest.raises(ValueError, match="num_basis must be a positive int, got 0"):
        NeuralSpectralBlock(8, 4, num_basis=0, key=jax.random.key(0))
    shape = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
    with pytest.raises(ValueError, match=r"spatial size \(6, 5\) is not divisible by patch_size"):
        jax.eval_shape(block, shape(8, 6, 5))
    with pytest.raises(ValueError, match=r"expects one sample \(8, H, W\)"):
        jax.eval_shape(block, shape(4, 6, 4))
    with pytest.raises(ValueError, match="use jax.vmap for batches"):
        jax.eval_shape(block, shape(2, 8, 6, 4))
