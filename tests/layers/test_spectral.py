"""SpectralConv against a dense-DFT reference and the properties it claims: exact
resolution invariance on band-limited inputs, cut-off of high modes, translation
equivariance, 1/2/3-D, even and odd sizes."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import trig_field
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jaxops.layers import SpectralConv
from jaxops.layers.spectral import _truncate, _zero_fill


def reference(layer: SpectralConv, x: np.ndarray) -> np.ndarray:
    """Direct evaluation: y(x_j) = Re Σ_k Ŵ(k) x̂(k) e^{2πi k·x_j}, summed over the full set of
    frequencies the layer keeps, with the Hermitian partners the real FFT implies."""
    spatial = x.shape[1:]
    modes = layer.modes
    w = np.asarray(layer.weight_real) + 1j * np.asarray(layer.weight_imag)
    x_hat = np.fft.fftn(x, axes=tuple(range(1, x.ndim)))
    y_hat = np.zeros((w.shape[0], *spatial), complex)
    # Index sets of kept frequencies on each axis, as positions in the full FFT.
    kept = [
        list(range(m)) + list(range(n - m, n))
        for m, n in zip(modes[:-1], spatial[:-1], strict=True)
    ]
    kept.append(list(range(modes[-1])))
    for index in np.ndindex(*[len(k) for k in kept]):
        freq = tuple(k[i] for k, i in zip(kept, index, strict=True))
        y_hat[(slice(None), *freq)] = (
            w[(slice(None), slice(None), *index)] @ x_hat[(slice(None), *freq)]
        )
    # irfftn semantics: the last axis holds non-negative frequencies; mirror the rest.
    last = spatial[-1]
    full = np.zeros_like(y_hat)
    for k in range(modes[-1]):
        full[..., k] += y_hat[..., k]
        if 0 < k and (last % 2 == 1 or k < last // 2):
            conj = np.conj(y_hat[..., k])
            conj = np.flip(conj, axis=tuple(range(1, x.ndim - 1)))
            conj = np.roll(conj, 1, axis=tuple(range(1, x.ndim - 1)))
            full[..., last - k] += conj
    return np.fft.ifftn(full, axes=tuple(range(1, x.ndim))).real


@pytest.mark.parametrize(
    "spatial, modes", [((16,), (5,)), ((12, 9), (4, 3)), ((8, 7, 10), (3, 2, 4))]
)
def test_matches_dense_reference(spatial, modes, getkey):
    layer = SpectralConv(3, 2, modes, key=getkey())
    x = np.asarray(jax.random.normal(getkey(), (3, *spatial)))
    np.testing.assert_allclose(layer(jnp.asarray(x)), reference(layer, x), atol=1e-5)


@pytest.mark.parametrize("coarse", [(16, 16), (15, 17)])
def test_exact_resolution_invariance_on_band_limited_input(coarse, getkey):
    layer = SpectralConv(2, 3, (6, 6), key=getkey())
    fine = tuple(2 * n for n in coarse)
    x_coarse = trig_field(coarse, max_mode=4, channels=2)
    x_fine = trig_field(fine, max_mode=4, channels=2)
    np.testing.assert_allclose(x_fine[:, ::2, ::2], x_coarse, atol=1e-12)  # same function
    y_coarse, y_fine = layer(jnp.asarray(x_coarse)), layer(jnp.asarray(x_fine))
    np.testing.assert_allclose(y_fine[:, ::2, ::2], y_coarse, atol=1e-5)


def test_modes_above_the_cutoff_are_removed(getkey):
    layer = SpectralConv(1, 1, (4, 4), key=getkey())
    x = np.arange(32) / 32
    high = np.cos(2 * np.pi * 6 * x)[None, :, None] * np.ones((1, 32, 32))
    assert float(jnp.max(jnp.abs(layer(jnp.asarray(high))))) < 1e-5


def test_translation_equivariance(getkey):
    layer = SpectralConv(2, 2, (5, 5), key=getkey())
    x = jax.random.normal(getkey(), (2, 24, 20))
    shifted = jnp.roll(x, (5, -3), axis=(1, 2))
    np.testing.assert_allclose(layer(shifted), jnp.roll(layer(x), (5, -3), axis=(1, 2)), atol=1e-5)


def test_low_precision_input_keeps_its_dtype(getkey):
    layer = SpectralConv(2, 2, (3, 3), key=getkey())
    x = jax.random.normal(getkey(), (2, 8, 8))
    y = layer(x.astype(jnp.bfloat16))
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(y.astype(jnp.float32), layer(x), atol=0.05)


def test_jit_vmap_grad_without_retracing(getkey):
    layer = SpectralConv(2, 2, (3, 3), key=getkey())

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def loss(layer, x):
        return jnp.mean(jax.vmap(layer)(x) ** 2)

    grad = eqx.filter_grad(loss)
    for _ in range(3):
        g = grad(layer, jax.random.normal(getkey(), (4, 2, 8, 8)))
    assert jnp.all(jnp.isfinite(g.weight_real)) and float(jnp.abs(g.weight_imag).sum()) > 0


@pytest.mark.parametrize(
    "spatial, match", [((10, 16), "axis 0 has 10 points"), ((16, 8), "axis 1 has 8")]
)
def test_too_coarse_grid_is_rejected(spatial, match, getkey):
    layer = SpectralConv(1, 1, (6, 6), key=getkey())
    with pytest.raises(ValueError, match=match):
        layer(jnp.ones((1, *spatial)))


def test_wrong_dimension_and_modes_are_rejected(getkey):
    with pytest.raises(ValueError, match="one per spatial axis"):
        SpectralConv(1, 1, 4, key=getkey())
    with pytest.raises(ValueError, match="2 spatial axes"):
        SpectralConv(1, 1, (4,), key=getkey())(jnp.ones((1, 16, 16)))


@settings(max_examples=25, deadline=None)
@given(n0=st.integers(2, 21), n1=st.integers(2, 21), m0=st.integers(1, 10), m1=st.integers(1, 11))
def test_kept_frequencies_for_even_and_odd_sizes(n0, n1, m0, m1):
    """Truncate-then-fill keeps exactly frequencies −m0 ≤ k0 < m0 and 0 ≤ k1 < m1 of a half
    spectrum, for any sizes that admit the modes; the kept set comes from np.fft.fftfreq."""
    assume(m0 <= n0 // 2 and m1 <= n1 // 2 + 1)
    spectrum = (n0, n1 // 2 + 1)
    x = np.random.default_rng(n0 * 100 + n1).normal(size=(1, *spectrum)).astype(np.float32)
    filled = np.asarray(_zero_fill(_truncate(jnp.asarray(x), (m0, m1)), (m0, m1), spectrum))
    k0 = np.round(np.fft.fftfreq(n0) * n0)
    k1 = np.arange(spectrum[1])
    kept = ((k0 >= -m0) & (k0 < m0))[:, None] & (k1 < m1)[None, :]
    np.testing.assert_array_equal(filled[0], np.where(kept, x[0], 0.0))
