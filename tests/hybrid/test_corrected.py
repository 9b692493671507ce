"""`CorrectedStep`: with no correction it is the coarse solver (exact for the heat equation,
`pde.simulate` to round-off for Kuramoto–Sivashinsky); gradients through k unrolled hybrid
steps match finite differences; the equation is never trained; and a small FNO correction
trained through unrolled steps roughly halves (or better) the coarse solver's rollout error
against a fine-grid reference."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops import layers, models, pde
from jaxops.hybrid import CorrectedStep, fit_hybrid, reference_trajectories, resample
from jaxops.train import rollout
from jaxops.train.finetune import trainable_mask
from jaxops.train.losses import relative_l2


class Zero(eqx.Module):
    def __call__(self, u):
        return jnp.zeros_like(u)


class Pointwise(eqx.Module):
    """A small nonlinear correction, W₂ tanh(W₁ u + b₁), pointwise in space."""

    inner: layers.PointwiseLinear
    outer: layers.PointwiseLinear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.inner = layers.PointwiseLinear(1, 4, key=k1, dtype=jnp.float64)
        self.outer = layers.PointwiseLinear(4, 1, key=k2, dtype=jnp.float64)

    def __call__(self, u):
        return self.outer(jnp.tanh(self.inner(u)))


def test_without_correction_the_heat_equation_is_exact(x64, getkey):
    """ETDRK4 integrates a linear equation exactly: k hybrid steps equal e^{−ν k_m² t} û_m."""
    n, length, nu, dt, steps = 32, 2.0, 0.05, 0.3, 6
    hybrid = CorrectedStep(pde.Diffusion(n=n, length=length, nu=nu), Zero(), dt)
    u0 = pde.periodic_grf(getkey(), (n,), 2.5, 7.0, length=length)[None].astype(jnp.float64)
    preds = rollout.rollout(hybrid, u0[None], steps)
    k = 2 * np.pi * np.fft.rfftfreq(n, length / n)
    t = dt * np.arange(1, steps + 1)[:, None]
    exact = np.fft.irfft(np.fft.rfft(np.asarray(u0[0])) * np.exp(-nu * k**2 * t), n)
    assert np.max(np.abs(preds[:, 0] - exact)) < 1e-12 * np.max(np.abs(exact))


def test_zero_correction_is_the_coarse_solver(x64, getkey):
    equation = pde.KuramotoSivashinsky(n=32, length=35.0)
    u0 = pde.periodic_grf(getkey(), (32,), 2.5, 7.0, length=35.0)[None].astype(jnp.float64)
    zero = CorrectedStep(equation, Zero(), 0.5, substeps=2)
    bare = CorrectedStep(equation, None, 0.5, substeps=2)
    assert np.array_equal(zero(u0), bare(u0))
    assert np.array_equal(zero(u0), zero.coarse_step(u0))
    reference = pde.simulate(equation, u0, np.array([0.0, 0.5]), solver="etdrk4", dt=0.25)[1]
    assert np.max(np.abs(zero(u0) - reference)) < 1e-12 * np.max(np.abs(reference))


def test_gradient_through_unrolled_steps_matches_finite_differences(x64, getkey):
    equation = pde.KuramotoSivashinsky(n=16, length=22.0)
    net = Pointwise(getkey())
    hybrid = CorrectedStep(equation, net, 0.5, scale=0.3)
    u0 = pde.periodic_grf(getkey(), (16,), 2.5, 7.0, length=22.0)[None].astype(jnp.float64)
    target = pde.simulate(pde.KuramotoSivashinsky(n=16, length=22.0), u0,
                          np.arange(3) * 0.5, solver="etdrk4", dt=0.1)  # fmt: skip
    trajectories = target[None]
    params, static = eqx.partition(hybrid, eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    def loss(theta):
        model = eqx.combine(unravel(theta), static)
        item = jnp.array([0, 0])
        return rollout.unrolled_loss(model, trajectories, item, relative_l2, steps=2)

    value_and_grad = jax.jit(jax.value_and_grad(loss))  # one program for both
    direction = jax.random.normal(getkey(), flat.shape, jnp.float64)
    analytic = jnp.dot(value_and_grad(flat)[1], direction)
    eps = 1e-6
    plus, minus = (
        value_and_grad(flat + eps * direction)[0],
        value_and_grad(flat - eps * direction)[0],
    )
    numeric = (plus - minus) / (2 * eps)
    assert abs(float(analytic)) > 1e-4
    assert abs(float(analytic - numeric)) < 1e-6 * abs(float(analytic))


def test_the_equation_is_not_a_parameter(getkey):
    """Navier–Stokes carries an array (its forcing). `CorrectedStep` declares the equation
    `frozen`: the engine's default partition (`trainable_mask`, so gradients and optimisers)
    does not see it, decoupled weight decay moves the network only, and a whole training run
    leaves the forcing bit-identical."""
    equation = pde.NavierStokes2D(n=16, nu=1e-3, forcing="kolmogorov")
    net = layers.PointwiseLinear(1, 1, key=getkey())
    hybrid = CorrectedStep(equation, net, 0.1)
    params, static = eqx.partition(hybrid, trainable_mask(hybrid))
    count = lambda tree: len(jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array)))
    assert count(equation) == 1 and count(params) == count(net)
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    optimizer = optax.adamw(1e-2, weight_decay=0.5)
    updates, _ = optimizer.update(zero_grads, optimizer.init(params), params)
    trained = eqx.combine(optax.apply_updates(params, updates), static)
    assert trained.equation.forcing_hat is equation.forcing_hat
    decayed = (1 - 1e-2 * 0.5) * net.weight
    assert np.allclose(trained.correction.weight, decayed, rtol=1e-6)
    # Freezing more keeps the equation frozen too.
    assert count(eqx.filter(hybrid, trainable_mask(hybrid, ["correction.bias"]))) == 1

    times = 0.1 * np.arange(3)
    states = np.asarray(jax.random.normal(getkey(), (4, 3, 1, 16, 16)), np.float32)
    result = fit_hybrid(hybrid, states, states[:2], times=times, steps=1, epochs=1,
                        batch_size=4, optimizer=optax.adam(1e-2), key=getkey(),
                        progress=False)  # fmt: skip
    trained = result.model.model  # the network inside the (identity) normalisers
    assert np.array_equal(trained.equation.forcing_hat, equation.forcing_hat)
    assert not np.array_equal(trained.correction.weight, net.weight)


def test_jit_and_vmap(getkey):
    equation = pde.KuramotoSivashinsky(n=32, length=35.0)
    net = models.FNO(1, 1, (6,), width=8, depth=1, projection_width=8, grid=None, key=getkey())
    hybrid = CorrectedStep(equation, net, 0.5, scale=0.1)
    batch = jax.random.normal(getkey(), (3, 1, 32))
    batched = jax.jit(jax.vmap(hybrid))(batch)
    single = jnp.stack([eqx.filter_jit(hybrid)(u) for u in batch])
    assert batched.shape == (3, 1, 32)
    assert np.allclose(batched, single, rtol=1e-5, atol=1e-6)


def test_clear_errors(getkey):
    equation = pde.KuramotoSivashinsky(n=32)
    two_channels = models.FNO(1, 2, (4,), width=4, depth=1, projection_width=4, key=getkey())
    with pytest.raises(ValueError, match="same shape"):
        CorrectedStep(equation, two_channels, 0.5)
    with pytest.raises(ValueError, match="dt must be a positive"):
        CorrectedStep(equation, None, 0.0)
    with pytest.raises(ValueError, match="unknown solver"):
        CorrectedStep(equation, None, 0.5, solver="euler")
    hybrid = CorrectedStep(equation, None, 0.5)
    with pytest.raises(ValueError, match="expects a state of shape"):
        hybrid(jnp.zeros((1, 64)))
    data = np.zeros((2, 5, 1, 32), np.float32)
    with pytest.raises(ValueError, match="save interval"):
        fit_hybrid(hybrid, data, data, times=np.arange(5) * 0.25, steps=2)
    with pytest.raises(ValueError, match="fixes normalizer"):
        fit_hybrid(hybrid, data, data, times=np.arange(5) * 0.5, normalizer="global")


def test_resample_truncates_and_interpolates_fourier_series():
    x = np.arange(64) / 64
    low = np.sin(2 * np.pi * 3 * x) + 0.5 * np.cos(2 * np.pi * 7 * x)
    fine = jnp.asarray(low + 0.1 * np.sin(2 * np.pi * 20 * x), jnp.float32)[None]
    coarse = resample(fine, 16)
    assert np.max(np.abs(coarse[0] - low[::4])) < 1e-5
    assert np.max(np.abs(resample(coarse, 64)[0] - low)) < 1e-5


# --------------------------------------------------------------------------------------------
# Training: KS on a 35-long periodic interval, coarse 32 points vs a 128-point reference

L, N_COARSE, N_FINE, DT, T = 35.0, 32, 128, 0.5, 9


@pytest.fixture(scope="module")
def ks_reference():
    fine = pde.KuramotoSivashinsky(n=N_FINE, length=L)
    ts = np.arange(T) * DT

    @jax.jit  # one program, not one per eager operation of the draws and resampling
    def generate(key):
        keys = jax.random.split(key, 28)
        u0 = jax.vmap(lambda k: pde.periodic_grf(k, (N_COARSE,), 2.5, 7.0, length=L))(keys)
        return reference_trajectories(fine, u0[:, None], ts, t_skip=20.0, solver="etdrk4", dt=0.25)

    data = generate(jax.random.key(0))
    return np.asarray(data[:20]), np.asarray(data[20:]), ts


def test_trained_correction_halves_the_coarse_error(ks_reference):
    train, test, ts = ks_reference
    coarse = pde.KuramotoSivashinsky(n=N_COARSE, length=L)
    net = models.FNO(1, 1, (8,), width=12, depth=2, projection_width=24, grid=None,
                     key=jax.random.key(1))  # fmt: skip
    hybrid = CorrectedStep(coarse, net, DT, substeps=2, scale=0.1)
    options = dict(optimizer=optax.adam(3e-3), epochs=30, batch_size=16, key=jax.random.key(2))
    result = fit_hybrid(hybrid, train, test, times=ts, steps=3, progress=False, **options)
    bare = CorrectedStep(coarse, None, DT, substeps=2)
    coarse_errors = np.asarray(rollout.rollout_errors(bare, jnp.asarray(test), 1, relative_l2))
    hybrid_errors = result.extra["step_errors"]
    # measured: coarse 0.047, hybrid 0.014 (mean relative L2 over the 8-step rollouts)
    print(f"coarse {coarse_errors.mean():.4f} hybrid {hybrid_errors.mean():.4f}")
    assert coarse_errors.mean() > 0.015
    assert hybrid_errors.mean() < 0.5 * coarse_errors.mean()
