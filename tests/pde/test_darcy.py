"""Darcy solver against mathematics: a manufactured solution at second order, an
independent scipy sparse solve, gradients against finite differences, vmap against a loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import darcy_solve_atol, scipy_darcy

from jaxops.pde import DarcyFlow
from jaxops.pde import solve_darcy as _solve_darcy
from jaxops.pde.elliptic.krylov import pcg

solve_darcy = jax.jit(_solve_darcy, static_argnames=("face", "preconditioner", "rtol", "max_steps"))


def exact_u(x, y):
    return jnp.sin(jnp.pi * x) * jnp.sin(2 * jnp.pi * y) * jnp.exp(x)


def coefficient(x, y):
    return 1.5 + jnp.sin(2 * jnp.pi * x) * jnp.cos(jnp.pi * y)


def source(x, y):
    """f = −∇·(a∇u), computed exactly by automatic differentiation of the formulas."""
    flux_x = lambda x, y: coefficient(x, y) * jax.grad(exact_u, 0)(x, y)
    flux_y = lambda x, y: coefficient(x, y) * jax.grad(exact_u, 1)(x, y)
    return -(jax.grad(flux_x, 0)(x, y) + jax.grad(flux_y, 1)(x, y))


def nodal(fn, n):
    x = jnp.linspace(0.0, 1.0, n)
    x, y = jnp.meshgrid(x, x, indexing="ij")
    return jax.jit(jax.vmap(jax.vmap(fn)))(x, y)


@pytest.mark.parametrize("face", ["arithmetic", "harmonic"])
def test_manufactured_solution_converges_at_second_order(x64, face):
    errors = []
    sizes = (17, 33, 65)
    for n in sizes:
        # The discretisation is under test, not the solver: the preconditioner that compiles
        # fastest (multigrid solutions are checked against scipy below).
        u = solve_darcy(nodal(coefficient, n), nodal(source, n), face=face, preconditioner="jacobi")
        errors.append(float(jnp.max(jnp.abs(u - nodal(exact_u, n)))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 2e-3
    np.testing.assert_allclose(orders, 2.0, atol=0.1)


@pytest.mark.parametrize("dtype, tol", [(jnp.float32, 1e-5), (jnp.float64, 1e-10)])
def test_constant_coefficient_matches_scipy(x64, dtype, tol):
    n = 29  # the size and arguments of the next test: float64 shares its compiled solve
    a = np.full((n, n), 2.5)
    f = np.asarray(nodal(lambda x, y: 1.0 + x * y**2, n))
    reference = scipy_darcy(a, f)
    # the defaults, passed explicitly: jit keys its cache on the static arguments given
    u = solve_darcy(
        jnp.asarray(a, dtype), jnp.asarray(f, dtype), face="arithmetic", preconditioner="multigrid"
    )
    assert u.dtype == dtype
    error = np.max(np.abs(np.asarray(u) - reference)) / np.max(np.abs(reference))
    assert error < tol


@pytest.mark.parametrize("preconditioner", ["multigrid", "jacobi"])
@pytest.mark.parametrize("face", ["arithmetic", "harmonic"])
def test_piecewise_constant_coefficient_matches_scipy(x64, face, preconditioner, getkey):
    a = DarcyFlow(n=29).coefficient(getkey()).astype(jnp.float64)
    reference = scipy_darcy(np.asarray(a), np.ones(a.shape), face=face)
    u = solve_darcy(a, jnp.ones_like(a), face=face, preconditioner=preconditioner)
    np.testing.assert_allclose(np.asarray(u), reference, rtol=0, atol=1e-9 * reference.max())


def test_gradient_matches_finite_differences(x64, getkey):
    n = 13
    a = DarcyFlow(n=n).coefficient(getkey()).astype(jnp.float64)
    weight = nodal(lambda x, y: jnp.sin(3 * x + y), n)
    objective = lambda a: jnp.sum(weight * _solve_darcy(a, 1.0))
    value_and_grad = jax.jit(jax.value_and_grad(objective))  # one program for all three
    direction = jax.random.normal(getkey(), a.shape, jnp.float64)
    eps = 1e-6
    fd = (value_and_grad(a + eps * direction)[0] - value_and_grad(a - eps * direction)[0]) / (
        2 * eps
    )
    ad = jnp.vdot(value_and_grad(a)[1], direction)
    np.testing.assert_allclose(float(ad), float(fd), rtol=1e-6)


def test_pcg_iterations_and_tolerance(x64):
    """CG on the 1D Laplacian (n unknowns) converges in at most n steps in exact arithmetic."""
    n = 50
    matvec = lambda v: 2 * v - jnp.pad(v[1:], (0, 1)) - jnp.pad(v[:-1], (1, 0))
    b = jnp.linspace(0.0, 1.0, n)
    result = pcg(matvec, b, rtol=1e-12)
    assert bool(result.converged) and int(result.steps) <= n
    np.testing.assert_allclose(matvec(result.value), b, atol=1e-10)


def test_non_convergence_raises(getkey):
    a = DarcyFlow(n=17).coefficient(getkey())
    errors = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
    with pytest.raises(errors, match="did not reach the tolerance in 3 steps"):
        jax.block_until_ready(solve_darcy(a, preconditioner="jacobi", max_steps=3))


def test_bad_shape_is_rejected(no_type_checks):
    with pytest.raises(ValueError, match="n×n nodal array"):
        _solve_darcy(jnp.ones((8, 9)))


def test_vmap_over_physical_parameters_equals_the_loop():
    """Equations are modules: vmapping a constructor sweeps a parameter (DESIGN.md)."""
    taus = jnp.array([2.0, 3.0, 5.0])
    key = jax.random.key(4)
    draw = lambda t: DarcyFlow(n=17, tau=t, preconditioner="jacobi").sample(key).outputs
    sweep = jax.jit(jax.vmap(draw))(taus)
    one = jax.jit(draw)
    for tau, u in zip(taus, sweep, strict=True):
        # both solve to the CG tolerance (see test_multigrid.py's vmap test), not bit for bit
        atol = darcy_solve_atol(u, 3.0, 12.0)  # a takes the values 3 and 12
        np.testing.assert_allclose(u, one(float(tau)), rtol=0, atol=atol)
