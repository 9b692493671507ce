"""Two real processes on localhost (`jax.distributed`, gloo collectives, 2 forced CPU devices
each) train one model together through `jaxops train`, write one checkpoint, and a single
process restores it and reproduces their test error. The processes are started by the
documented demo, `experiments/cluster/local_two_processes.sh`, at small size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import free_port, jaxops_in_process, start_with_devices, wait_all

from jaxops import data, train
from jaxops.train.loop import sample_errors

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "experiments" / "cluster" / "local_two_processes.sh"
EPOCHS = 2  # as the demo script trains
SIZES = [
    "experiment=darcy_fno", "data.n_samples=100", "data.n_test=20", "data.resolution=17",
    "data.subsample=1",
    "model.modes=[6,6]", "model.width=12", "model.depth=2", f"trainer.epochs={EPOCHS}",
    "trainer.batch_size=20", "trainer.progress=false", "trainer.plot_samples=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The run directory the demo's two processes wrote, with process 0's log as
    `stdout.txt` and the demo's own output as `demo.txt`."""
    tmp = tmp_path_factory.mktemp("multihost")
    bin_dir = str(Path(sys.executable).parent)  # the environment's `jaxops` script
    env = dict(os.environ, DEMO_DIR=str(tmp), PORT=str(free_port()),
               PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))  # fmt: skip
    env.pop("XLA_FLAGS", None)
    demo = subprocess.run(["bash", str(DEMO), *SIZES[1:]], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert demo.returncode == 0, f"{demo.stdout}\n{demo.stderr}"
    run = tmp / "runs" / "two_process_demo"
    logs = tmp / "runs" / "two_process_demo_logs"
    (run / "stdout.txt").write_text((logs / "process_0.log").read_text())
    (run / "demo.txt").write_text(demo.stdout)
    return run


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


def test_demo_evaluates_the_checkpoint_on_one_process(run_dir):
    """The demo's last step, `jaxops evaluate`, reproduces the training processes' error."""
    summary = json.loads((run_dir / "summary.json").read_text())
    (evaluation,) = (run_dir / "evaluations").iterdir()
    metrics = json.loads((evaluation / "metrics.json").read_text())
    # The same float32 program on the same samples, in another process and device layout:
    # the per-sample errors are 17x17 reductions (289 terms, <= 289 eps ~ 3.4e-5 relative).
    np.testing.assert_allclose(metrics["test_rel_l2"], summary["test_rel_l2"], rtol=4e-5)
    assert "results: runs/two_process_demo" in (run_dir / "demo.txt").read_text()


def test_single_process_restores_identical_predictions(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    model = train.load(run_dir)  # written by 2 processes on 4 devices, read on 1
    test = data.load(summary["dataset"]).split(80)[1]
    errors = sample_errors(model, test.inputs, test.outputs)
    assert jax.device_count() == 1
    np.testing.assert_allclose(float(np.mean(errors)), summary["test_rel_l2"], rtol=1e-6)


def test_single_process_run_has_the_same_loss_curve(run_dir, tmp_path):
    """The same config on one device in one process (this one): the same metrics, epoch by
    epoch."""
    dataset = json.loads((run_dir / "summary.json").read_text())["dataset"]
    done = jaxops_in_process("train", *SIZES, f"data.path={dataset}",
                             f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
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
