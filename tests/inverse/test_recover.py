"""`recover` and its objective: directional derivatives through `simulate` (Navier–Stokes) and
an FNO composed with a bounded parametrisation against central finite differences (float64;
`solve_darcy`'s own gradient is checked in tests/pde/test_darcy.py); convergence to the exact
MAP estimate of a linear-Gaussian heat problem; Darcy coefficient recovery from noisy data."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops import models, pde
from jaxops.inverse import (
    Bounded,
    Observations,
    Tikhonov,
    TotalVariation,
    grid_points,
    objective,
    recover,
)


def navier_stokes_case(key):
    eq = pde.NavierStokes2D(16, nu=1e-3)
    truth = 15.0 * pde.periodic_grf(key, (16, 16), dtype=jnp.float64)[None]
    forward = lambda w: pde.simulate(eq, w, np.array([0.0, 0.1]), dt=0.05)[-1]
    reg = Tikhonov(order=1, grid="periodic")
    return forward, truth, 0.5 * truth, reg, None


def fno_case(key):
    k1, k2 = jax.random.split(key)
    fno = models.FNO(1, 1, (4, 4), 8, 2, projection_width=16, key=k1, dtype=jnp.float64)
    truth = pde.DarcyFlow(n=12).coefficient(k2).astype(jnp.float64)[None]
    return fno, truth, jnp.full_like(truth, 7.5), TotalVariation(), Bounded(3.0, 12.0)


@pytest.mark.parametrize("case", [navier_stokes_case, fno_case])
def test_objective_gradient_matches_finite_differences(x64, getkey, case):
    forward, truth, x, reg, param = case(getkey())
    # Any data will do for comparing derivatives: skip compiling the forward map on its own.
    points = grid_points(truth.shape, 2)
    obs = Observations(points, truth.ravel()[points] + 0.1, 0.1, truth.shape)
    loss = objective(forward, obs, reg, 0.1, param)
    z = x if param is None else param.inverse(x)
    z = z + 0.1 * jax.random.normal(getkey(), z.shape)  # off any symmetric point
    v = jax.random.normal(getkey(), z.shape)
    value_and_grad = jax.jit(jax.value_and_grad(lambda z: loss(z)[0]))  # one compilation
    eps = 1e-4
    fd = (value_and_grad(z + eps * v)[0] - value_and_grad(z - eps * v)[0]) / (2 * eps)
    ad = jnp.vdot(value_and_grad(z)[1], v)
    assert abs(float(fd)) > 1e-3  # a real slope, not two zeros
    assert float(ad) == pytest.approx(float(fd), rel=1e-6)


def test_heat_initial_condition_reaches_the_exact_map_estimate(x64, getkey):
    """Linear forward map, quadratic misfit and prior: the minimiser solves the normal
    equations (Gᵀ Mᵀ M G / (m σ²) + λ K) x = Gᵀ Mᵀ y / (m σ²), K the prior's Hessian. G is
    the exact solution operator of the periodic heat equation, e^{−ν k² T} per Fourier mode,
    written as a dense matrix (the solver's own gradients are checked above)."""
    n, weight, nu, t = 32, 1e-2, 0.01, 0.2
    k = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)
    fourier = np.fft.fft(np.eye(n), axis=0)
    g_full = jnp.asarray(np.real(np.fft.ifft(np.exp(-nu * k**2 * t)[:, None] * fourier, axis=0)))
    forward = lambda x: (g_full @ x[0])[None]
    truth = pde.fourier_series(getkey(), (n,), 3, 3, dtype=jnp.float64)[None]
    u = forward(truth)
    obs = Observations.of(getkey(), u, grid_points(u.shape, 2), noise=0.01)
    prior = Tikhonov(order=1, grid="periodic", dim=1)
    # The normal equations in numpy (float64, like the run): no eager jax op to compile.
    g = np.asarray(g_full)[np.asarray(obs.indices)]  # M G
    hessian = np.asarray(jax.jit(jax.hessian(prior))(truth)).reshape(n, n)
    m, s2 = len(obs.indices), float(obs.sigma) ** 2
    rhs = g.T @ np.asarray(obs.values) / (m * s2)
    exact = np.linalg.solve(g.T @ g / (m * s2) + weight * hessian, rhs)
    result = recover(forward, obs, jnp.zeros_like(truth), regularizer=prior, weight=weight,
                     optimizer=optax.lbfgs(), steps=100)  # fmt: skip
    rel = lambda x, y: float(np.linalg.norm(np.ravel(x) - np.ravel(y)) / np.linalg.norm(y))
    assert rel(result.estimate, exact) < 1e-5  # measured 1.2e-6 (line-search tolerance)
    # The estimate itself: modes up to 3 lose e^{−ν(6π)²·0.2} ≈ 0.5 of their amplitude and
    # come back through 16 noisy points, shrunk by the prior; measured error 0.060 (the
    # start, x = 0, has 1).
    assert rel(result.estimate, truth) < 0.1
    assert result.history["loss"][-1] < 1e-3 * result.history["loss"][0]


def test_darcy_coefficient_from_sparse_noisy_data():
    """Darcy 17², a ∈ {3, 12} (FNO-paper field), u observed at every 2nd interior node (49
    of 289) with 1 % noise; bounded a, total variation. Measured: relative error 0.21 after
    300 Adam steps (a constant guess 7.5 has 0.52); the interface positions between the
    observation points are not determined by the data, which sets the floor."""
    n = 17
    truth = pde.DarcyFlow(n=n).coefficient(jax.random.key(0))[None]
    forward = jax.jit(lambda a: pde.solve_darcy(a[0], preconditioner="jacobi")[None])
    u = forward(truth)
    obs = Observations.of(jax.random.key(1), u, grid_points(u.shape, 2, interior=True), 0.01)
    guess = jnp.full_like(truth, 7.5)
    result = recover(forward, obs, guess, regularizer=TotalVariation(), weight=1e-2,
                     optimizer=optax.adam(0.3), steps=300, parametrization=Bounded(3.0, 12.0),
                     log_every=100)  # fmt: skip
    rel = lambda x: float(jnp.linalg.norm(x - truth) / jnp.linalg.norm(truth))
    assert rel(guess) > 0.5
    assert rel(result.estimate) < 0.25
    assert float(result.estimate.min()) > 3.0 and float(result.estimate.max()) < 12.0
    assert result.history["misfit"][-1] < 0.01 * result.history["misfit"][0]
    assert len(result.history["loss"]) == 300


def test_recover_errors():
    forward = lambda x: x
    obs = Observations(jnp.array([0]), jnp.array([1.0]), 0.1, (1, 4, 4))
    with pytest.raises(ValueError, match="needs a regularizer"):
        recover(forward, obs, jnp.zeros((1, 4, 4)), weight=1.0)
    with pytest.raises(ValueError, match="scalar"):
        recover(forward, lambda u: u, jnp.zeros((1, 4, 4)))
    with pytest.raises(FloatingPointError, match="non-finite at step"):
        recover(lambda x: x / 0.0, obs, jnp.ones((1, 4, 4)), steps=3)
