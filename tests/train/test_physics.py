"""Physics-informed losses: PDE residuals vanish on exact solutions (Cole–Hopf Burgers,
Taylor–Green and steady Kolmogorov Navier–Stokes, Darcy) at the order of their
discretisation and are O(1) on perturbed ones; `fit(physics=...)` trains on the physical
residual; Spectral-Refiner changes only the last spectral layer and lowers the H⁻¹ residual."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import EPS32, astype, fno_rounding_chain, normal, relative_error_atol

from jaxops import models, pde, train
from jaxops.train import physics

# ---------------------------------------------------------------- time-dependent residuals


def cole_hopf(x, t, nu, k=1.0, eps=0.5):
    """u = −2ν φ_x/φ with φ = 1 + ε e^{−νk²t} cos(kx), which solves φ_t = ν φ_xx: an exact
    periodic solution of u_t + u u_x = ν u_xx."""
    e = eps * np.exp(-nu * k**2 * t)
    return -2 * nu * (-k * e * np.sin(k * x)) / (1 + e * np.cos(k * x))


residual = eqx.filter_jit(physics.time_residual)


def max_residual(equation, trajectory, dt):
    return float(jnp.max(jnp.abs(residual(equation, jnp.asarray(trajectory), dt))))


def test_burgers_residual_is_second_order_on_cole_hopf_and_large_when_perturbed(x64):
    nu = 0.1
    equation = pde.Burgers(64, length=2 * np.pi, nu=nu)
    x = np.asarray(equation.grid.coords()[0])
    trajectory = lambda dt: np.stack([cole_hopf(x, i * dt, nu)[None] for i in range(5)])
    errors = [max_residual(equation, trajectory(dt), dt) for dt in (0.1, 0.05, 0.025)]
    # measured 2.27e-6, 5.81e-7, 1.47e-7: order 1.97, 1.98
    np.testing.assert_allclose(np.log2(np.array(errors[:-1]) / errors[1:]), 2.0, atol=0.1)
    perturbed = trajectory(0.025) + 0.05 * np.sin(3 * x)  # same at every time: u_t unchanged
    # the perturbation's own ν u_xx + nonlinear terms: ≈ 0.05 · 9 ν + ...
    assert max_residual(equation, perturbed, 0.025) > 0.03
    scale = np.max(np.abs(cole_hopf(x, 0.0, nu)))
    assert errors[-1] < 1e-6 * scale / 0.1


def test_navier_stokes_residual_on_taylor_green_is_second_order(x64):
    nu = 0.01
    equation = pde.NavierStokes2D(32, nu=nu, forcing="none")
    x, y = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
    k = 2 * np.pi * 2
    w0 = 2 * k * np.cos(k * x) * np.cos(k * y)
    lam = 2 * nu * k**2
    trajectory = lambda dt: np.stack([np.exp(-lam * i * dt) * w0[None] for i in range(3)])
    errors = [max_residual(equation, trajectory(dt), dt) for dt in (0.02, 0.01)]
    # exactly e^{−λ dt} |λ − sinh(λ dt)/dt| max|ω₀| = λ³dt²/6 + O(dt⁴), u·∇ω = 0 spectrally
    exact = lambda dt: np.exp(-lam * dt) * abs(lam - np.sinh(lam * dt) / dt) * np.max(w0)
    np.testing.assert_allclose(errors, [exact(0.02), exact(0.01)], rtol=1e-6)
    # measured 3.88: the factor e^{−λ dt} (0.97 between the two) on top of dt²
    np.testing.assert_allclose(errors[0] / errors[1], 4.0, rtol=0.05)


@pytest.mark.parametrize(
    "forcing, k2",
    # Kolmogorov: a regression test too — the forcing's mean was once removed with
    # f_hat.at[0, 0] on a (1, n, m) array, which dropped every k_x = 0 mode (all of it).
    [("fno", 2 * (2 * np.pi) ** 2), ("kolmogorov", (2 * np.pi * 2) ** 2)],
)
def test_navier_stokes_residual_on_a_steady_forced_flow(x64, forcing, k2):
    # f a single Fourier shell |k|² = k2, depending on one direction only: ω = f / (ν k2 + α) has
    # u·∇ω = 0 and ν Δω − α ω + f = 0, a steady solution; the forcing enters the residual.
    nu, drag = 0.01, 0.1
    equation = pde.NavierStokes2D(32, nu=nu, forcing=forcing, drag=drag, forcing_wavenumber=2)
    force = np.asarray(equation.force())
    steady = force / (nu * k2 + drag)
    assert max_residual(equation, np.stack([steady] * 3), 0.1) < 1e-12 * np.max(np.abs(steady))
    np.testing.assert_allclose(
        max_residual(equation, np.stack([1.1 * steady] * 3), 0.1),
        0.1 * np.max(np.abs(force)),
        rtol=1e-9,
    )


def test_navier_stokes_residual_of_a_forced_simulation_shrinks_at_second_order(x64):
    equation = pde.NavierStokes2D(32, nu=0.01, forcing="fno")
    x, y = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
    w0 = np.cos(2 * np.pi * (x + 2 * y)) + 0.5 * np.sin(2 * np.pi * (3 * x - y) + 1.0)
    dt = 0.02
    trajectory = pde.simulate(equation, jnp.asarray(w0[None]), dt * np.arange(5), dt=dt / 4)
    errors = [
        max_residual(equation, trajectory[::2], 2 * dt),
        max_residual(equation, trajectory[:3], dt),
    ]
    rhs = float(jnp.max(jnp.abs(equation.vector_field(0.0, trajectory[1]))))
    assert errors[1] < 1e-3 * rhs  # the solver's ETDRK4 error (dt/4) is far below this
    np.testing.assert_allclose(errors[0] / errors[1], 4.0, rtol=0.1)


# ---------------------------------------------------------------------------- Darcy


def test_darcy_residual_at_cg_tolerance_on_the_solver_solution_and_large_if_perturbed(x64):
    x = np.linspace(0.0, 1.0, 17)
    g = np.cos(3 * x)[:, None] + np.sin(5 * x + 1)[None, :] * np.cos(2 * x)[:, None]
    a = jnp.asarray(np.where(g >= 0.3, 12.0, 3.0))  # two-valued, as in the FNO dataset
    u = pde.solve_darcy(a, 1.0, rtol=1e-10, preconditioner="jacobi")
    r = physics.darcy_residual(a, u)
    size = np.linalg.norm(np.ones(15 * 15))
    assert np.linalg.norm(r.interior) <= 1.01e-10 * size  # CG stops at ‖r‖ ≤ rtol ‖f‖
    assert np.max(np.abs(r.boundary)) == 0.0
    bump = np.outer(np.sin(np.pi * x), np.sin(np.pi * x))
    perturbed = physics.darcy_residual(a, u + 0.1 * np.max(u) * bump)
    assert np.sqrt(np.mean(perturbed.interior**2)) > 0.1  # ≈ 0.1 · max u · 2π² · mean a
    lifted = u.at[0].set(1.0).at[-1].set(1.0).at[:, 0].set(1.0).at[:, -1].set(1.0)
    shifted = physics.darcy_residual(a, lifted)  # wrong boundary values, same interior
    np.testing.assert_array_equal(shifted.boundary, 1.0)
    np.testing.assert_array_equal(shifted.interior, r.interior)  # boundary read as 0
    assert float(physics.darcy_loss(a, lifted, boundary_weight=2.0)) == pytest.approx(2.0, 1e-9)


def test_darcy_residual_converges_at_second_order_on_a_manufactured_solution(x64):
    # u = sin(πx) sin(πy), a = 2 + cos(x + 2y): f = −∇·(a∇u) in closed form.
    errors = []
    for n in (17, 33, 65):
        x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
        s, c = np.sin, np.cos
        p = np.pi
        u = s(p * x) * s(p * y)
        a = 2 + c(x + 2 * y)
        ux, uy = p * c(p * x) * s(p * y), p * s(p * x) * c(p * y)
        ax, ay = -s(x + 2 * y), -2 * s(x + 2 * y)
        f = -(ax * ux + ay * uy) + 2 * p**2 * a * u
        errors.append(float(jnp.max(jnp.abs(physics.darcy_residual(a, u, f).interior))))
    # measured order 2.00, 2.00
    np.testing.assert_allclose(np.log2(np.array(errors[:-1]) / errors[1:]), 2.0, atol=0.05)


def test_residual_norms_agree_on_constants_and_weight_a_mode_by_one_over_one_plus_k2(x64):
    # Both claims are exact in real arithmetic; checked in float64, where the rounding of a
    # 1024-point reduction cannot reach the tolerance on any processor. (In float32 the mean
    # of 1024 equal squares is only good to 1024 · eps32 = 1.2e-4, and one x86 CPU returns
    # 0.0899990 where another returns 0.0900001, depending on vector width.)
    eps = float(np.finfo(np.float64).eps)
    x = np.arange(32) / 32
    constant = np.full((1, 32, 32), 0.3)
    for norm in physics.NORMS:
        loss = physics.residual_loss(constant, norm)
        assert loss.dtype == jnp.float64
        # 1024-term float64 sum (for "h-1" the zero mode of a 32×32 FFT, the same sum):
        # |error| <= 1024 · eps · 0.09; 0.3² itself rounds within 2 eps.
        assert float(loss) == pytest.approx(0.09, rel=1024 * eps)
    mode = np.sin(2 * np.pi * 3 * x)[None, :, None] * np.ones((1, 32, 32))
    k2 = (2 * np.pi * 3) ** 2
    ratio = physics.residual_loss(mode, "h-1") / physics.residual_loss(mode, "mse")
    # a ratio of two 1024-term float64 sums (the FFT adds O(log2(1024) · eps)): 2 · 1024 · eps.
    # A wrong weight, e.g. 1/k² or 1/(1 + k), is off by 0.3 % or more.
    assert float(ratio) == pytest.approx(1 / (1 + k2), rel=2 * 1024 * eps)


def test_zero_boundary_vanishes_on_the_boundary_and_scales_by_the_sine_envelope():
    inner = lambda x: 1.0 + x**2  # nonzero everywhere
    model = physics.ZeroBoundary(inner, scale=0.01)
    a = jnp.linspace(0.0, 1.0, 9 * 12).reshape(1, 9, 12)
    u, raw = np.asarray(model(a)[0]), np.asarray(inner(a)[0])
    assert np.all(u[[0, -1], :] == 0) and np.all(u[:, [0, -1]] == 0)
    envelope = np.outer(np.sin(np.pi * np.arange(9) / 8), np.sin(np.pi * np.arange(12) / 11))
    np.testing.assert_allclose(u[1:-1, 1:-1], 0.01 * (envelope * raw)[1:-1, 1:-1], rtol=1e-6)


def test_clear_errors_before_compute(no_type_checks):
    equation = pde.Burgers(16)
    with pytest.raises(ValueError, match="T >= 3"):
        physics.time_residual(equation, jnp.zeros((2, 1, 16)), 0.1)
    with pytest.raises(ValueError, match="dt must be positive"):
        physics.time_residual(equation, jnp.zeros((3, 1, 16)), 0.0)
    with pytest.raises(ValueError, match="expects a state of shape"):
        physics.time_residual(equation, jnp.zeros((3, 1, 17)), 0.1)
    with pytest.raises(ValueError, match="same n×n nodal grid"):
        physics.darcy_residual(jnp.ones((9, 9)), jnp.ones((1, 9, 9)))
    with pytest.raises(ValueError, match="norm must be one of"):
        physics.residual_loss(jnp.ones((1, 8)), "h1")
    with pytest.raises(ValueError, match="models.FNO"):
        train.refine_last_spectral_layer(lambda x: x, jnp.ones((2, 1, 8)), lambda x, u: 0.0)


# ------------------------------------------------------------------- training hooks

N = 16


darcy_physics = physics.darcy_physics(boundary_weight=10.0)
darcy_h1 = physics.darcy_physics(norm="h-1", boundary_weight=10.0)


def small_fno(key):
    return models.FNO(1, 1, (4, 4), width=8, depth=2, projection_width=16, key=key)


@eqx.filter_jit
def _mean_physics(model, inputs, loss):
    return jnp.mean(jax.vmap(lambda x: loss(x, model(x)))(inputs))


def mean_physics(model, inputs, loss=darcy_physics):
    """The mean physics loss of `model` on `inputs` (one compiled program)."""
    return float(_mean_physics(model, inputs, loss))


batched = eqx.filter_jit(lambda model, inputs: jax.vmap(model)(inputs))


# Roundings along one output of `small_fno` on the 17×17 grid (see `fno_rounding_chain`), + 2
# for the sine envelope of ZeroBoundary.
CHAIN = fno_rounding_chain(1, (17, 17), (4, 4), width=8, depth=2, projection_width=16) + 2


def physics_rtol(model, inputs, value, eps=EPS32):
    """rtol for the mean Darcy physics loss `value` of `model` on `inputs` as two different
    float32 programs compute it (a training step and `mean_physics`). Their outputs u differ
    by at most 2 · CHAIN · eps · max|u|; the 5-point stencil (4 faces, |a|/h² each, both end
    nodes) scales that by S = 8 max a / h², and itself rounds ~10 terms of size <= S max|u| + |f|:
    ‖δr‖ <= (2 CHAIN + 10) eps (S max|u| + 1). The loss is a squared norm ‖r‖² (the H⁻¹ norm is
    at most the L² one), so δL / L <= 2 ‖δr‖ / √L, and its sums add (n² + N) eps."""
    u = batched(model, inputs)
    n = inputs.shape[-1]
    scale = 8 * float(np.max(inputs)) * (n - 1) ** 2 * float(np.max(np.abs(u))) + 1.0
    residual = (2 * CHAIN + 10) * eps * scale
    return 2 * residual / np.sqrt(value) + (n * n + len(inputs)) * eps


@pytest.fixture(scope="module")
def coefficients():
    """16 unlabelled Darcy coefficients `(16, 1, 17, 17)` (FNO-paper distribution)."""
    keys = jax.random.split(jax.random.key(3), N)
    return jax.jit(jax.vmap(pde.DarcyFlow(n=17).coefficient))(keys)[:, None]


def fit(a, targets, epochs, batch_size, optimizer, model=None, **kwargs):
    # the test set is not looked at here: placeholders with nonzero targets
    model = small_fno(jax.random.key(1)) if model is None else model
    return train.fit(model, (a, targets), (a[:2], jnp.ones_like(a[:2])), optimizer=optimizer,
                     epochs=epochs, batch_size=batch_size, key=jax.random.key(0),
                     progress=False, **kwargs)  # fmt: skip


ZERO_BOUNDARY = physics.ZeroBoundary(small_fno(jax.random.key(1)), scale=0.01)


@pytest.fixture(scope="module")
def pino(coefficients):
    """Data-free PINO: 60 epochs on the H⁻¹ residual alone, no solutions (placeholder
    targets), u = 0 on the boundary by construction."""
    a = coefficients
    return fit(a, jnp.ones_like(a), 60, 4, optax.adam(3e-3), ZERO_BOUNDARY, physics=darcy_h1,
               data_weight=0.0, normalizer="none")  # fmt: skip


def test_fit_loss_is_the_weighted_physics_of_the_denormalised_model(coefficients):
    a = coefficients
    targets = 0.05 + 0.01 * a  # not a solution: any data term of the right shape
    # lr 0: the model returned (with its normalisers: physical units) is the one trained
    only = fit(a, targets, 1, N, optax.sgd(0.0), physics=darcy_physics, data_weight=0.0,
               physics_weight=2.0)  # fmt: skip
    physics_only = mean_physics(only.model, a)
    rtol = physics_rtol(only.model, a, physics_only)  # 2.4e-3: the stencil amplifies by 22
    np.testing.assert_allclose(only.history[0]["train_loss"], 2.0 * physics_only, rtol=rtol)
    both = fit(a, targets, 1, N, optax.sgd(0.0), physics=darcy_physics, data_weight=0.5,
               physics_weight=2.0)  # fmt: skip

    @eqx.filter_jit
    def data_loss(model, x, y):
        return jnp.mean(jax.vmap(lambda x, y: train.losses.relative_l2(model(x), y))(x, y))

    data = float(data_loss(both.model, a, targets))
    physics_both = mean_physics(both.model, a)
    expected = 0.5 * data + 2.0 * physics_both
    atol = (0.5 * relative_error_atol(CHAIN, data, terms=17 * 17 + N)
            + 2.0 * physics_both * physics_rtol(both.model, a, physics_both))  # fmt: skip
    np.testing.assert_allclose(both.history[0]["train_loss"], expected, rtol=0, atol=atol)
    with pytest.raises(ValueError, match="needs a physics loss"):
        fit(a, targets, 1, N, optax.sgd(0.0), data_weight=0.0)


def test_data_free_pino_lowers_the_residual_and_approaches_the_solution(coefficients, pino):
    a = coefficients
    before = mean_physics(ZERO_BOUNDARY, a, darcy_h1)  # what `pino` started from
    after = mean_physics(pino.model, a, darcy_h1)
    zero = mean_physics(lambda x: jnp.zeros_like(x), a, darcy_h1)
    assert after < before / 50 and after < zero / 50, (before, after, zero)  # 0.69, 0.0050, 0.77
    solutions = jax.jit(jax.vmap(lambda a: pde.solve_darcy(a[0])[None]))(a)
    error = float(np.mean(train.evaluate_model(pino.model, a, solutions)))
    assert error < 0.3, error  # measured 0.15 without ever seeing a solution


def test_spectral_refiner_changes_only_the_last_spectral_layer(coefficients, pino, x64):
    # In float64: the losses the refiner reports are checked against mean_physics, another
    # program. In float32 the bound on their rounding (physics_rtol) is ~10 % of the small
    # H⁻¹ residual: too loose to tell one refinement step from the next (~0.7 % apart).
    a, model = astype((coefficients, pino.model), jnp.float64)
    refined, history = train.refine_last_spectral_layer(
        model, a, darcy_h1, steps=40, optimizer=optax.adam(3e-3)
    )
    assert history.shape == (41,) and history.dtype == jnp.float64
    for value, m in ((history[0], model), (history[-1], refined)):
        expected = mean_physics(m, a, darcy_h1)
        rtol = physics_rtol(m, a, expected, eps=np.finfo(np.float64).eps)  # ~1e-9
        np.testing.assert_allclose(value, expected, rtol=rtol)
    assert history[-1] < 0.85 * history[0], history[[0, -1]]  # measured 0.0050 -> 0.0038
    leaves = lambda m: {
        jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(m)
    }
    before, after = leaves(model), leaves(refined)
    last = f".model.model.spectral[{len(model.model.model.spectral) - 1}]"
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {k for k in before if k.startswith(last)}  # all of it, nothing else
    assert len(changed) == 2  # weight_real, weight_imag


def test_any_problem_that_owns_a_residual_gives_its_physics_loss():
    """`problem_physics` needs only `residual(input, output) -> (interior, boundary)`: the mse
    loss is mean(interior²) + boundary_weight · mean(boundary²), computed here in numpy; a
    problem without a residual is named."""

    class Shifted:  # residual u − x inside, u on the boundary ring
        def residual(self, x, u):
            return physics.DarcyResidual((u - x)[0, 1:-1, 1:-1], u[0, 0])

    x, u = normal((1, 6, 6), seed=1), normal((1, 6, 6), seed=2)
    loss = physics.problem_physics(Shifted(), boundary_weight=3.0)(x, u)
    expected = np.mean((np.asarray(u - x)[0, 1:-1, 1:-1]) ** 2) + 3.0 * np.mean(
        np.asarray(u)[0, 0] ** 2
    )
    assert float(loss) == pytest.approx(expected, rel=64 * EPS32)  # sums of <= 16 terms
    with pytest.raises(ValueError, match="object defines no residual"):
        physics.problem_physics(object())
