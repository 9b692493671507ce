"""Random fields for initial conditions and coefficients.

`periodic_grf` samples g ~ N(0, σ² (−Δ + τ² I)^{−α}) on the torus [0, L)^d by filtering white
noise with the real FFT: the exact covariance of the discrete torus (the FNO paper's initial
vorticity for Navier–Stokes is σ² = 7^{3/2}, τ = 7, α = 2.5). `fourier_series` draws
truncated sine series with random wavenumbers, amplitudes and phases (the initial
conditions of PDEBench, Takamoto et al., NeurIPS 2022), `random_steps` piecewise-constant
profiles, and `threshold` turns any field into a piecewise-constant one.

`neumann_grf` samples a Gaussian random field g ~ N(0, σ² (−Δ + τ² I)^{−α}) on the nodal grid
of [0, 1]^d (boundary nodes included), where Δ is the Laplacian with zero-Neumann boundary
conditions. Its eigenfunctions are products of φ_0 = 1, φ_k(x) = √2 cos(π k x) (orthonormal in
L²), with eigenvalues π²|k|²; the Karhunen–Loève expansion g = Σ_k √λ_k ξ_k φ_k, ξ_k ~ N(0, 1),
λ_k = σ² (π²|k|² + τ²)^{−α}, is truncated to the n modes per axis the grid resolves and
synthesised with a type-I discrete cosine transform (an FFT of the even extension).

This is the coefficient model of the FNO paper's Darcy data (Li et al., ICLR 2021, §5.2:
α = 2, τ = 3, constant mode removed) and of Lord, Powell & Shardlow, "An Introduction to
Computational Stochastic PDEs" (2014), Ch. 7.
"""

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray, ScalarLike

from .._random import normal
from .transforms import dct1


def dct1_synthesis(coeffs: Array, axes: Sequence[int]) -> Array:
    """Evaluate `Σ_k c_k Π_i cos(π k_i j_i / (n_i − 1))` on the nodes `j` of each axis in `axes`:
    a DCT-I (`transforms.dct1`) with the end coefficients doubled and halved back."""
    out = coeffs
    for axis in axes:
        n = out.shape[axis]
        weights = jnp.ones(n, out.dtype).at[jnp.array([0, n - 1])].set(2.0)
        shape = [1] * out.ndim
        shape[axis] = n
        out = 0.5 * dct1(out * weights.reshape(shape), axis)
    return out


def neumann_spectrum(
    shape: Sequence[int],
    alpha: ScalarLike,
    tau: ScalarLike,
    sigma: ScalarLike = 1.0,
    dtype=jnp.float32,
) -> Float[Array, " *shape"]:
    """Eigenvalues λ_k = σ² (π²|k|² + τ²)^{−α} of the covariance, for k_i = 0 .. n_i − 1."""
    wavenumbers = jnp.meshgrid(*(jnp.arange(n, dtype=dtype) for n in shape), indexing="ij")
    k2 = sum(k**2 for k in wavenumbers)
    return sigma**2 * (jnp.pi**2 * k2 + tau**2) ** (-alpha)


def neumann_grf(
    key: PRNGKeyArray,
    shape: Sequence[int],
    alpha: ScalarLike = 2.0,
    tau: ScalarLike = 3.0,
    *,
    sigma: ScalarLike = 1.0,
    zero_mean: bool = False,
    dtype=jnp.float32,
) -> Float[Array, " *shape"]:
    """Sample g ~ N(0, σ² (−Δ + τ² I)^{−α}) with zero-Neumann Δ on the nodal grid of [0, 1]^d.

    **Arguments:**

    - `key`: a `jax.random.key`.
    - `shape`: nodes per axis `(n_1, ..., n_d)`, boundary nodes included (spacing 1/(n−1)).
    - `alpha`, `tau`, `sigma`: the covariance σ² (−Δ + τ² I)^{−α}.
    - `zero_mean`: drop the constant mode k = 0 (the FNO paper's generator does).

    **Returns:** an array of `shape`. Vmap over keys for many samples.
    """
    return _neumann_grf(key, tuple(shape), alpha, tau, sigma, zero_mean, jnp.dtype(dtype))


@partial(jax.jit, static_argnums=(1, 5, 6))
def _neumann_grf(key, shape, alpha, tau, sigma, zero_mean, dtype):
    """`neumann_grf` as one compiled program per shape (eagerly, its few dozen operations
    would each compile on their own)."""
    lam = neumann_spectrum(shape, alpha, tau, sigma, dtype)
    # L²-orthonormal eigenfunctions: a factor √2 for every axis with k_i ≥ 1.
    norms = jnp.ones(shape, dtype)
    for axis, n in enumerate(shape):
        factor = jnp.where(jnp.arange(n) > 0, jnp.sqrt(2.0), 1.0).astype(dtype)
        norms = norms * factor.reshape((-1,) + (1,) * (len(shape) - axis - 1))
    coeffs = jnp.sqrt(lam) * norms * normal(key, shape, dtype)
    if zero_mean:
        coeffs = coeffs.at[(0,) * len(shape)].set(0.0)
    return dct1_synthesis(coeffs, range(len(shape)))


