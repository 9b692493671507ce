"""Poisson and Helmholtz solvers against mathematics: manufactured solutions with nonzero
Dirichlet data at second order, an independently assembled scipy sparse solve of the same
discretisation, the resonance error, gradients against finite differences, vmap."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import EPS32

from jaxops.pde.elliptic import solve_helmholtz, solve_poisson
from jaxops.pde.elliptic.poisson import dirichlet_eigenvalues

K = 5.5  # Helmholtz wavenumber: between the first resonances √(2π²) ≈ 4.44 and √(5π²) ≈ 7.02


def exact_u(x, y):
    """Non-trivial boundary values on all four sides."""
    return jnp.exp(0.5 * x - y) * jnp.cos(2.0 * x + y) + x * y**2


def laplacian(fn):
    return lambda x, y: jax.grad(jax.grad(fn, 0), 0)(x, y) + jax.grad(jax.grad(fn, 1), 1)(x, y)


def nodal(fn, n):
    x = jnp.linspace(0.0, 1.0, n)
    x, y = jnp.meshgrid(x, x, indexing="ij")
    return jax.jit(jax.vmap(jax.vmap(fn)))(x, y)


def poisson_source(x, y):
    """f = −Δu, exactly, by automatic differentiation of the formula."""
    return -laplacian(exact_u)(x, y)


def helmholtz_source(x, y):
    return -laplacian(exact_u)(x, y) - K**2 * exact_u(x, y)


def scipy_dirichlet(f: np.ndarray, g: np.ndarray, k: float = 0.0) -> np.ndarray:
    """(−Δ_h − k²) u = f inside, u = g at the boundary nodes: the full n²×n² system with
    identity rows on the boundary, assembled from Kronecker products, solved by `spsolve`."""
    n = f.shape[0]
    h2 = (1.0 / (n - 1)) ** 2
    second = sp.diags([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], [-1, 0, 1]) / h2
    eye = sp.identity(n)
    operator = -(sp.kron(second, eye) + sp.kron(eye, second)) - k**2 * sp.identity(n * n)
    boundary = np.ones((n, n), bool)
    boundary[1:-1, 1:-1] = False
    boundary = boundary.ravel()
    rows = sp.diags((~boundary).astype(float)) @ operator + sp.diags(boundary.astype(float))
    rhs = np.where(boundary, g.ravel(), f.ravel())
    return spla.spsolve(rows.tocsc(), rhs).reshape(n, n)


@pytest.mark.parametrize(
    "solve, source",
    [(solve_poisson, poisson_source), (lambda f, g: solve_helmholtz(K, f, g=g), helmholtz_source)],
    ids=["poisson", "helmholtz"],
)
def test_manufactured_solution_with_dirichlet_data_converges_at_second_order(x64, solve, source):
    errors = []
    for n in (17, 33, 65):
        exact = nodal(exact_u, n)
        u = solve(nodal(source, n), g=exact)
        np.testing.assert_array_equal(u[0], exact[0])  # boundary values are g's
        errors.append(float(jnp.max(jnp.abs(u - exact))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-3
    np.testing.assert_allclose(orders, 2.0, atol=0.1)


@pytest.mark.parametrize("n, k", [(9, 0.0), (30, 0.0), (33, 11.5), (20, 30.0)])
def test_matches_independent_scipy_solve(x64, getkey, n, k):
    f = jax.random.normal(getkey(), (n, n), jnp.float64)
    g = jax.random.normal(getkey(), (n, n), jnp.float64)
    reference = scipy_dirichlet(np.asarray(f), np.asarray(g), k)
    u = solve_poisson(f, g=g) if k == 0 else solve_helmholtz(k, f, g=g)
    np.testing.assert_allclose(u, reference, rtol=0, atol=1e-11 * np.abs(reference).max())


def test_scalar_boundary_value_and_float32():
    n = 33
    f = jnp.zeros((n, n), jnp.float32)
    u = solve_poisson(f, g=2.5)  # −Δu = 0, u = 2.5 on the boundary: u ≡ 2.5
    assert u.dtype == jnp.float32
    # float32: g enters as the right-hand side b = 2.5 / h² on the nodes next to the boundary;
    # two DST-I passes (FFTs of 2 (n − 1) = 64 points: 2 log2 64 = 12 roundings each) round
    # T b by <= 24 eps ‖b‖, the solve divides by eigenvalues >= λ₁ = 8/h² sin²(πh/2), and the
    # two inverse passes add 24 eps ‖u‖ <= 24 eps ‖b‖ / λ₁: 0.34 % of u, where a lift off by
    # any factor moves u by O(1).
    h = 1 / (n - 1)
    norm_b = 2.5 / h**2 * np.sqrt(4 * (n - 2) - 8 + 4 * 2**2)  # corner nodes take 2 · 2.5/h²
    lam1 = 8 / h**2 * np.sin(np.pi * h / 2) ** 2
    atol = 2 * 24 * EPS32 * norm_b / lam1
    np.testing.assert_allclose(u, 2.5, rtol=0, atol=atol)
    u = solve_helmholtz(0.0, f, g=2.5)
    np.testing.assert_allclose(u, 2.5, rtol=0, atol=atol)


def test_eigenvalues_are_those_of_the_five_point_laplacian():
    n = 7
    second = np.diag(-2 * np.ones(n - 2)) + np.diag(np.ones(n - 3), 1) + np.diag(np.ones(n - 3), -1)
    second *= (n - 1) ** 2
    dense = -(np.kron(second, np.eye(n - 2)) + np.kron(np.eye(n - 2), second))
    np.testing.assert_allclose(
        np.sort(dirichlet_eigenvalues(n).ravel()), np.linalg.eigvalsh(dense), rtol=1e-12
    )


def test_resonant_wavenumber_is_rejected():
    n = 17
    eigenvalues = dirichlet_eigenvalues(n)
    resonant = float(np.sqrt(eigenvalues[1, 2]))  # mode (p, q) = (2, 3)
    f = jnp.ones((n, n))
    with pytest.raises(ValueError, match=r"\(p, q\) = \((2, 3|3, 2)\).*resonant wavenumber"):
        solve_helmholtz(resonant * (1 + 1e-7), f)
    with pytest.raises(ValueError, match="k must be finite and >= 0"):
        solve_helmholtz(-1.0, f)
    solve_helmholtz(resonant * (1 + 1e-5), f)  # close but outside 1e-6: solved
    # Traced k (under jit) is checked at run time.
    errors = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
    with pytest.raises(errors, match="k is resonant"):
        jax.block_until_ready(jax.jit(solve_helmholtz)(resonant, f))


def test_bad_input_is_rejected(no_type_checks):
    with pytest.raises(ValueError, match="n×n nodal array"):
        solve_poisson(jnp.ones((8, 9)))
    with pytest.raises(ValueError, match="g must be a scalar or an n×n"):
        solve_poisson(jnp.ones((9, 9)), g=jnp.ones(9))
    with pytest.raises(ValueError, match="k must be a scalar"):
        solve_helmholtz(jnp.ones(2), jnp.ones((9, 9)))


def test_gradients_match_finite_differences(x64, getkey):
    n = 15
    weight = nodal(lambda x, y: jnp.sin(3 * x + y), n)
    g = nodal(exact_u, n)
    f = jax.random.normal(getkey(), (n, n), jnp.float64)
    direction = jax.random.normal(getkey(), (n, n), jnp.float64)
    eps = 1e-3  # u is affine in f, the objectives quadratic: central differences are exact
    for objective in (
        lambda f: jnp.sum(weight * solve_poisson(f, g=g) ** 2),
        lambda f: jnp.sum(weight * solve_helmholtz(K, f, g=g) ** 2),
    ):
        fd = (objective(f + eps * direction) - objective(f - eps * direction)) / (2 * eps)
        ad = jnp.vdot(jax.grad(objective)(f), direction)
        np.testing.assert_allclose(float(ad), float(fd), rtol=1e-7)
    by_k = lambda k: jnp.sum(weight * solve_helmholtz(k, f, g=g) ** 2)
    eps = 1e-5
    fd = (by_k(K + eps) - by_k(K - eps)) / (2 * eps)
    np.testing.assert_allclose(float(jax.grad(by_k)(K)), float(fd), rtol=1e-6)


def test_vmap_matches_loop(getkey):
    n = 17
    fs = jax.random.normal(getkey(), (3, n, n))
    ks = jnp.array([1.0, 5.0, 9.5])
    batched = jax.vmap(lambda k, f: solve_helmholtz(k, f, g=1.0))(ks, fs)
    for k, f, u in zip(ks, fs, batched, strict=True):
        np.testing.assert_allclose(u, solve_helmholtz(float(k), f, g=1.0), rtol=1e-5, atol=1e-6)
    batched = jax.vmap(solve_poisson)(fs)
    for f, u in zip(fs, batched, strict=True):
        np.testing.assert_allclose(u, solve_poisson(f), rtol=1e-5, atol=1e-6)
