"""The Neumann Gaussian random field has the covariance it claims, checked against
scipy's DCT-I and against the covariance kernel summed directly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft
from helpers import EPS32

from jaxops.pde.random_fields import (
    dct1_synthesis,
    fourier_series,
    neumann_grf,
    neumann_spectrum,
    periodic_grf,
    periodic_spectrum,
    random_steps,
    threshold,
)

N_SAMPLES = 4000


def modal_coefficients(g: np.ndarray) -> np.ndarray:
    """Coefficients c_k of g = Σ c_k φ_k (φ_k = √2 cos(πkx) for k ≥ 1, φ_0 = 1), recovered with
    scipy's DCT-I, which satisfies dct1(B d) = 2(n−1) d / w with w = (1, 2, ..., 2, 1)."""
    out = g
    for axis in range(1, g.ndim):
        n = g.shape[axis]
        w = np.full(n, 2.0)
        w[[0, -1]] = 1.0
        out = scipy.fft.dct(out, type=1, axis=axis) * w.reshape((-1,) + (1,) * (g.ndim - axis - 1))
        out = out / (2 * (n - 1))
        norm = np.where(np.arange(n) > 0, np.sqrt(2.0), 1.0)
        out = out / norm.reshape((-1,) + (1,) * (g.ndim - axis - 1))
    return out


@pytest.fixture(scope="module")
def samples():
    keys = jax.random.split(jax.random.key(7), N_SAMPLES)
    draw = jax.jit(jax.vmap(lambda k: neumann_grf(k, (12, 10), alpha=2.0, tau=3.0, sigma=5.0)))
    return np.asarray(draw(keys), np.float64)


def test_mode_variances_match_the_spectrum(samples):
    coeffs = modal_coefficients(samples)
    variance = np.mean(coeffs**2, axis=0)
    expected = np.asarray(neumann_spectrum((12, 10), 2.0, 3.0, sigma=5.0))
    ratio = variance / expected
    # Each ratio is χ²(M)/M: standard deviation √(2/M) ≈ 0.022 for M = 4000.
    sd = np.sqrt(2.0 / N_SAMPLES)
    assert np.max(np.abs(ratio - 1)) < 5 * sd
    assert abs(np.mean(ratio) - 1) < 5 * sd / np.sqrt(ratio.size)
    # Distinct modes are uncorrelated.
    flat = coeffs.reshape(N_SAMPLES, -1) / np.sqrt(expected.ravel())
    correlation = flat.T @ flat / N_SAMPLES - np.eye(flat.shape[1])
    assert np.max(np.abs(correlation)) < 6 * np.sqrt(1.0 / N_SAMPLES)


def test_point_covariance_matches_the_kernel(samples):
    """E[g(x)g(y)] = Σ_k λ_k φ_k(x) φ_k(y), summed directly with numpy cosines."""
    shape = (12, 10)
    lam = np.asarray(neumann_spectrum(shape, 2.0, 3.0, sigma=5.0), np.float64)

    def phi(k, n):  # (modes, nodes) for one axis
        x = np.linspace(0, 1, n)
        return np.where(k[:, None] > 0, np.sqrt(2.0), 1.0) * np.cos(np.pi * k[:, None] * x)

    p0, p1 = phi(np.arange(shape[0]), shape[0]), phi(np.arange(shape[1]), shape[1])
    points = [(0, 0), (3, 4), (11, 9), (6, 0)]
    for a in points:
        for b in points:
            kernel = np.einsum(
                "kl,k,l,k,l->", lam, p0[:, a[0]], p1[:, a[1]], p0[:, b[0]], p1[:, b[1]]
            )
            empirical = np.mean(samples[:, a[0], a[1]] * samples[:, b[0], b[1]])
            scale = np.sqrt(
                np.mean(samples[:, a[0], a[1]] ** 2) * np.mean(samples[:, b[0], b[1]] ** 2)
            )
            assert abs(empirical - kernel) < 5 * scale * np.sqrt(2.0 / N_SAMPLES)