def threshold(g: Array, high: float, low: float, level: float = 0.0) -> Array:
    """Piecewise-constant field: `high` where `g >= level`, `low` elsewhere."""
    return jnp.where(g >= level, high, low).astype(g.dtype)


def periodic_spectrum(
    shape: Sequence[int], alpha: float, tau: float, sigma: float = 1.0, length: float = 1.0
) -> Array:
    """Covariance eigenvalues σ² (|k|² + τ²)^{−α} on the rfftn layout, k = 2πm/L."""
    k2 = 0.0
    for axis, n in enumerate(shape):
        last = axis == len(shape) - 1
        m = jnp.fft.rfftfreq(n, 1.0 / n) if last else jnp.fft.fftfreq(n, 1.0 / n)
        k = 2 * jnp.pi / length * m
        k2 = k2 + (k**2).reshape([len(k) if a == axis else 1 for a in range(len(shape))])
    return sigma**2 * (k2 + tau**2) ** (-alpha)


def periodic_grf(
    key: PRNGKeyArray,
    shape: Sequence[int],
    alpha: float = 2.5,
    tau: float = 7.0,
    *,
    sigma: float = 7.0**0.75,
    length: float = 1.0,
    zero_mean: bool = True,
    dtype=jnp.float32,
) -> Float[Array, " *shape"]:
    """Sample g ~ N(0, σ² (−Δ + τ² I)^{−α}) on the periodic grid `x_i = i L/n` of [0, L)^d.

    The defaults are the FNO paper's initial vorticity N(0, 7^{3/2} (−Δ + 49 I)^{−2.5}) on
    the unit torus. White noise is filtered in Fourier space, so the covariance is exact for
    the discrete torus: E[g(x)g(y)] = Σ_k λ_k e^{ik·(x−y)} / L^d. `zero_mean` drops k = 0.
    """
    shape = tuple(shape)
    lam = periodic_spectrum(shape, alpha, tau, sigma, length).astype(dtype)
    if zero_mean:
        lam = lam.at[(0,) * len(shape)].set(0.0)
    white = normal(key, shape, dtype)
    scale = jnp.sqrt(math.prod(shape) / length ** len(shape))
    filtered = jnp.fft.irfftn(jnp.sqrt(lam) * jnp.fft.rfftn(white), s=shape)
    return (scale * filtered).astype(dtype)


def fourier_series(
    key: PRNGKeyArray,
    shape: Sequence[int],
    n_waves: int = 2,
    max_wavenumber: int = 4,
    *,
    length: float = 1.0,
    dtype=jnp.float32,
) -> Float[Array, " *shape"]:
    """Σ_{i<n_waves} A_i sin(2π m_i·x / L + φ_i) on the periodic grid of [0, L)^d, with
    integer wavenumbers m_i ∈ [−max, max]^d (not all zero), A_i ~ U(0, 1), φ_i ~ U(0, 2π):
    PDEBench's initial conditions for advection, Burgers and reaction–diffusion."""
    shape = tuple(shape)
    key_m, key_a, key_p = jr.split(key, 3)
    m = jr.randint(key_m, (n_waves, len(shape)), 1, 2 * max_wavenumber + 1)
    m = jnp.where(m > max_wavenumber, m - 2 * max_wavenumber - 1, m)  # ±1 .. ±max, never 0
    amplitude = jr.uniform(key_a, (n_waves,), dtype)
    phase = jr.uniform(key_p, (n_waves,), dtype, 0.0, 2 * jnp.pi)
    grids = jnp.meshgrid(*(jnp.arange(n, dtype=dtype) / n for n in shape), indexing="ij")
    waves = [
        amplitude[i]
        * jnp.sin(2 * jnp.pi * sum(m[i, a] * g for a, g in enumerate(grids)) + phase[i])
        for i in range(n_waves)
    ]
    return sum(waves).astype(dtype)


def random_steps(
    key: PRNGKeyArray,
    n: int,
    n_steps: int = 4,
    low: float = 0.0,
    high: float = 1.0,
    dtype=jnp.float32,
) -> Float[Array, " n"]:
    """A piecewise-constant profile on `n` points of [0, 1): `n_steps` pieces between sorted
    uniform break points (periodic: the last piece wraps around), values ~ U(low, high)."""
    key_b, key_v = jr.split(key)
    breaks = jnp.sort(jr.uniform(key_b, (n_steps,)))
    values = jr.uniform(key_v, (n_steps,), dtype, low, high)
    x = jnp.arange(n) / n
    piece = jnp.searchsorted(breaks, x, side="right") % n_steps
    return values[piece]
