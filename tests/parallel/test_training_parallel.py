"""Training on several devices equals training on one: data parallel and FSDP runs on 4
forced CPU devices give the single-device loss curve, a spatially split FNO gives the
unsplit output, and a state written on 4 devices resumes on 2. The device count is fixed
when JAX starts, so the runs happen in two subprocesses (4 devices, then 2)."""

import json

import numpy as np
import pytest
from helpers import run_with_devices

EPOCHS = 3


def run_jobs(path, jobs: list[dict], devices: int) -> list[dict]:
    path.write_text(json.dumps(jobs))
    run_with_devices("tests/parallel/worker.py", str(path), devices=devices)
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def runs(small_darcy, tmp_path_factory):
    """Single-device reference, data parallel, FSDP, data × space, half a run for resuming
    (4 devices), then its second half on 2 devices; and the spatially split forward pass."""
    train, test = small_darcy
    tmp = tmp_path_factory.mktemp("parallel")
    data = str(tmp / "darcy.npz")
    # 118 training samples: padded to 120 on 4 devices; 38 test samples: not divisible by
    # 4, so the test set is replicated (on 2 devices it is split).
    np.savez(data, x_train=train.inputs[:118], y_train=train.outputs[:118],
             x_test=test.inputs[:38], y_test=test.outputs[:38])  # fmt: skip
    state = str(tmp / "state")
    common = {"job": "fit", "data": data, "epochs": EPOCHS}
    sweep = {"job": "sweep", "data": data, "epochs": 2}
    names = ["single", "data", "fsdp", "data_space", "first_half", "spatial", "sweep", "sweep4",
             "auto_mesh"]  # fmt: skip
    four = run_jobs(tmp / "four.json", [
        common,
        {**common, "mesh": {"data": 4}},
        {**common, "mesh": {"data": 4}, "fsdp": True},
        {**common, "mesh": {"data": 2, "space": 2}},
        {**common, "mesh": {"data": 4}, "epochs": 2, "checkpoint": state},
        {"job": "spatial"},
        sweep,
        {**sweep, "mesh": {"data": 4}},
        {"job": "auto_mesh", "batches": [20, 10]},
    ], devices=4)  # fmt: skip
    resumed = {**common, "mesh": {"data": 2}, "checkpoint": state, "resume": True}
    (two,) = run_jobs(tmp / "two.json", [resumed], devices=2)
    return {**dict(zip(names, four, strict=True)), "second_half": two}


def assert_same_curve(run: dict, reference: dict, epochs=slice(None)) -> None:
    np.testing.assert_allclose(run["train_loss"], reference["train_loss"][epochs], rtol=2e-5)
    np.testing.assert_allclose(run["test_rel_l2"], reference["test_rel_l2"][epochs], rtol=2e-5)


@pytest.mark.parametrize("name", ["data", "fsdp", "data_space"])
def test_four_device_loss_curve_equals_one_device(runs, name):
    single, run = runs["single"], runs[name]
    assert run["devices"] == 4 and run["param_devices"] == 4
    # FSDP splits every large array in 4; data parallelism keeps whole copies.
    assert run["largest_shard_fraction"] == (0.25 if name == "fsdp" else 1.0)
    assert_same_curve(run, single)
    assert single["train_loss"][-1] < single["train_loss"][0]  # it does learn


def test_spatially_sharded_fno_equals_unsharded(runs):
    for modes, result in runs["spatial"].items():  # matrix-DFT path and FFT path
        assert result["output_devices"] == 4, modes  # the output really is split ...
        assert result["output_spec"] == "P(None, 'space')", modes
        assert result["max_abs_diff"] <= 1e-5 * result["max_abs"], modes  # ... and equal


def test_state_written_on_four_devices_resumes_on_two(runs):
    first, rest = runs["first_half"], runs["second_half"]
    assert rest["devices"] == 2 and rest["resumed_from"] == 2
    assert_same_curve(first, runs["single"], slice(0, 2))
    assert_same_curve(rest, runs["single"])


def test_sweep_on_four_devices_equals_one_device(runs):
    one, four = runs["sweep"]["test_rel_l2"], runs["sweep4"]["test_rel_l2"]
    assert len(one) == len(four) == 2  # two members, each with its own curve
    np.testing.assert_allclose(four, one, rtol=2e-5)
    assert one[0] != one[1]


def test_default_config_uses_every_device_when_the_batch_splits(runs):
    """parallel=auto on 4 devices: data parallel for a batch of 20; for 10, one device and a
    note; parallel=data refuses 10; single and an explicit 2-device mesh take what they ask."""
    mesh = runs["auto_mesh"]
    assert mesh["auto/20"] == {"data": 4, "note": None}
    assert mesh["auto/10"]["data"] == 1
    assert (
        "global batch 10 (trainer.batch_size) does not split over 4 devices"
        in (mesh["auto/10"]["note"])
    )
    assert "is not divisible by the 4 devices" in mesh["data/10"]["error"]
    assert mesh["data/20"] == {"data": 4, "note": None}
    assert mesh["single/20"]["data"] == 1 and "1 of 4" in mesh["single/20"]["note"]
    assert mesh["two/10"] == {"data": 2, "note": None}  # the first 2 of 4 devices
