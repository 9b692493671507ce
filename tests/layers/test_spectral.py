"""SpectralConv against a dense-DFT reference and the properties it claims: exact
resolution invariance on band-limited inputs, cut-off of high modes, translation
equivariance, 1/2/3-D, even and odd sizes; both ways of transforming an axis (matrix DFT and
FFT); the CP-factorised weight against the dense layer with the reconstructed weight."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within, normal, trig_field, without_type_checks
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jaxops.layers import SpectralConv, spectral
from jaxops.train import count_parameters


def use_transform(monkeypatch, path: str) -> None:
    """Transform every axis by matrix DFTs (`"matrix"`) or by FFTs (`"fft"`)."""
    monkeypatch.setattr(spectral, "_MATRIX_DFT_MAX_KEPT", 10**9 if path == "matrix" else 0)


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


def rounding_bound(layer: SpectralConv, x) -> np.ndarray:
    """Bound on the float32 rounding error of each output channel of `layer(x)`: every output
    value sums products W(k) x_j e^{iθ} / N over all points j, input channels and kept modes k
    (with their conjugates), along a chain of at most `roundings` additions: the DFT over each
    axis (n terms on the last, 2n complex parts on the others), the channel mixing (2 · in),
    the inverse DFT over the kept modes (2m on the last axis, 4m on the others). An FFT adds
    fewer (2 log2 n per axis). So |δy_o| <= roundings · eps · size_o with
    size_o = 2 Σ_k Σ_i |W_oi(k)| · max_i Σ_j |x_ij| / N."""
    x = np.asarray(x)
    w = dense_weight(layer) if layer.weight_real is None else (
        np.asarray(layer.weight_real) + 1j * np.asarray(layer.weight_imag))  # fmt: skip
    spatial, modes = x.shape[1:], layer.modes
    roundings = (spatial[-1] + 2 * sum(spatial[:-1]) + 2 * x.shape[0] + 2 * modes[-1]
                 + 4 * sum(modes[:-1]))  # fmt: skip
    weights = np.abs(w).reshape(w.shape[0], -1).sum(axis=1)  # Σ_i Σ_k |W_oi(k)|, per output
    inputs = np.abs(x).reshape(x.shape[0], -1).sum(axis=1).max()  # max_i Σ_j |x_ij|
    size = 2 * weights * inputs / np.prod(spatial)
    return (roundings * EPS32 * size).reshape(-1, *([1] * len(spatial)))


@pytest.mark.parametrize(
    "spatial, modes, path",
    [
        ((16,), (5,), "matrix"),
        ((12, 9), (4, 3), "matrix"),
        ((8, 7, 10), (3, 2, 4), "matrix"),
        ((8, 7, 10), (3, 2, 4), "fft"),
    ],
)
def test_matches_dense_reference(spatial, modes, path, monkeypatch, getkey):
    use_transform(monkeypatch, path)
    layer = SpectralConv(3, 2, modes, key=getkey())
    x = np.asarray(normal((3, *spatial)))
    assert_within(layer(jnp.asarray(x)), reference(layer, x), rounding_bound(layer, x))


@pytest.mark.parametrize("coarse", [(16, 16), (15, 17)])
@pytest.mark.parametrize("rank", [None, 3])
def test_exact_resolution_invariance_on_band_limited_input(coarse, rank, getkey):
    layer = SpectralConv(2, 3, (6, 6), rank=rank, key=getkey())
    fine = tuple(2 * n for n in coarse)
    x_coarse = trig_field(coarse, max_mode=4, channels=2)
    x_fine = trig_field(fine, max_mode=4, channels=2)
    np.testing.assert_allclose(x_fine[:, ::2, ::2], x_coarse, atol=1e-12)  # same function
    y_coarse, y_fine = layer(jnp.asarray(x_coarse)), layer(jnp.asarray(x_fine))
    # equal in exact arithmetic; in float32 each within its rounding bound
    bound = rounding_bound(layer, x_fine) + rounding_bound(layer, x_coarse)
    assert_within(y_fine[:, ::2, ::2], y_coarse, bound)


def test_modes_above_the_cutoff_are_removed(getkey):
    layer = SpectralConv(1, 1, (4, 4), key=getkey())
    x = np.arange(32) / 32
    high = np.cos(2 * np.pi * 6 * x)[None, :, None] * np.ones((1, 32, 32))
    # zero in exact arithmetic; the bound is 4.5e-4, a kept mode (k = 3) comes out at 0.67
    assert_within(layer(jnp.asarray(high)), 0.0, rounding_bound(layer, high))


def test_translation_equivariance(getkey):
    layer = SpectralConv(2, 2, (5, 5), key=getkey())
    x = normal((2, 24, 20))
    shifted = jnp.roll(x, (5, -3), axis=(1, 2))
    bound = 2 * rounding_bound(layer, x)  # equal in exact arithmetic; each side rounds
    assert_within(layer(shifted), jnp.roll(layer(x), (5, -3), axis=(1, 2)), bound)


def test_low_precision_input_keeps_its_dtype(getkey):
    layer = SpectralConv(2, 2, (3, 3), key=getkey())
    x = normal((2, 8, 8))
    x16 = x.astype(jnp.bfloat16)
    y = layer(x16)
    assert y.dtype == jnp.bfloat16
    y = np.asarray(y.astype(jnp.float32))
    u = 2.0**-8  # bfloat16 unit roundoff: half its eps (2**-7), the most round-to-nearest errs
    # The layer computes in float32 and rounds once at the end: every entry is within u of the
    # float32 result on the same (rounded) input. Computing the transforms in bfloat16 would
    # add errors of several u per entry.
    rounded = np.asarray(layer(x16.astype(jnp.float32)))
    assert np.all(np.abs(y - rounded) <= u * np.abs(rounded))
    # Against the float32 input: rounding x (‖δx‖ <= u‖x‖) passes through the linear layer L,
    # amplified at most by κ = ‖L‖ ‖x‖ / ‖Lx‖ (‖L‖: the largest singular value of the mode
    # weights, by Parseval), and the output's rounding adds u: ‖y − Lx‖ / ‖Lx‖ <= (κ + 1) u.
    exact = np.asarray(layer(x))
    w = np.asarray(layer.weight_real) + 1j * np.asarray(layer.weight_imag)  # (out, in, *modes)
    norm_l = np.linalg.svd(np.moveaxis(w, (0, 1), (-2, -1)), compute_uv=False).max()
    kappa = norm_l * np.linalg.norm(x) / np.linalg.norm(exact)  # 2.7 here
    assert np.linalg.norm(y - exact) / np.linalg.norm(exact) <= (kappa + 1) * u  # 0.0023 <= 0.014


def test_jit_vmap_grad_without_retracing(getkey):
    layer = SpectralConv(2, 2, (3, 3), key=getkey())

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def loss(layer, x):
        return jnp.mean(jax.vmap(layer)(x) ** 2)

    grad = eqx.filter_grad(loss)
    for seed in range(3):
        g = grad(layer, normal((4, 2, 8, 8), seed=seed))
    assert jnp.all(jnp.isfinite(g.weight_real)) and float(jnp.abs(g.weight_imag).sum()) > 0


@pytest.mark.parametrize(
    "spatial, match", [((10, 16), "axis 0 has 10 points"), ((16, 8), "axis 1 has 8")]
)
def test_too_coarse_grid_is_rejected(spatial, match, getkey):
    layer = SpectralConv(1, 1, (6, 6), key=getkey())
    with pytest.raises(ValueError, match=match):
        layer(jnp.ones((1, *spatial)))


def test_wrong_dimension_and_modes_are_rejected(getkey, no_type_checks):
    with pytest.raises(ValueError, match="one per spatial axis"):
        SpectralConv(1, 1, 4, key=getkey())
    with pytest.raises(ValueError, match="2 spatial axes"):
        SpectralConv(1, 1, (4,), key=getkey())(jnp.ones((1, 16, 16)))


def test_float64_matches_reference(x64, getkey):
    layer = SpectralConv(3, 2, (4, 3), key=getkey(), dtype=jnp.float64)
    x = np.random.default_rng(0).standard_normal((3, 12, 9))
    np.testing.assert_allclose(layer(jnp.asarray(x)), reference(layer, x), atol=1e-13)


@settings(max_examples=12, deadline=None)
@given(
    n0=st.integers(2, 21),
    n1=st.integers(2, 21),
    m0=st.integers(1, 10),
    m1=st.integers(1, 11),
    matrix=st.booleans(),
)
def test_kept_frequencies_for_even_and_odd_sizes(n0, n1, m0, m1, matrix):
    """The forward transform gives `rfftn` at the frequencies 0..m0-1, -m0..-1 (in that order,
    located with np.fft.fftfreq) and 0..m1-1, and the inverse is `irfftn` of the zero-filled
    half spectrum, for any sizes that admit the modes, by matrix DFT or FFT."""
    assume(m0 <= n0 // 2 and m1 <= n1 // 2 + 1)
    x = np.random.default_rng(n0 * 100 + n1).normal(size=(1, n0, n1))
    k0 = np.round(np.fft.fftfreq(n0) * n0)
    rows = [int(np.flatnonzero(k0 == k)[0]) for k in [*range(m0), *range(-m0, 0)]]
    full = np.fft.rfftn(x, axes=(1, 2))
    filled = np.zeros_like(full)
    filled[:, rows, :m1] = full[:, rows, :m1]
    with pytest.MonkeyPatch.context() as patch:
        use_transform(patch, "matrix" if matrix else "fft")
        z, y = jax.jit(
            lambda x: (
                z := spectral._forward(x, (m0, m1)),
                spectral._inverse(z, (m0, m1), (n0, n1)),
            )
        )(jnp.asarray(x, jnp.float32))
    # float32: a kept coefficient sums all n0·n1 values (each rounded to float32) along at
    # most n1 + 2 n0 additions, within (n1 + 2 n0 + 1) eps Σ|x| in its real and imaginary parts
    forward = (n1 + 2 * n0 + 1) * EPS32 * np.abs(x).sum()
    assert_within(z[..., 0] + 1j * z[..., 1], full[:, rows, :m1], np.sqrt(2) * forward)
    # the inverse carries those errors, each coefficient counted at most twice over N points,
    # and rounds along 4 m0 + 2 m1 additions of terms <= 2 |z| / N
    n = n0 * n1
    inverse = (2 * 2 * m0 * m1 * np.sqrt(2) * forward
               + (4 * m0 + 2 * m1) * EPS32 * 2 * np.sqrt(2) * np.abs(filled).sum()) / n  # fmt: skip
    assert_within(y, np.fft.irfftn(filled, s=(n0, n1), axes=(1, 2)), inverse)


# --- CP-factorised weights ------------------------------------------------------------------


def dense_weight(layer: SpectralConv) -> np.ndarray:
    """W[o, i, k...] = Σ_r A[o, r] B[i, r] Π_d C_d[k_d, r], reconstructed independently."""
    factors = [
        np.asarray(re, np.float64) + 1j * np.asarray(im, np.float64)
        for re, im in zip(layer.factors_real, layer.factors_imag, strict=True)
    ]
    letters = "abcd"[: len(factors) - 2]
    spec = ",".join(["or", "ir", *(f"{a}r" for a in letters)])
    return np.einsum(f"{spec}->oi{letters}", *factors)


@pytest.mark.parametrize(
    "spatial, modes, channels, rank",
    [
        ((16,), (5,), (6, 5), 2),  # r (in + out + 1) <= in out: contracted factor by factor
        ((12, 9), (4, 3), (3, 2), 4),  # otherwise: the dense weight is formed
        ((8, 7, 10), (3, 2, 4), (6, 5), 2),
    ],
)
def test_factorised_equals_dense_with_reconstructed_weight(spatial, modes, channels, rank, getkey):
    cin, cout = channels
    layer = SpectralConv(cin, cout, modes, rank=rank, key=getkey())
    assert layer.weight_real is None and layer.weight_imag is None
    w = dense_weight(layer)
    dense = eqx.tree_at(
        lambda d: (d.weight_real, d.weight_imag),
        SpectralConv(cin, cout, modes, key=getkey()),
        (jnp.asarray(w.real, jnp.float32), jnp.asarray(w.imag, jnp.float32)),
    )
    x = normal((cin, *spatial))
    expected = eqx.filter_jit(dense)(x)
    assert float(jnp.max(jnp.abs(expected))) > 1e-3  # not trivially zero
    np.testing.assert_allclose(eqx.filter_jit(layer)(x), expected, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("modes", [(5,), (4, 3), (3, 2, 4)])
def test_factorised_parameter_count(modes, getkey):
    kept = [2 * m for m in modes[:-1]] + [modes[-1]]
    layer = SpectralConv(6, 5, modes, rank=3, key=getkey())
    assert count_parameters(layer) == 2 * 3 * (5 + 6 + sum(kept))
    assert [f.shape for f in layer.factors_real] == [(5, 3), (6, 3)] + [(k, 3) for k in kept]
    dense = SpectralConv(6, 5, modes, key=getkey())
    assert count_parameters(dense) == 2 * 5 * 6 * int(np.prod(kept))


def test_factorised_initial_scale_matches_dense(getkey):
    layer = SpectralConv(32, 32, (12, 12), rank=8, key=getkey())
    rms = np.sqrt(np.mean(np.abs(dense_weight(layer)) ** 2))
    assert 0.5 < rms * 32 * 32 < 2  # E|W|² = 1/(in out)²


def test_factorised_gradients(getkey):
    layer = SpectralConv(3, 2, (3, 3), rank=2, key=getkey())
    x = normal((5, 3, 8, 8))
    grads = eqx.filter_jit(eqx.filter_grad(lambda layer: jnp.mean(jax.vmap(layer)(x) ** 2)))(layer)
    for g in (*grads.factors_real, *grads.factors_imag):
        assert jnp.all(jnp.isfinite(g)) and float(jnp.abs(g).sum()) > 0


@pytest.mark.parametrize("rank", [0, -2, 1.5, True, "4"])
def test_bad_rank_is_rejected(rank, getkey):
    with without_type_checks(), pytest.raises(ValueError, match="rank must be a positive int"):
        SpectralConv(2, 2, (3, 3), rank=rank, key=getkey())
