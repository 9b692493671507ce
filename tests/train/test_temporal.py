"""`fit_trajectories` learns the periodic heat equation (exact solution by Fourier modes) from
trajectories: autoregressive FNOs trained one-step and with the CAPE curriculum roll out far
below the error of persistence (predicting the last known state), and a time-conditioned FNO
trained on all-to-all pairs predicts every lead time directly."""

import jax
import numpy as np
import optax
import pytest
from helpers import assert_within, fno_rounding_chain, relative_error_atol

from jaxops import models
from jaxops.train import rollout
from jaxops.train.losses import relative_l2
from jaxops.train.temporal import fit_trajectories

N_TRAIN, N_TEST, T, N = 48, 8, 9, 32
DT, NU = 0.05, 0.02


def heat_trajectories(samples, seed):
    """(samples, T, 1, N) exact solutions û(k, t) = û(k, 0) e^{−ν(2πk)²t} on [0, 1)."""
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(N, 1.0 / N)
    coefficients = rng.standard_normal((samples, N)) + 1j * rng.standard_normal((samples, N))
    u0_hat = coefficients * np.exp(-0.1 * k**2)
    t = DT * np.arange(T)
    decay = np.exp(-NU * (2 * np.pi * k) ** 2 * t[:, None])
    u = np.real(np.fft.ifft(u0_hat[:, None, :] * decay, axis=-1)) * N
    return u[:, :, None, :].astype(np.float32), t.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    train, times = heat_trajectories(N_TRAIN, 0)
    test, _ = heat_trajectories(N_TEST, 1)
    return train, test, times


def persistence_error(test, history=1):
    """Mean relative L2 of predicting the last input state at every later step."""
    last = test[:, history - 1 : history]
    diff = (test[:, history:] - last).reshape(N_TEST, T - history, -1)
    norm = test[:, history:].reshape(N_TEST, T - history, -1)
    return float(np.mean(np.linalg.norm(diff, axis=-1) / np.linalg.norm(norm, axis=-1)))


def fit(model, data, mode, **kwargs):
    train, test, times = data
    options = dict(optimizer=optax.adam(3e-3), epochs=30, batch_size=16, key=jax.random.key(1))
    return fit_trajectories(
        model, train, test, times=times, mode=mode, progress=False, **{**options, **kwargs}
    )


@pytest.mark.parametrize("mode, steps", [("one_step", 1), ("curriculum", 3)])
def test_autoregressive_fno_rolls_out_far_below_persistence(data, mode, steps):
    model = models.FNO(2, 1, (8,), width=16, depth=2, projection_width=32, grid="periodic",
                       key=jax.random.key(0))  # fmt: skip
    result = fit(model, data, mode, history=2, steps=steps)
    errors = result.extra["step_errors"]
    assert errors.shape == (N_TEST, T - 2)
    # The engine's evaluation, step_errors and rollout_errors are different programs: their
    # errors agree to the float32 rounding of s model calls in a row at rollout step s.
    chain = fno_rounding_chain(2, (N,), (8,), width=16, depth=2, projection_width=32)
    steps = np.arange(1, T - 1)
    atol = relative_error_atol(chain, float(errors.mean()), terms=N + errors.size, steps=T - 2)
    assert result.evaluation["test_rollout_rel_l2"].mean() == pytest.approx(errors.mean(), abs=atol)
    assert errors.mean() < persistence_error(data[1], history=2) / 4, errors.mean(axis=0)
    # The returned model (normalisers included) is what the errors were measured with.
    direct = rollout.rollout_errors(result.model, data[1], 2, relative_l2)
    assert_within(direct, errors, relative_error_atol(chain, errors, N, steps))


def test_time_conditioned_fno_on_all_to_all_pairs(data):
    model = models.TimeConditionedFNO(1, 1, (8,), width=16, depth=2, projection_width=32,
                                      grid="periodic", key=jax.random.key(0))  # fmt: skip
    result = fit(model, data, "all_to_all", epochs=8)
    errors = result.extra["step_errors"]
    assert errors.shape == (N_TEST, T - 1)
    # Persistence from the first state, at each lead time.
    assert errors.mean() < persistence_error(data[1]) / 4, errors.mean(axis=0)


def test_windows_that_do_not_fit_are_rejected_before_compute(data):
    model = models.FNO(10, 1, (4,), width=8, depth=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="needs history \\+ steps = 11 states but .* hold 9"):
        fit(model, data, "unrolled", history=10, steps=1)


def test_a_model_built_for_other_channels_is_refused_before_compiling():
    """history=10 of a 1-channel state is a 10-channel input: a model built with
    in_channels=1 is refused in those terms, before anything is compiled."""
    fno = models.FNO(1, 1, (4, 4), width=8, depth=2, key=jax.random.key(0))
    trajs = np.zeros((4, 12, 1, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"history=10 of a 1-channel state gives 10; build it "
                                         r"with in_channels=10"):  # fmt: skip
        fit_trajectories(fno, trajs, trajs[:2], times=np.arange(12.0), mode="curriculum",
                         history=10, steps=1, optimizer=optax.adam(1e-3), epochs=1,
                         batch_size=2, key=jax.random.key(0))  # fmt: skip
