"""`resume=true` after killing a real `jaxops train` process (SIGKILL, possibly mid-write):
the continued run finds the unfinished run directory by itself and ends with exactly the
metrics and the model of an uninterrupted run. While the process still runs, a second
`jaxops train` on its directory is refused (the run lock), and its kill frees the lock. The
killed run is a sweep of two members (`sweep.lrs`): sweeps and single runs share the
engine's epoch loop and its state checkpoints, so one kill covers both (a single run's
resume is also tested in `tests/train/test_engine.py`)."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from helpers import jaxops_command, jaxops_in_process

from jaxops import train

# 100 training samples in batches of 1 and a state written after every epoch (a few tenths of
# a second each; no time floor between writes), so the process is killed in the middle of
# training.
ARGS = [
    "data.n_samples=120",
    "data.n_test=20",
    "data.resolution=17",
    "data.subsample=1",
    "model.modes=[4,4]",
    "model.width=8",
    "model.depth=2",
    "model.projection_width=16",
    "trainer.epochs=8",
    "trainer.batch_size=1",
    "trainer.plot_samples=0",
    "trainer.progress=false",
    "trainer.checkpoint_seconds=0",
]


def metrics(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def epochs_done(run_dir):
    return max((r["epoch"] for r in metrics(run_dir)), default=0)


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    args = [*ARGS, "sweep.lrs=[1e-3,3e-3]", f"data.dir={tmp_path / 'datasets'}"]
    full = jaxops_in_process("train", *args, "hydra.run.dir=full", cwd=tmp_path)
    assert full.returncode == 0, full.stdout + full.stderr

    runs = tmp_path / "runs" / "darcy_fno"
    process = subprocess.Popen(
        [*jaxops_command(), "train", *args], cwd=tmp_path, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            logs = list(runs.glob("*/metrics.jsonl"))
            if logs and len(logs[0].read_text().splitlines()) >= 2 * 3:
                break
            time.sleep(0.02)
        assert process.poll() is None, "training finished before it could be killed"
        os.kill(process.pid, signal.SIGSTOP)  # paused, still holding its run directory
        (running,) = list(runs.iterdir())
        second = jaxops_in_process("train", *args, "resume=true", cwd=tmp_path)
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        assert f"{running} is in use by another jaxops train (pid {process.pid} on " in " ".join(
            second.stderr.split()
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        process.kill()
    (killed,) = list(runs.iterdir())
    done = epochs_done(killed)
    assert 3 <= done < 8 and not (killed / "summary.json").exists()

    resumed = jaxops_in_process("train", *args, "resume=true", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert list(runs.iterdir()) == [killed]  # continued in place; no new run directory
    summary = json.loads((killed / "summary.json").read_text())
    reference = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert done - 1 <= summary["resumed_from_epoch"] <= done  # the kill may hit a write
    assert summary["test_rel_l2"] == reference["test_rel_l2"]
    assert summary["members"] == reference["members"]
    pick = lambda rows: [(r["member"], r["epoch"], r["train_loss"], r["test_rel_l2"]) for r in rows]
    assert pick(metrics(killed)) == pick(metrics(tmp_path / "full"))
    x = train.load(tmp_path / "full").input_normalizer.mean  # same normalisers and weights
    np.testing.assert_array_equal(train.load(killed).input_normalizer.mean, x)


def test_resume_without_an_unfinished_run_says_what_to_do(tmp_path):
    result = jaxops_in_process("train", *ARGS, "resume=true", cwd=tmp_path)
    assert result.returncode == 2
    assert "no unfinished run of experiment 'darcy_fno'" in result.stderr


@pytest.mark.parametrize("change", ["optim.lr=0.01"])
def test_resume_refuses_a_changed_config(tmp_path, change):
    run = tmp_path / "runs" / "darcy_fno" / "2026-01-01_00-00-00"
    (run / "state").mkdir(parents=True)
    config = jaxops_in_process("train", *ARGS, "--cfg", "job", cwd=tmp_path)
    (run / "config.yaml").write_text(config.stdout)
    result = jaxops_in_process("train", *ARGS, change, "resume=true", cwd=tmp_path)
    assert result.returncode == 2
    assert "differs from the one of" in result.stderr and "optim.lr" in result.stderr
