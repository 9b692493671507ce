"""The default `jaxops generate` and `jaxops train` on 1 and 4 forced CPU devices, with no
`parallel` flag: both device counts run, generation is split over all local devices and
writes the one-device file, and training (data parallel when the batch splits) gives the
one-device metrics up to float rounding. The device count is fixed when JAX starts, hence
subprocesses."""

import json

import h5py
import numpy as np
import pytest
from helpers import run_with_devices

SIZES = [
    "data.n_samples=60", "data.n_test=20", "data.resolution=17", "data.subsample=1",
    "model.modes=[6,6]", "model.width=12", "model.depth=2", "trainer.epochs=2",
    "trainer.batch_size=20", "trainer.progress=false", "trainer.plot_samples=0",
]  # fmt: skip
DEVICES = (1, 4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`{devices: (stdout, run_dir, data_dir)}`. On 4 devices the dataset comes from
    `jaxops generate`; on 1, `jaxops train` generates it itself (the same function)."""
    tmp = tmp_path_factory.mktemp("default_devices")
    out = {}
    for devices in DEVICES:
        data_dir, run_dir = tmp / f"data{devices}", tmp / f"run{devices}"
        common = [*SIZES, f"data.dir={data_dir}"]
        stdout = ""
        if devices > 1:
            stdout += run_with_devices("jaxops", "generate", *common, devices=devices)
        stdout += run_with_devices(
            "jaxops", "train", *common, f"hydra.run.dir={run_dir}", devices=devices
        )
        out[devices] = (stdout, run_dir, data_dir)
    return out


def read(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return summary, metrics


@pytest.mark.parametrize("devices", DEVICES)
def test_default_train_uses_every_device(runs, devices):
    stdout, run_dir, _ = runs[devices]
    summary, _ = read(run_dir)
    assert summary["devices"] == devices
    assert summary["mesh"] == {"data": devices, "space": 1}
    if devices > 1:
        assert f"batch: global 20, per device {20 // devices}" in stdout
    else:
        assert "mesh:" not in stdout  # one device: no parallel report


@pytest.mark.parametrize("devices", DEVICES[1:])
def test_default_generation_writes_the_one_device_file(runs, devices):
    """Sample i uses fold_in(key, i) whatever the split over devices: the coefficients (a
    thresholded random field) and parameters are identical. The solutions are CG solves to a
    relative residual of 1e-6 whose roundings depend on the per-device batch: they agree
    to that tolerance (measured: 8e-8 on 4 devices)."""
    (one,) = runs[1][2].glob("*.h5")
    (other,) = runs[devices][2].glob("*.h5")
    assert one.name == other.name  # the same generating config, hence the same cache name
    with h5py.File(one) as a, h5py.File(other) as b:
        for name in ("inputs", "params"):
            assert np.array_equal(a[name][()], b[name][()]), name
        u, v = (f["outputs"][()].reshape(60, -1) for f in (a, b))
    difference = np.linalg.norm(u - v, axis=1) / np.linalg.norm(u, axis=1)
    assert difference.max() <= 1e-6


@pytest.mark.parametrize("devices", DEVICES[1:])
def test_default_train_gives_the_one_device_metrics(runs, devices):
    """The same global batches in the same order: only the order in which the gradient is
    summed over devices changes, so the curves agree to float rounding (rtol 2e-5, as in
    tests/parallel; a different batch, order or a lost device's gradient moves the loss by
    percents)."""
    (one, one_curve), (run, curve) = read(runs[1][1]), read(runs[devices][1])
    for ours, reference in zip(curve, one_curve, strict=True):
        np.testing.assert_allclose(ours["train_loss"], reference["train_loss"], rtol=2e-5)
        np.testing.assert_allclose(ours["test_rel_l2"], reference["test_rel_l2"], rtol=2e-5)
    np.testing.assert_allclose(run["test_rel_l2"], one["test_rel_l2"], rtol=2e-5)
    assert curve[-1]["train_loss"] < curve[0]["train_loss"]  # it learns
