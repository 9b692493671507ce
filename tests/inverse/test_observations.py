"""Observation operators: point sets, the noise level, and the misfit's value."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import EPS32

from jaxops.inverse import Observations, grid_points, random_points


def test_grid_points():
    points = np.asarray(grid_points((1, 9, 9), 2, interior=True))
    rows, cols = np.unravel_index(points, (9, 9))  # channel 0: flat index = grid index
    assert set(rows) == set(cols) == {2, 4, 6} and len(points) == 9
    assert len(grid_points((1, 9, 9), 2, offset=1)) == 16  # 1, 3, 5, 7 on each axis
    both = np.asarray(grid_points((2, 8, 8), 4))
    assert len(both) == 8 and set(both // 64) == {0, 1}  # every channel observed
    assert len(grid_points((2, 8, 8), 4, channels=[1])) == 4
    with pytest.raises(ValueError, match="stride"):
        grid_points((1, 8, 8), 0)


def test_random_points(getkey):
    points = np.asarray(random_points(getkey(), (1, 10, 10), 30, interior=True))
    assert len(np.unique(points)) == 30
    rows, cols = np.unravel_index(points, (10, 10))
    assert rows.min() >= 1 and rows.max() <= 8 and cols.min() >= 1 and cols.max() <= 8
    with pytest.raises(ValueError, match="count"):
        random_points(getkey(), (1, 4, 4), 5, interior=True)


def test_noise_level_and_misfit(getkey):
    u = 3.0 + jr.normal(getkey(), (1, 64, 64))
    obs = Observations.of(getkey(), u, grid_points(u.shape, 1), noise=0.01)
    rms = float(np.sqrt(np.mean(np.asarray(u, np.float64) ** 2)))
    # σ from a float32 mean of 4096 squares: within 4096 eps, its root half that (2.4e-4);
    # the standard deviation instead of the rms would be off by a factor 3
    assert obs.sigma == pytest.approx(0.01 * rms, rel=4096 * EPS32 / 2 + EPS32)
    noise = np.asarray(obs.values - u.ravel(), np.float64)
    assert noise.std() == pytest.approx(obs.sigma, rel=0.05)  # 4096 draws: ±1.1 % (1 sd)
    # At the truth the misfit is ½ mean(ξ²) with ξ the standardised noise: ≈ ½.
    # the misfit is a float32 mean of 4096 squares (each 3 roundings): within (4096 + 3) eps
    expected = 0.5 * np.mean((noise / obs.sigma) ** 2)
    assert float(obs(u)) == pytest.approx(expected, rel=(4096 + 3) * EPS32)
    assert float(obs(u)) == pytest.approx(0.5, rel=0.05)


def test_misfit_hand_value():
    obs = Observations(jnp.array([0, 5]), jnp.array([1.0, 2.0]), 0.5, (1, 2, 3))
    u = jnp.arange(6.0).reshape(1, 2, 3)  # observed: u[0] = 0, u[5] = 5
    assert float(obs(u)) == pytest.approx(0.5 * ((0 - 1) ** 2 + (5 - 2) ** 2) / 2 / 0.25)
    assert obs.mask().sum() == 2 and obs.mask()[0, 1, 2]
    with pytest.raises(ValueError, match="shaped"):
        obs(jnp.zeros((1, 3, 2)))
