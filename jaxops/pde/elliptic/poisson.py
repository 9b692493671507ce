"""Poisson −Δu = f and Helmholtz −Δu − k²u = f on (0, 1)² with Dirichlet data u = g, solved
exactly by fast diagonalisation with type-I sine transforms.

Discretisation: the five-point Laplacian on the n×n nodal grid x_i = i/(n−1), h = 1/(n−1)
(boundary nodes included),

    (−Δ_h u)_ij = (4u_ij − u_{i+1,j} − u_{i−1,j} − u_{i,j+1} − u_{i,j−1}) / h²,

imposed at the (n−2)² interior nodes, with u = g at the boundary nodes. The boundary values
are lifted into the right-hand side (u = G + ũ, G = g on the boundary and 0 inside, so
−Δ_h ũ − k²ũ = f + Δ_h G inside and ũ = 0 on the boundary); the homogeneous problem is
diagonalised by the grid sine functions sin(πpi/(n−1)) sin(πqj/(n−1)), p, q = 1..n−2, with
eigenvalues of −Δ_h

    λ_pq = (4/h²) [sin²(πp/(2(n−1))) + sin²(πq/(2(n−1)))],

so ũ = DST⁻¹[DST(f + Δ_h G) / (λ_pq − k²)] (`transforms.dst1` along both axes; O(n² log n),
exact up to round-off). Second-order accurate for smooth u.

Sources: LeVeque, "Finite Difference Methods for Ordinary and Partial Differential
Equations", SIAM (2007), §3.2–3.4 (five-point Laplacian, its eigenvalues); Golub & Van Loan,
"Matrix Computations", 4th ed. (2013), §4.8 (fast Poisson solvers by sine transforms).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..transforms import dst1, idst1

__all__ = ["dirichlet_eigenvalues", "solve_helmholtz", "solve_poisson"]

RESONANCE_RTOL = 1e-6


def dirichlet_eigenvalues(n: int) -> np.ndarray:
    """Eigenvalues λ_pq of the five-point −Δ_h with zero Dirichlet data on the n×n nodal grid
    of [0, 1]², shape `(n−2, n−2)`, indexed by the sine modes p, q = 1..n−2 (float64 numpy)."""
    if not isinstance(n, int) or n < 3:
        raise ValueError(f"n must be an int >= 3 (nodes per axis), got {n!r}")
    p = np.arange(1, n - 1)
    one_d = 4.0 * (n - 1) ** 2 * np.sin(np.pi * p / (2 * (n - 1))) ** 2
    return one_d[:, None] + one_d[None, :]


def _lifted(f: ArrayLike, g: ArrayLike, name: str, *extra: ArrayLike):
    """Checked inputs → (n, dtype, G on the n×n nodes, interior right-hand side f + Δ_h G)."""
    f = jnp.asarray(f)
    if f.ndim != 2 or f.shape[0] != f.shape[1] or f.shape[0] < 3:
        raise ValueError(f"{name}: f must be an n×n nodal array with n >= 3, got shape {f.shape}")
    n = f.shape[0]
    g = jnp.asarray(g)
    if g.shape not in ((), (n, n)):
        raise ValueError(
            f"{name}: g must be a scalar or an n×n nodal array like f {f.shape}, got shape "
            f"{g.shape}"
        )
    dtype = jnp.result_type(f, g, *extra, 0.0)
    f, g = f.astype(dtype), g.astype(dtype)
    boundary = np.ones((n, n), bool)
    boundary[1:-1, 1:-1] = False
    lift = jnp.where(boundary, jnp.broadcast_to(g, (n, n)), 0.0)
    # Δ_h G at the interior nodes: only the boundary neighbours are nonzero.
    neighbours = lift[2:, 1:-1] + lift[:-2, 1:-1] + lift[1:-1, 2:] + lift[1:-1, :-2]
    rhs = f[1:-1, 1:-1] + neighbours * (n - 1) ** 2
    return n, dtype, lift, rhs


def _diagonal_solve(rhs: Array, denominator: Array) -> Array:
    return idst1(dst1(rhs, axes=(0, 1)) / denominator, axes=(0, 1))


def solve_poisson(
    f: Float[ArrayLike, " n n"], *, g: float | Float[ArrayLike, " n n"] = 0.0
) -> Float[Array, " n n"]:
    """Solve −Δu = f on the unit square with u = g on the boundary (five-point Laplacian,
    exact fast sine-transform solve).

    **Arguments:**

    - `f`: source at the n×n nodes of [0, 1]² (boundary included; its boundary values are
      not used), n ≥ 3.
    - `g`: Dirichlet data, a scalar or an n×n nodal array of which only the boundary values
      are used (corners included, though the five-point stencil never reaches them).

    **Returns:** u at the n×n nodes, equal to g on the boundary, in the promoted floating
    dtype of `f` and `g`. Single sample: vmap over batches; differentiable with respect to
    `f` and `g`.
    """
    n, dtype, lift, rhs = _lifted(f, g, "solve_poisson")
    eigenvalues = jnp.asarray(dirichlet_eigenvalues(n), dtype)
    return lift.at[1:-1, 1:-1].set(_diagonal_solve(rhs, eigenvalues))


def _nearest_resonance(n: int, k: float) -> tuple[float, int, int, float]:
    """(relative distance of k² to the spectrum of −Δ_h, mode p, q, resonant wavenumber)."""
    eigenvalues = dirichlet_eigenvalues(n)
    distance = np.abs(k * k - eigenvalues) / eigenvalues
    p, q = np.unravel_index(np.argmin(distance), distance.shape)
    return float(distance[p, q]), int(p) + 1, int(q) + 1, float(np.sqrt(eigenvalues[p, q]))


def solve_helmholtz(
    k: float | Float[ArrayLike, ""],
    f: Float[ArrayLike, " n n"],
    *,
    g: float | Float[ArrayLike, " n n"] = 0.0,
) -> Float[Array, " n n"]:
    """Solve −Δu − k²u = f on the unit square with u = g on the boundary (five-point
    Laplacian, exact fast sine-transform solve).

    **Arguments:**

    - `k`: wavenumber, a scalar ≥ 0 (a Python number or a 0-d array; may be traced).
    - `f`, `g`: as in `solve_poisson`.

    **Returns:** u at the n×n nodes, equal to g on the boundary, in the promoted floating
    dtype of `k`, `f` and `g`. Vmap over batches (also over `k`); differentiable with respect
    to `k`, `f` and `g`.

    **Resonance.** The discrete problem is singular when k² is an eigenvalue λ_pq of −Δ_h
    (`dirichlet_eigenvalues`). If k² is within a relative 1e-6 of one: with a concrete `k`
    a `ValueError` naming the nearest resonant wavenumber √λ_pq is raised before compute;
    with a traced `k` (under `jit`, `vmap` or `grad`) the same test runs inside the
    computation and raises an `EquinoxRuntimeError` when the result is computed (via
    `equinox.error_if`). Wavenumbers merely close to resonance are solved, and the solution
    is correspondingly large.
    """
    if jnp.ndim(k) != 0:
        raise ValueError(f"solve_helmholtz: k must be a scalar, got shape {jnp.shape(k)}")
    n, dtype, lift, rhs = _lifted(f, g, "solve_helmholtz", k)
    concrete = not isinstance(k, jax.core.Tracer)
    if concrete:
        k_value = float(k)
        if not (np.isfinite(k_value) and k_value >= 0):
            raise ValueError(f"solve_helmholtz: k must be finite and >= 0, got {k_value}")
        distance, p, q, resonant = _nearest_resonance(n, k_value)
        if distance <= RESONANCE_RTOL:
            raise ValueError(
                f"solve_helmholtz: k = {k_value!r} is resonant on the {n}x{n} grid: k² is "
                f"within a relative {RESONANCE_RTOL:g} of the eigenvalue of −Δ_h of mode "
                f"(p, q) = ({p}, {q}); nearest resonant wavenumber {resonant!r}"
            )
    eigenvalues = jnp.asarray(dirichlet_eigenvalues(n), dtype)
    k2 = jnp.asarray(k, dtype) ** 2
    u = _diagonal_solve(rhs, eigenvalues - k2)
    if not concrete:
        near = jnp.min(jnp.abs(k2 - eigenvalues) / eigenvalues) <= RESONANCE_RTOL
        u = eqx.error_if(
            u,
            near,
            f"solve_helmholtz: k is resonant on the {n}x{n} grid (k² within a relative "
            f"{RESONANCE_RTOL:g} of an eigenvalue of −Δ_h); see "
            "jaxops.pde.elliptic.poisson.dirichlet_eigenvalues",
        )
    return lift.at[1:-1, 1:-1].set(u)
