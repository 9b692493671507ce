"""Random fields for initial conditions and coefficients.

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

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

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
    shape: Sequence[int], alpha: float, tau: float, sigma: float = 1.0, dtype=jnp.float32
) -> Float[Array, " *shape"]:
    """Eigenvalues λ_k = σ² (π²|k|² + τ²)^{−α} of the covariance, for k_i = 0 .. n_i − 1."""
    wavenumbers = jnp.meshgrid(*(jnp.arange(n, dtype=dtype) for n in shape), indexing="ij")
    k2 = sum(k**2 for k in wavenumbers)
    return sigma**2 * (jnp.pi**2 * k2 + tau**2) ** (-alpha)


def neumann_grf(
    key: PRNGKeyArray,
    shape: Sequence[int],
    alpha: float = 2.0,
    tau: float = 3.0,
    *,
    sigma: float = 1.0,
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
    shape = tuple(shape)
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
