"""Two real processes on localhost (`jax.distributed`, gloo collectives, 2 forced CPU devices
each) train one model together through `jaxops train`, write one checkpoint, and a single
process restores it and reproduces their test error."""

import json

import jax
import numpy as np
import pytest
from helpers import free_port, jaxops, start_with_devices, wait_all

from jaxops import data, train
from jaxops.train.loop import sample_errors

EPOCHS = 2
SIZES = [
    "experiment=darcy_fno", "data.n_samples=100", "data.n_test=20", "data.resolution=17",
    "data.subsample=1",
    "model.modes=[6,6]", "model.width=12", "model.depth=2", f"trainer.epochs={EPOCHS}",
    "trainer.batch_size=20", "trainer.progress=false", "trainer.plot_samples=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The run directory both processes wrote (and the dataset they generated together)."""
    tmp = tmp_path_factory.mktemp("multihost")
    port = free_port()
    common = [*SIZES, f"data.dir={tmp / 'data'}", f"hydra.run.dir={tmp / 'run'}",
              "parallel=data", f"parallel.coordinator_address=localhost:{port}",
              "parallel.num_processes=2"]  # fmt: skip
    processes = [
        start_with_devices("jaxops", "train", *common, f"parallel.process_id={i}", devices=2)
        for i in range(2)
    ]
    first, _ = wait_all(*processes)
    (tmp / "run" / "stdout.txt").write_text(first)
    return tmp / "run"


def test_each_process_reads_only_the_rows_of_its_devices(tmp_path):
    """10 samples over 2 processes × 2 devices: padded to 12, 3 rows per device; process 0
    reads rows 0-5, process 1 rows 6-9 (and pads 10, 11 itself)."""
    port, results = free_port(), []
    for i in range(2):
        path = tmp_path / f"rows{i}.json"
        path.write_text(json.dumps([{"job": "local_rows", "n": 10}]))
        results.append(path)
    processes = [
        start_with_devices("tests/parallel/worker.py", str(path), str(port), "2", str(i), devices=2)
        for i, path in enumerate(results)
    ]
    wait_all(*processes)
    (first,), (second,) = (json.loads(path.read_text()) for path in results)
    assert first["rows_read"] == list(range(6)) and second["rows_read"] == list(range(6, 10))
    assert first["global_shape"] == second["global_shape"] == [12, 3]
    assert first["sum"] == second["sum"] == float(np.arange(30).sum())


def test_two_processes_train_one_model(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["devices"] == 4
    assert summary["mesh"] == {"data": 4, "space": 1}
    report = (run_dir / "stdout.txt").read_text()  # process 0's start-up report
    assert "devices: 4 cpu in 2 process(es), 2 local" in report
    assert "batch: global 20, per device 5" in report
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, EPOCHS + 1))  # logged once
    assert records[-1]["train_loss"] < records[0]["train_loss"]  # it learns


def test_single_process_restores_identical_predictions(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    model = train.load(run_dir)  # written by 2 processes on 4 devices, read on 1
    test = data.load(summary["dataset"]).split(80)[1]
    errors = sample_errors(model, test.inputs, test.outputs)
    assert jax.device_count() == 1
    np.testing.assert_allclose(float(np.mean(errors)), summary["test_rel_l2"], rtol=1e-6)


def test_single_process_run_has_the_same_loss_curve(run_dir, tmp_path):
    """The same config on one device in one process: the same metrics, epoch by epoch."""
    dataset = json.loads((run_dir / "summary.json").read_text())["dataset"]
    done = jaxops("train", *SIZES, f"data.path={dataset}", f"hydra.run.dir={tmp_path / 'run'}",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    read = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    for two, one in zip(read(run_dir), read(tmp_path / "run"), strict=True):
        np.testing.assert_allclose(two["train_loss"], one["train_loss"], rtol=2e-5)
        np.testing.assert_allclose(two["test_rel_l2"], one["test_rel_l2"], rtol=2e-5)


def test_indivisible_global_batch_is_refused_before_compute(tmp_path):
    process = start_with_devices(
        "jaxops", "train", *SIZES, "trainer.batch_size=10", "parallel=data",
        f"data.dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}", devices=4,
    )  # fmt: skip
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "global batch 10 (trainer.batch_size) is not divisible by the 4 devices" in err
    assert not (tmp_path / "data").exists()  # nothing generated
