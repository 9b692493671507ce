"""Multigrid V-cycle against mathematics: it is an SPD operator (a valid CG preconditioner)
whose preconditioned spectrum does not depend on h, so MG-PCG iteration counts are grid-size
independent (Jacobi-PCG counts grow ∝ n); its transfers are bilinear interpolation and its
scaled transpose; solutions agree with an independent scipy sparse solve."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import darcy_solve_atol, scipy_darcy
from scipy.interpolate import RegularGridInterpolator

from jaxops.pde import DarcyFlow
from jaxops.pde.elliptic import DarcyMultigrid, darcy_pcg, solve_darcy
from jaxops.pde.elliptic.darcy import darcy_apply, face_coefficients
from jaxops.pde.elliptic.multigrid import level_sizes, prolong, restrict

# (n, coarsest): 22 → 11 → 6 → 3, not nodally nested; 17 → 9, nested, with a dense inverse on
# the 7² coarsest unknowns. (Nested grids down to one unknown: the random-vector test below.)
HIERARCHIES = [(22, 3), (17, 10)]


def coefficient(n: int, seed: int = 0) -> jax.Array:
    """An FNO-paper piecewise-constant coefficient (values 12 and 3) in float64."""
    return DarcyFlow(n=n).coefficient(jax.random.key(seed)).astype(jnp.float64)


def dense(linear, m: int) -> np.ndarray:
    """The m²×m² matrix of a linear map on (m, m) arrays, column j = map(e_j)."""
    basis = jnp.eye(m * m, dtype=jnp.float64).reshape(m * m, m, m)
    return np.asarray(jax.jit(jax.vmap(linear))(basis)).reshape(m * m, m * m).T


@pytest.mark.parametrize("n, coarsest", HIERARCHIES)
def test_vcycle_is_symmetric_positive_definite_and_spectrally_equivalent(x64, n, coarsest):
    a = coefficient(n)
    m = n - 2
    cycle = DarcyMultigrid(a, coarsest=coarsest)
    b = dense(cycle, m)
    assert np.abs(b - b.T).max() <= 1e-13 * np.abs(b).max()
    assert np.linalg.eigvalsh(0.5 * (b + b.T)).min() > 0
    ax, ay = face_coefficients(a)
    matrix = dense(lambda v: darcy_apply(ax, ay, v, 1.0 / (n - 1)), m)
    # B A is similar to the SPD B^½ A B^½: real, positive spectrum; its condition number is
    # what PCG sees (1 would be an exact solve).
    spectrum = np.linalg.eigvals(b @ matrix)
    assert np.abs(spectrum.imag).max() < 1e-10
    assert spectrum.real.min() > 0
    assert spectrum.real.max() / spectrum.real.min() < 2.5


def test_vcycle_symmetry_on_random_vectors_non_nested(x64, getkey):
    n = 43  # 43 → 22 → 11 → 6 → 4 → 3: all but the first coarsening are not nodally nested
    multigrid = DarcyMultigrid(coefficient(n), face="harmonic")
    cycle = jax.jit(lambda r: multigrid(r))
    for _ in range(3):
        x = jax.random.normal(getkey(), (n - 2, n - 2), jnp.float64)
        y = jax.random.normal(getkey(), (n - 2, n - 2), jnp.float64)
        bx, by = cycle(x), cycle(y)
        scale = float(jnp.linalg.norm(bx) * jnp.linalg.norm(y))
        assert abs(float(jnp.vdot(bx, y) - jnp.vdot(x, by))) <= 1e-13 * scale
        assert float(jnp.vdot(bx, x)) > 0


@functools.cache
def _steps(n: int, preconditioner: str) -> int:
    with jax.enable_x64(True):
        run = jax.jit(
            functools.partial(darcy_pcg, preconditioner=preconditioner, rtol=1e-8, max_steps=5000)
        )
        result = run(coefficient(n, seed=1), 1.0)
        assert bool(result.converged)
        return int(result.steps)


def test_iteration_counts_are_independent_of_the_grid():
    sizes = (33, 85)  # 85: non-nested coarse levels; h 2.6x smaller, κ ∝ h⁻² 6.8x larger
    multigrid = {n: _steps(n, "multigrid") for n in sizes}
    jacobi = {n: _steps(n, "jacobi") for n in sizes}
    counts = list(multigrid.values())
    assert max(counts) / min(counts) <= 1.5, multigrid
    assert max(counts) <= 15, multigrid
    for n in jacobi:
        assert multigrid[n] * 8 <= jacobi[n], (multigrid, jacobi)
    assert jacobi[85] / jacobi[33] > 2.0, jacobi  # ∝ n (√κ ∝ 1/h); multigrid: flat


# One jitted solve for the tests below: the float64 solve of the float32 test is the
# program of test_multigrid_solution_matches_scipy[63-harmonic].
solve_multigrid = jax.jit(
    lambda a, f, face: solve_darcy(a, f, face=face, preconditioner="multigrid"),
    static_argnames="face",
)


def source(n: int) -> np.ndarray:
    return np.asarray(1.0 + np.linspace(0.0, 1.0, n)[:, None] * np.ones((1, n)))


@pytest.mark.parametrize("n, face", [(63, "harmonic"), (85, "arithmetic"), (4, "arithmetic")])
def test_multigrid_solution_matches_scipy(x64, n, face):
    a = coefficient(n, seed=2)
    f = source(n)
    reference = scipy_darcy(np.asarray(a), f, face=face)
    u = solve_multigrid(a, jnp.asarray(f), face=face)
    assert u.dtype == jnp.float64
    error = np.abs(np.asarray(u) - reference).max() / np.abs(reference).max()
    assert error < 1e-9


def test_float32_multigrid_is_close_to_float64():
    """On a fine grid (κ ≈ 10⁴) float32 PCG with the default tolerance stays within 1e-5."""
    a = DarcyFlow(n=63).coefficient(jax.random.key(2))
    f = source(63)
    u32 = solve_multigrid(a, jnp.asarray(f, jnp.float32), face="harmonic")
    assert u32.dtype == jnp.float32
    with jax.enable_x64(True):
        u64 = np.asarray(solve_multigrid(a.astype(jnp.float64), jnp.asarray(f), face="harmonic"))
    u32 = np.asarray(u32, np.float64)
    assert np.linalg.norm(u32 - u64) / np.linalg.norm(u64) < 1e-5


@pytest.mark.parametrize("n_fine, n_coarse", [(17, 9), (22, 11), (106, 53), (7, 4), (4, 3)])
def test_prolongation_is_bilinear_interpolation_and_restriction_its_transpose(
    x64, getkey, n_fine, n_coarse
):
    coarse = jax.random.normal(getkey(), (n_coarse - 2, n_coarse - 2), jnp.float64)
    nodes_c, nodes_f = np.linspace(0, 1, n_coarse), np.linspace(0, 1, n_fine)
    interpolant = RegularGridInterpolator((nodes_c, nodes_c), np.pad(np.asarray(coarse), 1))
    x, y = np.meshgrid(nodes_f[1:-1], nodes_f[1:-1], indexing="ij")
    expected = interpolant(np.stack([x, y], axis=-1))
    np.testing.assert_allclose(prolong(coarse, n_fine), expected, rtol=0, atol=1e-12)
    # R = (h/H)² Pᵀ: ⟨R r, e⟩ = (h/H)² ⟨r, P e⟩ for all r, e.
    fine = jax.random.normal(getkey(), (n_fine - 2, n_fine - 2), jnp.float64)
    ratio = ((n_coarse - 1) / (n_fine - 1)) ** 2
    lhs = jnp.vdot(restrict(fine, n_coarse), coarse)
    rhs = ratio * jnp.vdot(fine, prolong(coarse, n_fine))
    np.testing.assert_allclose(float(lhs), float(rhs), rtol=1e-13)


def test_full_weighting_on_nested_grids(x64):
    """Nested grids: R is the nine-point full-weighting stencil (Briggs et al. §3)."""
    r = jnp.zeros((15, 15), jnp.float64).at[4:7, 6:9].set(1.0)  # fine nodes 5..7, 7..9
    coarse = np.asarray(restrict(r, 9))
    # Coarse node (3, 4) sits on fine node (6, 8): all nine stencil points are ones.
    assert coarse[2, 3] == pytest.approx(1.0)
    # Coarse node (3, 3) at fine (6, 6): only its stencil column 7 is ones, 1/16 + 1/8 + 1/16.
    assert coarse[2, 2] == pytest.approx(0.25)
    # Coarse node (2, 4) at fine (4, 8): only its stencil row 5 is ones.
    assert coarse[1, 3] == pytest.approx(0.25)
    # Coarse node (2, 3) at fine (4, 6): only the corner (5, 7).
    assert coarse[1, 2] == pytest.approx(1 / 16)
    assert np.count_nonzero(coarse) == 9


def test_level_sizes_handle_any_n():
    assert level_sizes(421) == (421, 211, 106, 53, 27, 14, 7, 4, 3)
    assert level_sizes(128) == (128, 64, 32, 16, 8, 4, 3)
    assert level_sizes(129, coarsest=10) == (129, 65, 33, 17, 9)
    assert level_sizes(3) == (3,)


@pytest.mark.parametrize("n, coarsest", [(3, 3), (9, 10)])
def test_exact_coarsest_solve(x64, getkey, n, coarsest):
    """n ≤ coarsest: the whole problem is the coarsest grid and B = A⁻¹."""
    a = coefficient(n)
    ax, ay = face_coefficients(a)
    r = jax.random.normal(getkey(), (n - 2, n - 2), jnp.float64)
    z = DarcyMultigrid(a, coarsest=coarsest)(r)
    np.testing.assert_allclose(darcy_apply(ax, ay, z, 1.0 / (n - 1)), r, rtol=0, atol=1e-12)


def test_vmap_and_gradient_through_the_multigrid_solve(getkey):
    problem = DarcyFlow(n=17)
    coefficients = jnp.stack([problem.coefficient(getkey()) for _ in range(3)])
    solve = jax.jit(solve_darcy, static_argnames=("preconditioner",))
    batched = jax.jit(jax.vmap(solve_darcy))(coefficients)
    # vmap may sum the CG's dot products in another order and stop at another iterate: both
    # solve to the CG tolerance, not bit for bit: within 0.8 % of max u, where the solution
    # for another of these fields differs by 17-47 %
    for a, u in zip(coefficients, batched, strict=True):
        atol = darcy_solve_atol(u, a.min(), a.max())
        np.testing.assert_allclose(u, solve(a), rtol=0, atol=atol)
    # The preconditioner is not differentiated: multigrid and Jacobi give the same gradient.
    objective = lambda a, p: jnp.sum(solve(a, preconditioner=p) ** 2)
    grad = jax.jit(jax.grad(objective), static_argnums=1)
    grads = [grad(coefficients[0], p) for p in ("multigrid", "jacobi")]
    scale = float(jnp.abs(grads[1]).max())
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=1e-4 * scale)


def test_bad_input_is_rejected(no_type_checks):
    with pytest.raises(ValueError, match="n×n nodal array"):
        DarcyMultigrid(jnp.ones((8, 9)))
    with pytest.raises(ValueError, match="smoothing"):
        DarcyMultigrid(jnp.ones((9, 9)), smoothing=0)
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        solve_darcy(jnp.ones((9, 9)), preconditioner="ilu")
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        DarcyFlow(n=9, preconditioner="ilu")
    with pytest.raises(ValueError, match="interior residual of shape"):
        DarcyMultigrid(jnp.ones((9, 9)))(jnp.ones((9, 9)))
