"""Time-dependent equations against mathematics: exact solutions (heat, advection,
advection–diffusion, Taylor–Green), Cole–Hopf for Burgers, the KdV soliton, convergence
orders (finite differences in space, ETDRK4 in time), conservation laws, and a spatially
uniform Gray–Scott state against an independent ODE solve."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special

from jaxops.pde import equations as eq
from jaxops.pde.integrate import simulate


def run(equation, u0, ts, **kwargs):
    return np.asarray(simulate(equation, jnp.asarray(u0), jnp.asarray(ts), **kwargs))


@pytest.mark.parametrize("n", [(32,), (16, 12), (8, 8, 6)])
def test_periodic_heat_is_exact(x64, n):
    equation = eq.Diffusion(n, length=2.0, nu=0.05)
    grids = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
    wave = [1, 2, 1][: len(n)]
    k2 = sum((np.pi * m) ** 2 for m in wave)  # 2π m / L with L = 2
    u0 = np.prod([np.cos(np.pi * m * g) for m, g in zip(wave, grids, strict=True)], axis=0)[None]
    ts = np.array([0.0, 0.3, 1.0])
    exact = np.exp(-0.05 * k2 * ts)[:, None, *([None] * len(n))] * u0
    for solver, dt in (("etdrk4", 0.25), ("lawson", None)):
        np.testing.assert_allclose(run(equation, u0, ts, solver=solver, dt=dt), exact, atol=1e-12)


def test_advection_and_advection_diffusion_are_exact(x64):
    ts = np.array([0.0, 0.4, 1.3])
    adv = eq.Advection((32, 16), velocity=(0.3, -0.7))
    x, y = np.meshgrid(*[np.asarray(c) for c in adv.grid.coords()], indexing="ij")
    field = lambda t: np.sin(2 * np.pi * (3 * (x - 0.3 * t) + 2 * (y + 0.7 * t)))[None]
    np.testing.assert_allclose(
        run(adv, field(0), ts, dt=0.5), np.stack([field(t) for t in ts]), atol=1e-12
    )
    ad = eq.AdvectionDiffusion(64, velocity=0.5, nu=0.01)
    x = np.asarray(ad.grid.coords()[0])
    decay = np.exp(-0.01 * (2 * np.pi * 5) ** 2 * ts)
    exact = decay[:, None, None] * np.cos(2 * np.pi * 5 * (x - 0.5 * ts[:, None, None]))
    np.testing.assert_allclose(run(ad, np.cos(10 * np.pi * x)[None], ts, dt=0.5), exact, atol=1e-12)


@pytest.mark.parametrize("bc", ["dirichlet", "neumann"])
def test_finite_difference_heat_converges_at_second_order(x64, bc):
    """Nodal grids: the semi-discrete solution (exact in time) converges to the PDE's at
    second order in the grid spacing. The error is a clean h² (measured orders 2.0005 from
    17 to 33 points and 2.0001 from 33 to 65, both boundary conditions), so two grids (two
    compiled solves) estimate it."""
    profile = np.sin if bc == "dirichlet" else np.cos
    errors = []
    for n in (17, 33):
        equation = eq.Diffusion((n, n), nu=0.1, bc=bc)
        x, y = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
        u0 = (profile(np.pi * x) * profile(2 * np.pi * y))[None]
        u = run(equation, u0, [0.0, 0.2], dt=0.2)[-1]
        exact = np.exp(-0.1 * 5 * np.pi**2 * 0.2) * u0
        errors.append(np.max(np.abs(u - exact)))
    np.testing.assert_allclose(np.log2(np.array(errors[:-1]) / errors[1:]), 2.0, atol=0.1)


def cole_hopf_periodic(x, t, nu, terms=60):
    """Burgers with u₀ = sin(2πx) on [0, 1): u = −2ν φ_x/φ, φ = Σ a_m e^{−4π²m²νt} cos 2πmx,
    a_m from the modified Bessel functions I_m(1/(4πν)) (Cole, Q. Appl. Math. 9, 1951)."""
    z = 1 / (4 * np.pi * nu)
    m = np.arange(terms)[:, None]
    a = np.where(m == 0, 1.0, 2.0) * scipy.special.ive(m, z) * np.exp(-4 * np.pi**2 * m**2 * nu * t)
    phi = np.sum(a * np.cos(2 * np.pi * m * x), axis=0)
    phi_x = np.sum(-2 * np.pi * m * a * np.sin(2 * np.pi * m * x), axis=0)
    return -2 * nu * phi_x / phi


def cole_hopf_dirichlet(x, t, nu, terms=60):
    """Burgers with u₀ = sin(πx) on [0, 1], u(0) = u(1) = 0: the same construction with
    cosines of πmx and I_m(1/(2πν))."""
    z = 1 / (2 * np.pi * nu)
    m = np.arange(terms)[:, None]
    a = np.where(m == 0, 1.0, 2.0) * scipy.special.ive(m, z) * np.exp(-(np.pi**2) * m**2 * nu * t)
    phi = np.sum(a * np.cos(np.pi * m * x), axis=0)
    phi_x = np.sum(-np.pi * m * a * np.sin(np.pi * m * x), axis=0)
    return -2 * nu * phi_x / phi


def test_periodic_burgers_matches_cole_hopf(x64):
    nu, t = 0.02, 0.3
    equation = eq.Burgers(128, nu=nu)
    x = np.asarray(equation.grid.coords()[0])
    u = run(equation, np.sin(2 * np.pi * x)[None], [0.0, t], dt=1e-3)[-1, 0]
    assert np.max(np.abs(u - cole_hopf_periodic(x, t, nu))) < 1e-8


def test_the_default_call_steps_adaptively_to_its_tolerance(x64):
    """`simulate(equation, u0, ts)` with no solver and no step: adaptive Lawson-Tsit5 at the
    float64 default rtol 1e-8, so a few hundred steps stay well within 1e-6 of Cole-Hopf
    (the 128-mode discretisation itself is within 1e-8, as above)."""
    nu, t = 0.02, 0.3
    equation = eq.Burgers(128, nu=nu)
    x = np.asarray(equation.grid.coords()[0])
    u = run(equation, np.sin(2 * np.pi * x)[None], [0.0, t])[-1, 0]
    assert np.max(np.abs(u - cole_hopf_periodic(x, t, nu))) < 1e-6


def test_dirichlet_burgers_converges_at_second_order_to_cole_hopf(x64):
    """Measured orders 1.993 from 33 to 65 points and 1.986 from 65 to 129: two grids (two
    compiled solves) estimate it."""
    nu, t = 0.05, 0.25
    errors = []
    for n in (33, 65):
        equation = eq.Burgers(n, nu=nu, bc="dirichlet")
        x = np.asarray(equation.grid.coords()[0])
        u = run(equation, np.sin(np.pi * x)[None], [0.0, t], dt=2e-3)[-1, 0]
        errors.append(np.max(np.abs(u - cole_hopf_dirichlet(x, t, nu))))
    np.testing.assert_allclose(np.log2(np.array(errors[:-1]) / errors[1:]), 2.0, atol=0.15)


def test_two_dimensional_dirichlet_burgers_self_converges_at_second_order(x64):
    """No closed form satisfies u = 0 on all four walls, so Richardson: successive
    refinements must differ by h² (the differences shrink 4× per halving of h)."""
    solutions = []
    for n in (17, 33, 65):
        equation = eq.Burgers((n, n), nu=0.05, bc="dirichlet")
        x, y = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
        u0 = np.stack(
            [np.sin(np.pi * x) * np.sin(np.pi * y), np.sin(2 * np.pi * x) * np.sin(np.pi * y)]
        )
        solutions.append(run(equation, 0.8 * u0, [0.0, 0.2], dt=5e-3)[-1])
    coarse = lambda u, step: u[:, ::step, ::step]
    differences = [
        np.max(np.abs(coarse(solutions[0], 1) - coarse(solutions[1], 2))),
        np.max(np.abs(coarse(solutions[1], 2) - coarse(solutions[2], 4))),
    ]
    np.testing.assert_allclose(np.log2(differences[0] / differences[1]), 2.0, atol=0.15)


def kdv_soliton(x, t, c=1.0, x0=10.0, length=40.0):
    shift = (x - c * t - x0 + length / 2) % length - length / 2
    return c / 2 / np.cosh(np.sqrt(c) / 2 * shift) ** 2


def test_kdv_soliton_and_fourth_order_in_time(x64):
    equation = eq.KdV(128, length=40.0)
    x = np.asarray(equation.grid.coords()[0])
    u0 = kdv_soliton(x, 0.0)[None]
    errors = [
        np.max(np.abs(run(equation, u0, [0.0, 4.0], dt=dt)[-1, 0] - kdv_soliton(x, 4.0)))
        for dt in (0.05, 0.025)  # each step size compiles its own solve
    ]
    assert errors[-1] < 1e-6
    # measured 4.17 (from dt = 0.1 to 0.05: 4.08; dt = 0.2 is still pre-asymptotic: 3.3)
    np.testing.assert_allclose(np.log2(errors[0] / errors[1]), 4.0, atol=0.3)


def test_taylor_green_vortex_decays_exactly(x64):
    nu = 0.01
    equation = eq.NavierStokes2D(32, nu=nu, forcing="none")
    x, y = np.meshgrid(*[np.asarray(c) for c in equation.grid.coords()], indexing="ij")
    k = 2 * np.pi * 2
    w0 = (2 * k * np.sin(k * x) * np.sin(k * y))[None]
    ts = np.array([0.0, 0.5, 1.0])
    exact = np.exp(-2 * nu * k**2 * ts)[:, None, None, None] * w0
    np.testing.assert_allclose(run(equation, w0, ts, dt=0.1), exact, atol=1e-11)


def random_periodic(shape, seed=0, modes=4):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij")
    out = np.zeros(shape)
    for _ in range(5):
        k = rng.integers(-modes, modes + 1, size=len(shape))
        out += rng.normal() * np.cos(
            2 * np.pi * sum(ki * g for ki, g in zip(k, grids, strict=True)) + rng.uniform(0, 6)
        )
    return out


@pytest.mark.parametrize(
    "equation, dt",
    [
        (eq.Burgers(64, nu=0.01), 1e-3),
        (eq.KdV(64, length=20.0), 1e-3),
        (eq.KuramotoSivashinsky(64, length=22.0), 0.05),
        (eq.NavierStokes2D(32, nu=1e-3), 0.01),
    ],
    ids=["burgers", "kdv", "kuramoto-sivashinsky", "navier-stokes"],
)
def test_periodic_conservation_of_the_mean(x64, equation, dt):
    """∫u is conserved: the nonlinear terms are derivatives and the forcing has zero mean."""
    u0 = random_periodic(equation.grid.shape) / 4
    u0 = u0 + 0.3  # a nonzero mean to conserve
    u = run(equation, u0[None], [0.0, 0.5], dt=dt)
    np.testing.assert_allclose(u[-1].mean(), u[0].mean(), rtol=0, atol=1e-12)


def test_viscous_energy_decays(x64):
    """Unforced viscous flows dissipate kinetic energy (Burgers 2D, Navier–Stokes)."""
    for equation, u0 in (
        (eq.Burgers((32, 32), nu=0.01), np.stack([random_periodic((32, 32), s) for s in (1, 2)])),
        (eq.NavierStokes2D(32, nu=1e-3, forcing="none"), random_periodic((32, 32), 3)[None]),
    ):
        u = run(equation, u0, np.linspace(0.0, 0.5, 6), dt=5e-3)
        energy = np.sum(u**2, axis=tuple(range(1, u.ndim)))
        assert np.all(np.diff(energy) < 0), energy


def test_allen_cahn_energy_decreases(x64):
    """Allen–Cahn is the L² gradient flow of E = ∫ ε²|∇u|²/2 + (u² − 1)²/4."""
    eps = 0.05
    equation = eq.AllenCahn(128, eps=eps, bc="neumann")
    x = np.asarray(equation.grid.coords()[0])
    u0 = 0.5 * np.cos(3 * np.pi * x) + 0.2 * np.cos(7 * np.pi * x)
    u = run(equation, u0[None], np.linspace(0.0, 5.0, 11), dt=0.01)[:, 0]
    h = x[1]
    energy = [np.sum(eps**2 / 2 * np.diff(v) ** 2 / h + h * (v[:-1] ** 2 - 1) ** 2 / 4) for v in u]
    assert np.all(np.diff(energy) < 0)
    assert np.max(np.abs(u[-1])) > 0.95  # separated into the phases ±1


def test_uniform_gray_scott_follows_its_reaction_ode(x64):
    feed, kill = 0.04, 0.06
    equation = eq.GrayScott((16, 16), feed=feed, kill=kill)
    u0 = np.stack([np.full((16, 16), 0.6), np.full((16, 16), 0.3)])
    ts = np.linspace(0.0, 20.0, 5)
    u = run(equation, u0, ts, dt=0.1)

    def reaction(t, y):
        a, b = y
        return [-a * b * b + feed * (1 - a), a * b * b - (feed + kill) * b]

    reference = scipy.integrate.solve_ivp(
        reaction, (0, 20), [0.6, 0.3], t_eval=ts, rtol=1e-12, atol=1e-14
    ).y
    np.testing.assert_allclose(u[:, :, 0, 0].T, reference, atol=1e-8)
    assert np.ptp(u[-1], axis=(1, 2)).max() < 1e-12  # stays uniform


def test_vmap_over_a_parameter_equals_the_loop(x64):
    # vmap runs batched FFTs, which may sum in another order than single ones: the two runs
    # differ by rounding, grown by the dynamics. Each of the 20 ETDRK4 steps rounds ~120 times
    # (4 stages of a 64-point rfft and irfft, 2 log2(64) = 12 each, and the stage arithmetic)
    # on terms up to 1 + dt k_max max|u| = 3 times ‖u‖; Burgers grows a perturbation by at most
    # G = exp(½ ∫ max|u_x| dt) (energy estimate), 8.1 at ν = 0.005. So
    # ‖δ‖ <= 20 · 120 · 3 · eps · G ‖u0‖: 4e-2 in float32, within a factor 10 of what a wrong
    # ν moves u (‖Δu‖ = 0.49 from 0.005 to 0.01), hence float64, where it is 7e-11.
    x = np.arange(64) / 64
    u0 = jnp.asarray(np.sin(2 * np.pi * x)[None])
    ts = jnp.linspace(0.0, 0.2, 21)  # every step, to integrate max|u_x|
    nus = jnp.array([0.005, 0.01, 0.05])
    solve = lambda nu: simulate(eq.Burgers(64, nu=nu), u0, ts, dt=0.01)
    sweep = jax.jit(jax.vmap(solve))(nus)
    single = jax.jit(solve)  # nu traced: one program for the loop (a float would be static)
    k = 2 * np.pi * np.fft.rfftfreq(64, 1 / 64)
    for nu, u in zip(nus, sweep, strict=True):
        assert u.dtype == jnp.float64
        u_x = np.fft.irfft(1j * k * np.fft.rfft(np.asarray(u[:, 0]), axis=-1), n=64, axis=-1)
        growth = np.exp(0.5 * np.trapezoid(np.abs(u_x).max(axis=-1), dx=0.01))
        atol = 20 * 120 * 3 * np.finfo(np.float64).eps * growth * np.linalg.norm(u0)
        np.testing.assert_allclose(u, single(nu), rtol=0, atol=atol)


def test_gradients_match_finite_differences(x64):
    x = np.arange(32) / 32
    u0 = jnp.asarray(np.sin(2 * np.pi * x)[None])
    weight = jnp.asarray(np.cos(2 * np.pi * x) + x)
    ts = jnp.array([0.0, 0.3])

    def loss(u0, nu):
        return jnp.sum(weight * simulate(eq.Burgers(32, nu=nu), u0, ts, dt=0.01)[-1, 0])

    # One program for the gradient and the four difference quotients (nu traced, not static).
    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    loss_at = lambda u0, nu: value_and_grad(u0, nu)[0]
    grad_u0, grad_nu = value_and_grad(u0, 0.02)[1]
    eps = 1e-6
    fd_nu = (loss_at(u0, 0.02 + eps) - loss_at(u0, 0.02 - eps)) / (2 * eps)
    np.testing.assert_allclose(grad_nu, fd_nu, rtol=1e-6)
    direction = jnp.asarray(np.cos(4 * np.pi * x)[None])
    fd_u0 = (loss_at(u0 + eps * direction, 0.02) - loss_at(u0 - eps * direction, 0.02)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(grad_u0, direction), fd_u0, rtol=1e-6)


def test_bad_input_is_rejected(no_type_checks):
    burgers = eq.Burgers(32)
    with pytest.raises(ValueError, match=r"expects a state of shape \(1, 32\)"):
        simulate(burgers, jnp.zeros((32,)), jnp.array([0.0, 1.0]), dt=0.1)
    with pytest.raises(ValueError, match="solver 'etdrk4' takes fixed steps: pass dt"):
        simulate(burgers, jnp.zeros((1, 32)), jnp.array([0.0, 1.0]), solver="etdrk4")
    with pytest.raises(ValueError, match="unknown solver 'rk99'"):
        simulate(burgers, jnp.zeros((1, 32)), jnp.array([0.0, 1.0]), solver="rk99")
    with pytest.raises(ValueError, match="bc must be one of"):
        eq.Burgers(32, bc="robin")
    with pytest.raises(ValueError, match="KdV is one-dimensional"):
        eq.KdV((16, 16))


def test_explicit_blow_up_is_reported():
    """A fixed explicit step far beyond the diffusive limit: a clear error, not NaNs."""
    import diffrax

    heat = eq.Diffusion(64, nu=1.0)
    u0 = jnp.asarray(np.random.default_rng(0).normal(size=(1, 64)), jnp.float32)
    with pytest.raises(Exception, match="became non-finite"):
        jax.block_until_ready(
            simulate(heat, u0, jnp.array([0.0, 1.0]), solver=diffrax.Euler(), dt=0.01)
        )
