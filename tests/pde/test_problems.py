"""Trajectory problems from configs: shapes, parameter sweeps, skip times, boundaries."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32

from jaxops._config import ConfigError
from jaxops.pde import build, simulate
from jaxops.pde.equations import Burgers, Diffusion


def trajectory_problem(name="burgers", n=32, initial=(), **overrides):
    """A trajectory problem from a complete config: small defaults, `overrides` on top
    (`initial` updates the initial-condition entries)."""
    config = dict(
        dim=1,
        length=1.0,
        bc="periodic",
        nu=[0.01, 0.02, 0.05],
        initial=dict(
            kind="fourier",
            n_waves=2,
            max_wavenumber=3,
            alpha=2.5,
            tau=7.0,
            sigma=1.0,
            n_steps=4,
            offset=[0.0],
            scale=[1.0],
        ),
        t_end=0.2,
        n_times=3,
        t_skip=0.0,
        solver="etdrk4",
        dt=0.01,
        rtol=None,
    )
    config["initial"].update(initial)
    config.update(overrides)
    return build(name, n=n, **config)


def test_sweep_cycles_through_combinations_and_samples_solve_the_equation():
    problem = trajectory_problem()
    assert problem.param_names == ("nu",) and problem.channel_names == {"trajectories": ("u",)}
    samples = jax.jit(jax.vmap(lambda i: problem.sample(jax.random.key(i), i)))(jnp.arange(4))
    assert samples.trajectories.shape == (4, 3, 1, 32)
    np.testing.assert_allclose(samples.params[:, 0], [0.01, 0.02, 0.05, 0.01], rtol=1e-6)
    # Each trajectory is the solution from its own initial condition and viscosity, up to the
    # rounding of another program (vmapped): 20 ETDRK4 steps of ~100 roundings (4 stages of a
    # 32-point rfft and irfft, 2 log2(32) = 10 each, and the stage arithmetic) on terms up to
    # 1 + dt k_max max|u| times ‖u‖, grown by at most G = exp(½ T max|u_x|) (Burgers' energy
    # estimate; max|u_x| <= 11.5 on the saved states): 3e-4 to 7e-3 here, while another of
    # the viscosities moves u by 4e-2 to 0.55, 47 times the bound or more.
    k = 2 * np.pi * np.fft.rfftfreq(32, 1 / 32)
    for traj, (nu,) in zip(samples.trajectories, samples.params, strict=True):
        again = simulate(Burgers(32, nu=float(nu)), traj[0], jnp.array([0.0, 0.1, 0.2]), dt=0.01)
        u = np.asarray(traj[:, 0], np.float64)
        u_x = np.fft.irfft(1j * k * np.fft.rfft(u, axis=-1), n=32, axis=-1)
        growth = np.exp(0.5 * 0.2 * np.abs(u_x).max())
        size = 1 + 0.01 * k[-1] * np.abs(u).max()
        atol = 20 * 100 * size * EPS32 * growth * np.linalg.norm(u[0])
        np.testing.assert_allclose(traj, again, rtol=0, atol=atol)


def test_t_skip_records_after_the_transient():
    skip = trajectory_problem(t_skip=0.1, n_times=2, t_end=0.1)
    full = trajectory_problem(n_times=3, t_end=0.2)
    key = jax.random.key(7)
    np.testing.assert_allclose(
        skip.sample(key, 0).trajectories, full.sample(key, 0).trajectories[1:], atol=1e-5
    )
    np.testing.assert_allclose(skip.coords()["t"], [0.0, 0.1])


def test_nodal_problems_respect_the_boundary():
    diffusion = trajectory_problem(
        "diffusion",
        n=17,
        bc="dirichlet",
        nu=[0.1],
        initial=dict(offset=[0.5]),
        t_end=0.1,
        n_times=2,
    )
    trajectory = diffusion.sample(jax.random.key(0), 0).trajectories
    np.testing.assert_array_equal(trajectory[:, 0, [0, -1]], 0.0)
    assert Diffusion(17, bc="dirichlet").grid.kind == "nodal"


def test_periodic_only_equations_reject_a_boundary_condition():
    config = dict(
        dim=2,
        length=1.0,
        bc="dirichlet",
        nu=[1e-3],
        drag=[0.0],
        forcing="fno",
        forcing_wavenumber=4,
        initial=dict(
            kind="grf",
            n_waves=2,
            max_wavenumber=3,
            alpha=2.5,
            tau=7.0,
            sigma=1.0,
            n_steps=4,
            offset=[0.0],
            scale=[1.0],
        ),
        t_end=0.1,
        n_times=2,
        t_skip=0.0,
        solver="etdrk4",
        dt=0.01,
        rtol=None,
    )
    with pytest.raises(ConfigError, match="NavierStokes2D is periodic only; set pde.bc=null"):
        build("navier_stokes", n=16, **config)


def test_ranged_parameters_are_drawn_per_sample_and_each_sample_solves_its_own():
    """`nu: {low, high, log}`: every sample draws its diffusivity log-uniformly; each periodic
    heat trajectory decays as its own nu says (mode m: exp(-nu (2 pi m)^2 t), exact for the
    exponential integrator), and the initial conditions are those of a sweep (the draws come
    from a key of their own)."""
    low, high = 0.01, 0.1
    ranged = trajectory_problem("diffusion", nu={"low": low, "high": high, "log": True})
    swept = trajectory_problem("diffusion", nu=[0.05])
    assert ranged.param_names == ("nu",)
    draw = jax.jit(jax.vmap(lambda i: ranged.sample(jax.random.key(i), i)))
    samples = draw(jnp.arange(8))
    nus = np.asarray(samples.params[:, 0], np.float64)
    assert len(set(nus)) == 8 and ((low <= nus) & (nus < high)).all()
    u = np.fft.rfft(np.asarray(samples.trajectories[:, :, 0], np.float64), axis=-1)
    for sample, nu in zip(u, nus, strict=True):
        m = int(np.argmax(np.abs(sample[0, 1:]))) + 1  # the strongest mode of u(0)
        decay = np.abs(sample[-1, m]) / np.abs(sample[0, m])
        # float32 amplitudes (relative rounding ~1e-6 over 20 steps) against a decay
        # exponent nu (2 pi m)^2 t >= 0.01 * 39.5 * 0.2 = 0.079: nu to about 3e-4.
        np.testing.assert_allclose(-np.log(decay) / ((2 * np.pi * m) ** 2 * 0.2), nu, rtol=3e-4)
    first = swept.sample(jax.random.key(0), 0).trajectories[0]
    # Another program (unbatched) evaluating the same few-term sine series: equal to a few
    # float32 roundings; an initial condition from another key differs by O(1).
    scale = float(np.abs(first).max())
    np.testing.assert_allclose(samples.trajectories[0, 0], first, rtol=0, atol=8 * EPS32 * scale)
    # Log-uniform: log(nu) is uniform on [log low, log high); its mean over 2000 draws lies
    # within 4 standard errors (sd of a uniform: width / sqrt(12)) of the midpoint.
    logs = np.log(np.asarray(jax.vmap(lambda i: ranged.params(jax.random.key(i), i))(
        jnp.arange(2000))[:, 0], np.float64))  # fmt: skip
    width = np.log(high / low)
    assert abs(logs.mean() - np.log(low * high) / 2) < 4 * width / np.sqrt(12 * 2000)
    assert logs.min() >= np.log(low) - 1e-6 and logs.max() < np.log(high)


def test_sweeps_and_ranges_combine_in_config_order():
    problem = trajectory_problem(
        "advection_diffusion",
        bc=None,
        velocity={"low": -1.0, "high": 1.0},
        nu=[0.01, 0.02],
    )
    assert problem.param_names == ("velocity", "nu") and problem.swept == ("nu",)
    params = np.asarray(jax.vmap(lambda i: problem.params(jax.random.key(i), i))(jnp.arange(6)))
    np.testing.assert_allclose(params[:, 1], [0.01, 0.02] * 3, rtol=1e-6)
    assert (np.abs(params[:, 0]) < 1).all() and len(set(params[:, 0])) == 6


@pytest.mark.parametrize(
    ("nu", "message"),
    [
        ({"low": 0.1, "high": 0.01}, "with a < b"),
        ({"low": 0.0, "high": 0.1, "log": True}, "log: true needs low > 0"),
        ({"low": 0.01, "hi": 0.1}, "give a number, a list of numbers"),
        ("fast", "give a number, a list of numbers"),
    ],
)
def test_a_malformed_parameter_names_the_accepted_forms(nu, message):
    with pytest.raises(ConfigError, match=f"pde.nu=.*{message}"):
        trajectory_problem("diffusion", nu=nu)