def test_dct1_synthesis_equals_the_cosine_sum():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(7, 5))
    matrix = lambda n: np.cos(np.pi * np.outer(np.arange(n), np.arange(n)) / (n - 1))
    expected = matrix(7) @ c @ matrix(5).T
    # float32: each value is a sum over all 7 · 5 coefficients times cosines <= 1, within
    # 36 eps · Σ|c| whether summed directly (35 terms) or by FFTs of the mirrored axes
    # (log2 of 12 and 8 levels each way). A wrong end weight is off by O(|c|) = O(1).
    atol = 36 * EPS32 * float(np.abs(c).sum())
    np.testing.assert_allclose(dct1_synthesis(jnp.asarray(c), (0, 1)), expected, rtol=0, atol=atol)


def test_zero_mean_removes_the_integral():
    g = np.asarray(neumann_grf(jax.random.key(0), (33, 17), zero_mean=True), np.float64)
    trapezoid = lambda f, axis: np.trapezoid(f, dx=1.0 / (f.shape[axis] - 1), axis=axis)
    assert abs(trapezoid(trapezoid(g, 1), 0)) < 1e-6 * np.abs(g).max()


def test_threshold_gives_two_values_in_balance():
    keys = jax.random.split(jax.random.key(1), 400)
    g = jax.vmap(lambda k: neumann_grf(k, (16, 16), zero_mean=True))(keys)
    a = np.asarray(threshold(g, 12.0, 3.0))
    assert set(np.unique(a)) == {3.0, 12.0}
    # g is symmetric about zero, so on average half the domain is high.
    assert abs(np.mean(a == 12.0) - 0.5) < 0.03


def test_periodic_grf_has_the_requested_spectrum():
    shape, length = (16, 12), 2.0
    keys = jax.random.split(jax.random.key(3), 3000)
    draw = jax.jit(jax.vmap(lambda k: periodic_grf(k, shape, 2.0, 3.0, sigma=4.0, length=length)))
    g = np.asarray(draw(keys), np.float64)
    # ĝ_k = sqrt(N / L^d) sqrt(λ_k) ξ̂_k with E|ξ̂_k|² = N, so E|ĝ_k|² L^d / N² = λ_k.
    n = np.prod(shape)
    estimate = np.mean(np.abs(np.fft.rfftn(g, axes=(1, 2))) ** 2, axis=0) * length**2 / n**2
    expected = np.asarray(periodic_spectrum(shape, 2.0, 3.0, 4.0, length), np.float64)
    ratio = estimate[1:] / expected[1:]  # k = 0 is removed (zero mean)
    assert np.max(np.abs(ratio - 1)) < 5 * np.sqrt(2 / len(g))
    assert abs(np.mean(ratio) - 1) < 0.02
    np.testing.assert_allclose(g.mean(axis=(1, 2)), 0, atol=1e-5)


def test_fourier_series_is_band_limited_and_bounded():
    keys = jax.random.split(jax.random.key(0), 50)
    u = np.asarray(jax.vmap(lambda k: fourier_series(k, (64,), n_waves=3, max_wavenumber=5))(keys))
    spectrum = np.abs(np.fft.rfft(u, axis=1))
    assert spectrum[:, 6:].max() < 1e-3 * spectrum.max()  # nothing above wavenumber 5
    assert spectrum[:, 0].max() < 1e-3 * spectrum.max()  # sines: zero mean
    assert np.abs(u).max() <= 3.0 + 1e-5  # three waves of amplitude at most 1


def test_random_steps_are_piecewise_constant():
    u = np.asarray(random_steps(jax.random.key(2), 128, n_steps=5, low=-1.0, high=2.0))
    assert 1 <= len(np.unique(u)) <= 5 and u.min() >= -1.0 and u.max() <= 2.0
    assert np.count_nonzero(np.diff(np.concatenate([u, u[:1]]))) <= 5  # at most 5 jumps
