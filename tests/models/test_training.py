"""Every model learns: a short training run on a small Darcy set (17×17, 200 training and 40
test samples) brings its test error far below the mean-prediction baseline. Conditioned models
learn what needs their condition: CAPE and FiLM the Darcy solution for a forcing they are given
(u is linear in f, so the target scale is set by the parameter), the time-conditioned FNO
the heat equation at the lead time it is given (exact solution by Fourier modes)."""

import jax
import numpy as np
import optax
import pytest

from jaxops import models, train
from jaxops.train.metrics import mean_prediction_error

BATCH = 10
# name: (configuration, epochs, required factor below the baseline). Sizes are cut to what
# learns in seconds on a CPU. The DeepONet family reads the input through an MLP on 289 sensor
# values: far weaker on Darcy than the grid operators with 200 samples (test error ~0.10–0.12
# after 200 cheap epochs, against ~0.05 for FNO after 15).
MODELS = {
    "fno": (dict(modes=(6, 6), width=16, depth=3, projection_width=32), 15, 3),
    "mgno": (dict(width=12, depth=2, smoothing=[[1, 0], [1, 0], [2, 0]]), 10, 3),
    "unet": (dict(width=8, levels=2), 8, 2.5),
    "lsm": (dict(width=8, levels=2, heads=2, patch_size=(3, 3)), 8, 2.5),
    "deeponet": (dict(sensors=(17, 17), width=64, depth=3, basis=64), 200, 2),
    "multionet": (dict(sensors=(17, 17), width=64, depth=4), 200, 2),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_short_training_beats_the_mean_prediction_baseline(name, small_darcy):
    train_set, test_set = small_darcy
    config, epochs, factor = MODELS[name]
    model = models.build(name, in_channels=1, out_channels=1, key=jax.random.key(0), **config)
    optimizer = optax.adam(optax.cosine_decay_schedule(3e-3, epochs * len(train_set) // BATCH))
    result = train.fit(
        model,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        optimizer=optimizer,
        epochs=epochs,
        batch_size=BATCH,
        key=jax.random.key(1),
        progress=False,
    )
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    final = result.history[-1]["test_rel_l2"]
    assert final < baseline / factor, (name, final, baseline)


def fit_conditioned(model, train_arrays, test_arrays, epochs=30):
    """`train.fit` on named arrays with the model's condition: Adam with cosine decay, the
    engine's normalisers; returns the per-sample test errors (physical units)."""
    steps = epochs * len(train_arrays["inputs"]) // 20
    result = train.fit(
        model,
        train_arrays,
        test_arrays,
        optimizer=optax.adam(optax.cosine_decay_schedule(3e-3, steps)),
        epochs=epochs,
        batch_size=20,
        key=jax.random.key(2),
        progress=False,
    )
    return result.test_errors


BASE = dict(modes=(6, 6), width=16, depth=3, projection_width=32)
CONDITIONED = {  # the two ways to condition on parameters: CAPE and FiLM around the same FNO
    "cape": lambda key: models.ParameterConditioned(
        1, 1, 1, "fno", BASE, cape_modes=(4, 4), cape_width=8, key=key
    ),
    "film": lambda key: models.FiLMConditioned(1, 1, 1, "fno", BASE, key=key),
}


@pytest.mark.parametrize("name", sorted(CONDITIONED))
def test_conditioned_model_learns_the_solution_for_the_given_forcing(name, small_darcy):
    train_set, test_set = small_darcy
    forcing = lambda n, seed: jax.random.uniform(
        jax.random.key(seed), (n, 1), minval=0.5, maxval=2.0
    )
    f_train, f_test = forcing(len(train_set), 3), forcing(len(test_set), 4)
    scale = lambda f, y: f[:, :, None, None] * y  # −∇·(a∇u) = f is linear in f
    y_train, y_test = scale(f_train, train_set.outputs), scale(f_test, test_set.outputs)
    model = CONDITIONED[name](jax.random.key(0))
    errors = fit_conditioned(
        model,
        {"inputs": train_set.inputs, "outputs": y_train, "params": f_train},
        {"inputs": test_set.inputs, "outputs": y_test, "params": f_test},
    )
    error = errors.mean()
    baseline = mean_prediction_error(np.asarray(y_train), np.asarray(y_test))
    assert error < baseline / 3, (error, baseline)


def heat(u0, t, nu=0.01):
    """Exact periodic heat-equation solution on [0, 1)²: û(k, t) = û(k, 0) e^{−ν|2πk|²t}."""
    n = u0.shape[-1]
    k = np.fft.fftfreq(n, 1.0 / n)
    decay = np.exp(
        -nu * (2 * np.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2) * t[:, None, None, None]
    )
    return np.real(np.fft.ifft2(np.fft.fft2(u0) * decay))


def test_time_conditioned_fno_learns_the_heat_equation_at_any_lead_time():
    rng = np.random.default_rng(0)
    n, samples = 16, 240
    k = np.fft.fftfreq(n, 1.0 / n)
    envelope = np.exp(-0.15 * (k[:, None] ** 2 + k[None, :] ** 2))
    noise = rng.standard_normal((samples, 1, n, n)) + 1j * rng.standard_normal((samples, 1, n, n))
    u0 = np.real(np.fft.ifft2(noise * envelope)) * n
    t = rng.uniform(0.0, 1.0, samples)
    target = heat(u0, t)
    model = models.TimeConditionedFNO(
        1, 1, (6, 6), width=16, depth=3, projection_width=32, grid="periodic", key=jax.random.key(0)
    )
    arrays = lambda part: {"inputs": u0[part].astype(np.float32),
                           "outputs": target[part].astype(np.float32),
                           "lead_time": t[part].astype(np.float32)}  # fmt: skip
    error = fit_conditioned(model, arrays(slice(200)), arrays(slice(200, None))).mean()
    # Returning the initial state (ignoring the time) is the natural baseline.
    identity = np.mean(
        np.linalg.norm((u0 - target)[200:].reshape(40, -1), axis=1)
        / np.linalg.norm(target[200:].reshape(40, -1), axis=1)
    )
    assert error < identity / 3, (error, identity)
