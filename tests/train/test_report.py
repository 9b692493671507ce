"""Figures of `jaxops.train.report`: each writes a readable PNG atomically (no temporary file
left behind), and an input of the wrong shape raises a ValueError naming the expected shape."""

import matplotlib.image
import numpy as np
import pytest

from jaxops.train import report


def check_png(path, returned):
    assert returned == path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert path.stat().st_size > 5_000
    # The figure has content: not one flat colour.
    assert image[..., :3].std() > 0.01
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def rollout_errors(rng, n=8, steps=10):
    return 1e-3 * np.exp(0.3 * np.arange(steps)) * rng.lognormal(0, 0.3, (n, steps))


@pytest.mark.parametrize("compare", [False, True])
def test_rollout_errors(tmp_path, rng, compare):
    errors = rollout_errors(rng)
    if compare:
        errors = {"FNO": errors, "U-Net": 2 * rollout_errors(rng), "solver": errors[:, :10] / 10}
        times = 0.1 * np.arange(1, 11)
    else:
        times = None
    path = tmp_path / "rollout.png"
    check_png(path, report.plot_rollout_errors(path, errors, times, label="FNO"))


def test_rollout_errors_bad_shapes(tmp_path, rng):
    with pytest.raises(ValueError, match=r"\(N, S\).*got shape \(10,\)"):
        report.plot_rollout_errors(tmp_path / "a.png", np.ones(10))
    with pytest.raises(ValueError, match=r"times must have shape \(S,\) = \(10,\)"):
        report.plot_rollout_errors(tmp_path / "a.png", rollout_errors(rng), np.arange(7))
    assert list(tmp_path.iterdir()) == []


def test_energy_spectra(tmp_path, rng):
    k = np.arange(0, 33)
    truth = np.where(k > 0, k.astype(float), 1.0) ** (-5 / 3)
    spectra = {
        "truth": truth,
        "FNO": truth * rng.lognormal(0, 0.2, (6, len(k))),
        "U-Net": truth * np.exp(-k / 20),
    }
    path = tmp_path / "spectra.png"
    check_png(path, report.plot_energy_spectra(path, k, spectra))


def test_energy_spectra_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r"'FNO' must have shape \(K,\) or \(N, K\) with K = 33"):
        report.plot_energy_spectra(tmp_path / "a.png", np.arange(33), {"FNO": np.ones(32)})


def test_predictions_1d(tmp_path, rng):
    x = np.linspace(0, 1, 64, endpoint=False)
    inputs = np.sin(2 * np.pi * (x + rng.uniform(size=(3, 1, 1))))
    targets = np.roll(inputs, 5, axis=-1)
    predictions = targets + 0.05 * rng.normal(size=targets.shape)
    path = tmp_path / "predictions_1d.png"
    returned = report.plot_predictions_1d(
        path, inputs[:, :, ::2], targets, predictions, x=x, errors=[0.1, 0.2, 0.3]
    )
    check_png(path, returned)


def test_predictions_1d_bad_shape(tmp_path):
    fields = np.ones((2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"must both have shape \(N, C, X\)"):
        report.plot_predictions_1d(tmp_path / "a.png", fields, fields, fields)


def test_trajectory(tmp_path, rng):
    t = np.linspace(0, 1, 40)[:, None]
    x = np.linspace(0, 1, 64, endpoint=False)
    truth = np.sin(2 * np.pi * (x - t))
    prediction = truth + 0.05 * rng.normal(size=truth.shape)
    path = tmp_path / "trajectory.png"
    check_png(path, report.plot_trajectory(path, truth, prediction, times=t[:, 0], x=x))


def test_trajectory_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r"must both have shape \(T, X\)"):
        report.plot_trajectory(tmp_path / "a.png", np.ones((40, 1, 64)), np.ones((40, 1, 64)))
