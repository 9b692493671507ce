"""The default `jaxops train` on 4 forced CPU devices, with no `parallel` flag: the dataset
it generates first (what `jaxops generate` runs) is split over all local devices and is the
one-device file, and training (data parallel when the batch splits) gives the metrics of the
same run on one device up to float rounding. The device count is fixed when JAX starts,
hence a subprocess; the one-device references come from this (one-device) test process
(`jaxops generate`) and from `parallel=single` in the same 4-device multirun."""

import json

import h5py
import numpy as np
import pytest
from helpers import jaxops_in_process, run_with_devices

SIZES = [
    "data.n_samples=60", "data.n_test=20", "data.resolution=17", "data.subsample=1",
    "model.modes=[6,6]", "model.width=12", "model.depth=2", "trainer.epochs=2",
    "trainer.batch_size=20", "trainer.progress=false", "trainer.plot_samples=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`(stdout of the 4-device train, {mode: run_dir}, one-device data dir, 4-device data
    dir)`: `jaxops generate` on one device (here), then on 4 devices one multirun of
    `jaxops train` with the default `parallel=auto` (which generates its dataset on the 4
    devices) and with `parallel=single` (which finds it)."""
    tmp = tmp_path_factory.mktemp("default_devices")
    one, four, sweep = tmp / "data1", tmp / "data4", tmp / "train"
    generated = jaxops_in_process("generate", *SIZES, f"data.dir={one}", cwd=tmp)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    stdout = run_with_devices(
        "jaxops", "train", "-m", "parallel=auto,single", *SIZES, f"data.dir={four}",
        f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}", devices=4,
    )  # fmt: skip
    return stdout, {"auto": sweep / "0", "single": sweep / "1"}, one, four


def read(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return summary, metrics


def test_default_train_uses_every_device(runs):
    stdout, run_dirs, *_ = runs
    summary, _ = read(run_dirs["auto"])
    assert summary["devices"] == 4 and summary["mesh"] == {"data": 4, "space": 1}
    assert "batch: global 20, per device 5" in stdout
    single, _ = read(run_dirs["single"])
    assert single["mesh"] == {"data": 1, "space": 1}


def test_default_generation_writes_the_one_device_file(runs):
    """Sample i uses fold_in(key, i) whatever the split over devices: the coefficients (a
    thresholded random field) and parameters are identical. The solutions are CG solves to a
    relative residual of 1e-6 whose roundings depend on the per-device batch: they agree
    to that tolerance (measured: 8e-8 on 4 devices)."""
    stdout, _, data1, data4 = runs
    assert "dataset: generating 60 samples" in stdout  # by the 4-device parallel=auto job
    (one,) = data1.glob("*.h5")
    (other,) = data4.glob("*.h5")
    assert one.name == other.name  # the same generating config, hence the same cache name
    with h5py.File(one) as a, h5py.File(other) as b:
        for name in ("inputs", "params"):
            assert np.array_equal(a[name][()], b[name][()]), name
        u, v = (f["outputs"][()].reshape(60, -1) for f in (a, b))
    difference = np.linalg.norm(u - v, axis=1) / np.linalg.norm(u, axis=1)
    assert difference.max() <= 1e-6


def test_default_train_gives_the_one_device_metrics(runs):
    """The same global batches in the same order: only the order in which the gradient is
    summed over devices changes, so the curves agree to float rounding (rtol 2e-5, as in
    tests/parallel; a different batch, order or a lost device's gradient moves the loss by
    percents)."""
    _, run_dirs, *_ = runs
    (one, one_curve), (run, curve) = read(run_dirs["single"]), read(run_dirs["auto"])
    for ours, reference in zip(curve, one_curve, strict=True):
        np.testing.assert_allclose(ours["train_loss"], reference["train_loss"], rtol=2e-5)
        np.testing.assert_allclose(ours["test_rel_l2"], reference["test_rel_l2"], rtol=2e-5)
    np.testing.assert_allclose(run["test_rel_l2"], one["test_rel_l2"], rtol=2e-5)
    assert curve[-1]["train_loss"] < curve[0]["train_loss"]  # it learns
