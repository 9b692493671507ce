"""Rollouts and time-dependent losses against closed forms: a scalar linear model `a·u` on
data `b^t f`, and the exact Fourier propagator of the periodic heat equation."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32

from jaxops.models import FNO, TimeConditionedFNO
from jaxops.train.losses import relative_l2
from jaxops.train.rollout import (
    all_to_all_items,
    all_to_all_loss,
    curriculum_fraction,
    lead_time_errors,
    one_step_loss,
    rollout,
    rollout_errors,
    stack_history,
    unrolled_loss,
    window_items,
)

N_X = 16
NU = 0.1
WAVENUMBERS = np.fft.rfftfreq(N_X, d=1.0 / N_X)  # grid of [0, 2π): integer wavenumbers


def mse(pred, target):
    return jnp.mean((pred - target) ** 2)


class Scale(eqx.Module):
    """`a · u`: the scalar linear model."""

    a: jax.Array

    def __call__(self, u):
        return self.a * u


class HeatStep(eqx.Module):
    """The exact step of u_t = ν u_xx on [0, 2π): û_k ↦ exp(−ν k² dt) û_k; `dt` fixed, or
    given at call time (a time-conditioned model)."""

    dt: float | None = None

    def __call__(self, u, dt=None):
        dt = self.dt if dt is None else dt
        decay = jnp.exp(-NU * jnp.asarray(WAVENUMBERS) ** 2 * dt)
        return jnp.fft.irfft(decay * jnp.fft.rfft(u, axis=-1), n=u.shape[-1], axis=-1)


def heat_trajectories(times, n_traj=3, seed=0):
    """Exact heat solutions `(n_traj, T, 1, N_X)` at `times` from random band-limited data,
    computed mode by mode with numpy."""
    rng = np.random.default_rng(seed)
    u0 = rng.standard_normal((n_traj, 1, N_X))
    u0_hat = np.fft.rfft(u0, axis=-1)
    decay = np.exp(-NU * WAVENUMBERS**2 * np.asarray(times)[:, None])  # (T, K)
    traj = np.fft.irfft(u0_hat[:, None] * decay[None, :, None], n=N_X, axis=-1)
    return jnp.asarray(traj, dtype=jnp.float32)


def geometric_trajectories(b, n_times, n_traj=2, seed=1):
    """`u_t = b^t f_n`: `(n_traj, n_times, 1, N_X)` and the fields `f` `(n_traj, 1, N_X)`."""
    f = np.random.default_rng(seed).standard_normal((n_traj, 1, N_X))
    traj = b ** np.arange(n_times)[None, :, None, None] * f[:, None]
    return jnp.asarray(traj, dtype=jnp.float32), f


# --------------------------------------------------------------------------------------------
# Items


@pytest.mark.parametrize("n_traj, n_times, window", [(3, 7, 1), (2, 5, 3), (4, 6, 6)])
def test_window_items_enumerates_every_window_once(n_traj, n_times, window):
    items = window_items(n_traj, n_times, window)
    assert items.dtype == np.int32
    assert items.shape == (n_traj * (n_times - window + 1), 2)
    expected = {(n, s) for n in range(n_traj) for s in range(n_times) if s + window <= n_times}
    assert {tuple(row) for row in items.tolist()} == expected
    assert len(set(map(tuple, items.tolist()))) == len(items)


def test_window_items_rejects_long_windows():
    with pytest.raises(ValueError, match="longer than the trajectories"):
        window_items(2, 4, 5)
    with pytest.raises(ValueError, match="window must be a positive int"):
        window_items(2, 4, 0)


@pytest.mark.parametrize("n_traj, n_times", [(1, 1), (2, 4), (3, 11)])
def test_all_to_all_items_every_pair_once(n_traj, n_times):
    items = all_to_all_items(n_traj, n_times)
    k = n_times - 1
    assert items.dtype == np.int32
    assert items.shape == (n_traj * (k + 1) * (k + 2) // 2, 3)
    rows = [tuple(row) for row in items.tolist()]
    assert len(set(rows)) == len(rows)
    expected = {(n, i, j) for n in range(n_traj) for i in range(n_times) for j in range(n_times)}
    assert set(rows) == {(n, i, j) for n, i, j in expected if i <= j}


# --------------------------------------------------------------------------------------------
# Rollouts


def test_stack_history_ordering():
    states = jnp.arange(3 * 2 * 5, dtype=jnp.float32).reshape(3, 2, 5)  # (h, C, x)
    stacked = stack_history(states)
    assert stacked.shape == (6, 5)
    for s in range(3):
        for c in range(2):
            np.testing.assert_array_equal(stacked[s * 2 + c], states[s, c])


def test_rollout_of_scaling_is_geometric():
    f = jnp.linspace(-1.0, 1.0, N_X)[None]
    preds = rollout(Scale(jnp.array(0.5)), f[None], 6)
    assert preds.shape == (6, 1, N_X)
    expected = np.array([0.5 ** (s + 1) * np.asarray(f) for s in range(6)])
    np.testing.assert_allclose(preds, expected, rtol=1e-6)


def test_rollout_with_history_is_fibonacci():
    # u_{n+1} = u_n + u_{n−1}: from u_0 = u_1 = f, u_n = F_{n+1} f (F_1 = F_2 = 1).
    fib = [1, 1, 2, 3, 5, 8, 13, 21, 34]  # fib[n] = F_{n+1}
    f = jnp.cos(jnp.arange(N_X, dtype=jnp.float32))[None]
    model = lambda x: x[0:1] + x[1:2]  # noqa: E731 — input (2 states · 1 channel, x)
    preds = rollout(model, jnp.stack([f, f]), 7, history=2)
    expected = np.array([fib[n] * np.asarray(f) for n in range(2, 9)])
    np.testing.assert_allclose(preds, expected, rtol=1e-6)


def test_rollout_of_heat_step_is_exact():
    dt = 0.3
    times = dt * np.arange(9)
    traj = heat_trajectories(times, n_traj=1)[0]
    preds = rollout(HeatStep(dt), traj[:1], 8)
    # float32: each step's rfft and irfft of 16 points round 2 · 2 log2(16) = 16 times, the decay
    # once more, all within ‖u‖ (the decay contracts): ‖δ‖ <= 8 · 17 · eps · ‖u0‖ after 8
    # steps (6e-5). One step too many or too few moves u far more: the k = 1 mode alone decays
    # by 3 % a step.
    atol = 8 * 17 * EPS32 * float(np.linalg.norm(traj[0]))
    np.testing.assert_allclose(preds, traj[1:], rtol=0, atol=atol)


def test_rollout_checks_shapes():
    f = jnp.ones((1, N_X))
    with pytest.raises(ValueError, match="expected 2 initial states"):
        rollout(Scale(jnp.array(0.5)), f[None], 3, history=2)
    with pytest.raises(ValueError, match="expected the next state"):
        rollout(lambda x: x, jnp.stack([f, f]), 3, history=2)


# --------------------------------------------------------------------------------------------
# Training losses


def test_one_step_loss_exact_and_by_hand():
    b, a = 0.5, 0.6
    traj, f = geometric_trajectories(b, 6)
    m = np.mean(f**2, axis=(1, 2))
    items = jnp.asarray(window_items(2, 6, 2))
    exact = jax.vmap(lambda it: one_step_loss(Scale(jnp.array(b)), traj, it, mse))(items)
    np.testing.assert_allclose(exact, 0.0, atol=1e-12)
    perturbed = jax.jit(jax.vmap(lambda it: one_step_loss(Scale(jnp.array(a)), traj, it, mse)))
    # pred a·b^s f, target b^{s+1} f: loss (a − b)² b^{2s} mean(f²)
    expected = [(a - b) ** 2 * b ** (2 * s) * m[n] for n, s in np.asarray(items)]
    np.testing.assert_allclose(perturbed(items), expected, rtol=1e-5)


def test_one_step_loss_with_history_reads_the_right_states():
    # Data u_t = t·1; the model returns the mean of its two input states + 1.5, so it is exact
    # only if it reads states s, s+1 and is compared with s+2.
    traj = jnp.broadcast_to(jnp.arange(7.0)[None, :, None, None], (1, 7, 1, N_X))
    model = lambda x: 0.5 * (x[0:1] + x[1:2]) + 1.5  # noqa: E731
    items = jnp.asarray(window_items(1, 7, 3))
    values = jax.vmap(lambda it: one_step_loss(model, traj, it, mse, history=2))(items)
    np.testing.assert_allclose(values, 0.0, atol=1e-12)


@pytest.mark.parametrize("mode", ["unrolled", "pushforward", "curriculum"])
def test_unrolled_losses_vanish_for_the_exact_propagator(mode):
    dt = 0.2
    traj = heat_trajectories(dt * np.arange(8))
    items = jnp.asarray(window_items(3, 8, 1 + 3))
    loss = functools.partial(unrolled_loss, loss=mse, steps=3, mode=mode)
    values = jax.vmap(lambda it: loss(HeatStep(dt), traj, it, progress=0.4))(items)
    np.testing.assert_allclose(values, 0.0, atol=1e-10)


def test_unrolled_loss_by_hand():
    b, a, k = 0.5, 0.6, 3
    traj, f = geometric_trajectories(b, 8)
    m = np.mean(f**2, axis=(1, 2))
    for n, s in [(0, 0), (1, 2), (0, 4)]:
        value = unrolled_loss(Scale(jnp.array(a)), traj, jnp.array([n, s]), mse, steps=k)
        # predictions a^j b^s f against b^{s+j} f, j = 1..k
        expected = np.mean([(a**j - b**j) ** 2 for j in range(1, k + 1)]) * b ** (2 * s) * m[n]
        assert float(value) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_pushforward_gradient_goes_through_one_step_per_term(k):
    b, a0 = 0.5, 0.7
    traj, f = geometric_trajectories(b, k + 1, n_traj=1)
    m = float(np.mean(f**2))
    item = jnp.array([0, 0])

    def value(a, mode):
        return unrolled_loss(Scale(a), traj, item, mse, steps=k, mode=mode)

    # L(a) = mean_j (a · sg(a^{j−1}) − b^j)² M: dL/da = mean_j 2 (a0^j − b^j) a0^{j−1} M.
    loss, grad = jax.value_and_grad(value)(jnp.array(a0), "pushforward")
    j = np.arange(1, k + 1)
    assert float(loss) == pytest.approx(np.mean((a0**j - b**j) ** 2) * m, rel=1e-5)
    expected = np.mean(2 * (a0**j - b**j) * a0 ** (j - 1)) * m
    assert float(grad) == pytest.approx(expected, rel=1e-4)
    # Same loss as the unrolled one; its gradient (through time) carries the factors j.
    unrolled = jax.grad(value)(jnp.array(a0), "unrolled")
    assert float(unrolled) == pytest.approx(np.mean(2 * j * (a0**j - b**j) * a0 ** (j - 1)) * m,
                                            rel=1e-4)  # fmt: skip


def test_curriculum_fraction_schedule():
    assert float(curriculum_fraction(0.0)) == 0.0
    assert float(curriculum_fraction(1.0)) == 1.0
    assert float(curriculum_fraction(0.5)) == pytest.approx(0.5, abs=1e-6)
    assert float(curriculum_fraction(-0.3)) == 0.0
    assert float(curriculum_fraction(1.7)) == 1.0
    p = np.linspace(0.0, 1.0, 101)
    r = np.asarray(jax.jit(jax.vmap(curriculum_fraction))(jnp.asarray(p)))
    assert np.all(np.diff(r) > 0)
    # CAPE's (1 + tanh((p − 0.5)/0.2))/2, normalised to the ends: within 0.0067 of it.
    cape = 0.5 * (1 + np.tanh((p - 0.5) / 0.2))
    assert np.max(np.abs(r - cape)) < 0.007
    # Other centres: r(center) is the midpoint of the tanh's range on [0, 1].
    c, w = 0.3, 0.1
    lo, hi = math.tanh(-c / w), math.tanh((1 - c) / w)
    assert float(curriculum_fraction(c, c, w)) == pytest.approx(-lo / (hi - lo), rel=1e-5)


def test_curriculum_interpolates_teacher_forcing_and_unrolling():
    b, a, k = 0.5, 0.6, 4
    traj, f = geometric_trajectories(b, 9)
    m = float(np.mean(f[1] ** 2))
    model = Scale(jnp.array(a))
    item = jnp.array([1, 2])
    curriculum = jax.jit(
        lambda p: unrolled_loss(model, traj, item, mse, steps=k, mode="curriculum", progress=p)
    )
    # p = 0: the mean of k teacher-forced one-step losses of the window.
    one_steps = [one_step_loss(model, traj, jnp.array([1, 2 + s]), mse) for s in range(k)]
    # The same squared differences, summed in other programs: 16-point means, then a mean of
    # k = 4, of positive terms: <= (16 + 4) eps each way.
    rtol = 2 * (16 + k) * EPS32
    assert float(curriculum(0.0)) == pytest.approx(float(np.mean(one_steps)), rel=rtol)
    # p = 1: the fully unrolled loss.
    unrolled = unrolled_loss(model, traj, item, mse, steps=k, mode="unrolled")
    assert float(curriculum(1.0)) == pytest.approx(float(unrolled), rel=rtol)
    # p = 0.5: r = 1/2, the first 2 predictions fed back, then the true u_3 (window-relative):
    # predictions a u0, a² u0, a³ u0, a b³ u0 against b u0, b² u0, b³ u0, b⁴ u0 (u0 = b² f).
    errors = [(a - b) ** 2, (a**2 - b**2) ** 2, (a**3 - b**3) ** 2, (a * b**3 - b**4) ** 2]
    expected = np.mean(errors) * b**4 * m
    assert float(curriculum(0.5)) == pytest.approx(expected, rel=1e-5)


def test_unrolled_loss_rejects_unknown_mode():
    traj, _ = geometric_trajectories(0.5, 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        unrolled_loss(Scale(jnp.array(0.5)), traj, jnp.array([0, 0]), mse, mode="teacher")


def test_all_to_all_loss_uses_the_lead_time():
    times = jnp.array([0.0, 0.1, 0.35, 0.5, 1.2])  # non-uniform
    traj = heat_trajectories(np.asarray(times))
    items = jnp.asarray(all_to_all_items(3, 5))
    values = jax.jit(jax.vmap(lambda it: all_to_all_loss(HeatStep(), traj, times, it, mse)))(items)
    np.testing.assert_allclose(values, 0.0, atol=1e-10)
    # A model that returns its lead time, read back through the loss.
    echo = lambda u, dt: jnp.full_like(u, dt)  # noqa: E731
    read = lambda pred, target: jnp.mean(pred)  # noqa: E731
    lead = jax.vmap(lambda it: all_to_all_loss(echo, traj, times, it, read))(items)
    # a mean of 16 equal float32 values: <= 16 eps from the value, in any summation order
    np.testing.assert_allclose(lead, times[items[:, 2]] - times[items[:, 1]], rtol=16 * EPS32)


def _finite_grads(batch_loss, model):
    grads = eqx.filter_jit(eqx.filter_grad(batch_loss))(model)
    return all(jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(eqx.filter(grads, eqx.is_array)))


def test_losses_train_real_models(getkey):
    """The losses differentiate through FNO (history 2, curriculum at a traced progress) and
    TimeConditionedFNO (all-to-all), vmapped over items as the training loop does."""
    traj = heat_trajectories(0.2 * np.arange(5), n_traj=2)
    fno = FNO(2, 1, modes=(4,), width=4, depth=1, key=getkey())
    items = jnp.asarray(window_items(2, 5, 2 + 2))
    loss = functools.partial(unrolled_loss, loss=mse, history=2, steps=2, mode="curriculum")
    progress = jnp.array(0.7)
    assert _finite_grads(
        lambda m: jnp.mean(jax.vmap(lambda it: loss(m, traj, it, progress=progress))(items)), fno
    )
    tfno = TimeConditionedFNO(1, 1, modes=(4,), width=4, depth=1, key=getkey())
    times = jnp.linspace(0.0, 0.8, 5)
    pairs = jnp.asarray(all_to_all_items(2, 5))
    assert _finite_grads(
        lambda m: jnp.mean(jax.vmap(lambda it: all_to_all_loss(m, traj, times, it, mse))(pairs)),
        tfno,
    )


# --------------------------------------------------------------------------------------------
# Evaluation


@pytest.mark.parametrize("history, batch_size", [(1, None), (2, 2)])
def test_rollout_errors_exact_and_by_hand(history, batch_size):
    dt = 0.25
    traj = heat_trajectories(dt * np.arange(7))
    model = lambda x: HeatStep(dt)(x[-1:])  # noqa: E731 — reads the newest state
    errors = rollout_errors(model, traj, history, mse, batch_size)
    assert errors.shape == (3, 7 - history)
    np.testing.assert_allclose(errors, 0.0, atol=1e-10)
    # a·u on b^t f: relative error of step s is |a^{s+1} − b^{s+1}| / b^{s+1} (history 1).
    b, a = 0.5, 0.6
    geo, _ = geometric_trajectories(b, 6, n_traj=3)
    errors = rollout_errors(Scale(jnp.array(a)), geo, 1, relative_l2, batch_size)
    s = np.arange(1, 6)
    np.testing.assert_allclose(errors, np.tile(np.abs(a**s - b**s) / b**s, (3, 1)), rtol=1e-5)


def test_lead_time_errors():
    times = jnp.array([0.1, 0.3, 0.4, 0.9])
    traj = heat_trajectories(np.asarray(times))
    errors = lead_time_errors(HeatStep(), traj, times, mse, batch_size=2)
    assert errors.shape == (3, 3)
    np.testing.assert_allclose(errors, 0.0, atol=1e-10)
    echo = lambda u, dt: jnp.full_like(u, dt)  # noqa: E731
    read = lambda pred, target: jnp.mean(pred)  # noqa: E731
    lead = lead_time_errors(echo, traj, times, read)
    # a mean of 16 equal float32 values: <= 16 eps from the value, in any summation order
    np.testing.assert_allclose(lead, np.tile(times[1:] - times[0], (3, 1)), rtol=16 * EPS32)
