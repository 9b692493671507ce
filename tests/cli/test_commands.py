"""The `jaxops` command end to end on tiny configs: train writes every file of a run
directory, the checkpoint reproduces the reported error, evaluate and generate work,
multirun runs each job, and bad input stops before any computation with a clear message."""

import json
import re
import shutil
from pathlib import Path

import jax
import matplotlib.image
import numpy as np
import pytest
from helpers import EPS32, fno_rounding_chain, jaxops, jaxops_in_process, relative_error_atol
from omegaconf import OmegaConf

from jaxops import experiment, train
from jaxops.data import load
from jaxops.experiment.summary import versus_baseline
from jaxops.train.metrics import mean_prediction_error

TINY = [
    "data.n_samples=48",
    "data.n_test=8",
    "data.resolution=17",
    "data.subsample=2",
    "model.modes=[3,3]",
    "model.width=8",
    "model.depth=2",
    "model.projection_width=16",
    "trainer.epochs=3",
    "trainer.batch_size=8",
    "trainer.plot_samples=2",
]
# Roundings along one output of the TINY model on the 9×9 training grid (fno_rounding_chain):
# two programs evaluating it (the run's evaluation, evaluate_model here or in `jaxops
# evaluate`) agree on its errors to relative_error_atol, not bit for bit.
CHAIN = fno_rounding_chain(1, (9, 9), (3, 3), width=8, depth=2, projection_width=16)
# The run the other tests inspect trains long enough to beat the mean-prediction baseline
# (60 epochs of 5 steps, about 0.3 s: 0.24 -> 0.14), so that its error at another
# resolution can be bounded by the baseline's.
RUN_EPOCHS = 60
RUN = [f"trainer.epochs={RUN_EPOCHS}" if arg.startswith("trainer.epochs=") else arg for arg in TINY]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def run_dir(workdir):
    result = jaxops("train", *RUN, "hydra.run.dir=run", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test relative L2" in result.stdout
    assert f"results: {workdir / 'run'}" in result.stdout
    assert f"figure:  {workdir / 'run' / 'predictions.png'}" in result.stdout
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    assert versus_baseline(summary) in result.stdout
    # The default (parallel=auto) on one device: no mesh, no parallel report.
    assert summary["devices"] == 1 and summary["mesh"] == {"data": 1, "space": 1}
    assert "mesh:" not in result.stdout
    return workdir / "run"


def test_the_comparison_with_the_baseline_says_which_is_lower():
    better = {"test_rel_l2": 0.1, "baseline_rel_l2": 0.3}
    assert versus_baseline(better) == "mean-prediction baseline 0.3000: 3.0x lower"
    worse = {"test_rel_l2": 0.69, "baseline_rel_l2": 0.23, "baseline": "persistence"}
    assert versus_baseline(worse) == (
        "persistence baseline 0.2300: 3.0x higher: worse than the baseline"
    )


def test_the_python_run_equals_the_command(run_dir, workdir):
    """`jaxops.experiment.run` on the config `compose` builds from the command's overrides
    gives the command's summary bit for bit (the same program on the same machine), less
    wall-clock times and file paths, and writes the same files."""
    config = experiment.compose([*RUN, f"data.dir={workdir / 'datasets'}"])
    summary = experiment.run(config, workdir / "python")
    shell = json.loads((run_dir / "summary.json").read_text())
    varying = ("total_seconds", "compile_seconds", "epoch_seconds_median", "data_seconds",
               "figures")  # fmt: skip
    same = lambda s: {k: v for k, v in s.items() if k not in varying}
    assert same(summary) == same(shell)
    assert [Path(f).name for f in summary["figures"]] == [Path(f).name for f in shell["figures"]]
    assert sorted(p.name for p in (workdir / "python").iterdir()) == sorted(
        p.name for p in run_dir.iterdir() if p.name not in (".hydra", "evaluations")
    )  # `.hydra/` is Hydra's record of the command; `evaluations/` of tests that evaluate


def test_train_writes_the_run_directory(run_dir):
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "predictions.png",
        "history.png",
        "checkpoint",
        ".hydra/config.yaml",
    ):
        assert (run_dir / name).exists(), name
    config = OmegaConf.load(run_dir / "config.yaml")
    assert config.model.width == 8 and config.data.resolution == 17 and config.seed == 0
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, RUN_EPOCHS + 1))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test_rel_l2"] == records[-1]["test_rel_l2"]  # one number: the last evaluation
    assert summary["n_train"] == 40 and summary["n_test"] == 8 and summary["train_grid"] == [9, 9]
    # FNO, modes (3, 3), width 8, depth 2, projection 16, input (a, x, y), counted by hand:
    # lifting 3·8 + 8; per layer 2 (re, im) · 8·8 · (2·3)·3 spectral + 8·8 + 8 skip;
    # projection 8·16 + 16 and 16·1 + 1.
    lifting, layer, projection = 3 * 8 + 8, 2 * 8 * 8 * 6 * 3 + 8 * 8 + 8, 8 * 16 + 16 + 16 + 1
    assert summary["n_params"] == lifting + 2 * layer + projection == 4945
    assert summary["compile_seconds"] > 0
    image = matplotlib.image.imread(run_dir / "predictions.png")
    assert image.shape[0] > 300 and image.shape[1] > 800  # 2 rows × 4 panels


def test_checkpoint_reproduces_the_reported_error(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    model = train.load(run_dir)
    test_set = load(summary["dataset"], subsample=2, samples=slice(40, 48))
    errors = train.evaluate_model(model, test_set.inputs, test_set.outputs)
    atol = relative_error_atol(CHAIN, summary["test_rel_l2"], terms=81 + 8)
    assert float(np.mean(errors)) == pytest.approx(summary["test_rel_l2"], abs=atol)


def test_vmapped_sweep_keeps_the_best_member_and_reports_all(workdir):
    lrs = [1e-3, 3e-3, 1e-2]
    result = jaxops_in_process("train", *TINY, f"sweep.lrs=[{','.join(map(str, lrs))}]",
                    "trainer.plot_samples=0", "hydra.run.dir=sweep", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run = workdir / "sweep"
    rows = (run / "sweep.csv").read_text().splitlines()
    assert rows[0].startswith("member,seed,lr,weight_decay,test_rel_l2")
    finals = [float(row.split(",")[4]) for row in rows[1:]]
    assert [float(row.split(",")[2]) for row in rows[1:]] == lrs
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_member"] == int(np.argmin(finals))
    assert summary["test_rel_l2"] == min(finals)  # the same mean, written at full precision
    test_set = load(summary["dataset"], subsample=2, samples=slice(40, 48))
    errors = train.evaluate_model(train.load(run), test_set.inputs, test_set.outputs)
    atol = relative_error_atol(CHAIN, min(finals), terms=81 + 8)
    assert float(np.mean(errors)) == pytest.approx(min(finals), abs=atol)


def test_physics_informed_training_reports_the_residual_it_was_trained_on(run_dir, workdir):
    """`trainer.physics` (PINO) on data generated at the training grid: the data's own
    residual is the CG tolerance's, and the model's is recomputed from its checkpoint."""
    from jaxops.train import physics

    result = jaxops_in_process("train", *TINY, "data.subsample=1", "trainer.physics.weight=1",
                    "trainer.plot_samples=0", "hydra.run.dir=pino", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loss 1 × rel_l2 + 1 × h-1 residual" in result.stdout
    summary = json.loads((workdir / "pino" / "summary.json").read_text())
    assert summary["test_residual_of_data"] < 1e-9
    test_set = load(summary["dataset"], samples=slice(40, 48))
    predictions = train.predict(train.load(workdir / "pino"), test_set.inputs)
    residual = jax.vmap(physics.darcy_physics(norm="h-1"))(test_set.inputs, predictions)
    # The predictions are the run's own (the same predict program), the loss another program:
    # the 5-point stencil's ~10 roundings of terms up to S = 8 max a / h² · max|u| + |f| make
    # ‖δr‖ <= 10 eps S, and the squared norm moves by 2 ‖δr‖ / √L relative, + n² eps for its sum.
    n = test_set.inputs.shape[-1]
    scale = 8 * float(np.max(test_set.inputs)) * (n - 1) ** 2 * float(np.max(np.abs(predictions)))
    rtol = 2 * 10 * EPS32 * (scale + 1) / np.sqrt(summary["test_residual"]) + n * n * EPS32
    assert float(np.mean(residual)) == pytest.approx(summary["test_residual"], rel=rtol)
    assert summary["test_residual"] > 100 * summary["test_residual_of_data"]
    assert f"test residual {summary['test_residual']:.3g}" in result.stdout


def test_streamed_training_split_from_hdf5(run_dir, workdir):
    result = jaxops_in_process("train", *TINY, "data.stream_chunk=16", "trainer.plot_samples=0",
                    "hydra.run.dir=streamed", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "streamed in chunks of 16" in result.stdout
    summary = json.loads((workdir / "streamed" / "summary.json").read_text())
    in_memory = json.loads((run_dir / "summary.json").read_text())
    # The baseline needs the mean training target: computed by streaming, it is the same.
    # The mean target of 40 samples, summed in float32 or streamed in float64: ≤ 40 eps apart,
    # which moves the baseline e by ≤ 40 eps (1 + e); its norms sum 81 values per sample.
    e = in_memory["baseline_rel_l2"]
    atol = (40 * (1 + e) + 2 * (81 + 8) * e) * EPS32
    assert summary["baseline_rel_l2"] == pytest.approx(e, abs=atol)
    test_set = load(summary["dataset"], subsample=2, samples=slice(40, 48))
    errors = train.evaluate_model(train.load(workdir / "streamed"), test_set.inputs,
                                  test_set.outputs)  # fmt: skip
    atol = relative_error_atol(CHAIN, summary["test_rel_l2"], terms=81 + 8)
    assert float(np.mean(errors)) == pytest.approx(summary["test_rel_l2"], abs=atol)


def test_evaluate_at_the_training_and_the_full_resolution(run_dir, workdir):
    summary = json.loads((run_dir / "summary.json").read_text())
    same = jaxops_in_process("evaluate", f"run={run_dir}", cwd=workdir)
    assert same.returncode == 0, same.stderr
    full = jaxops_in_process("evaluate", f"run={run_dir}", "data.subsample=1", cwd=workdir)
    assert full.returncode == 0, full.stderr
    first, second = sorted((run_dir / "evaluations").iterdir())
    same_metrics = json.loads((first / "metrics.json").read_text())
    full_metrics = json.loads((second / "metrics.json").read_text())
    atol = relative_error_atol(CHAIN, summary["test_rel_l2"], terms=81 + 8)
    assert same_metrics["test_rel_l2"] == pytest.approx(summary["test_rel_l2"], abs=atol)
    assert same_metrics["grid"] == [9, 9] and full_metrics["grid"] == [17, 17]
    # Zero-shot at 17×17, a grid the model never saw. Below the mean-prediction baseline on
    # that grid (0.198 < 0.240 measured): what the model learned carries over. And within
    # twice the training-resolution error (0.198 / 0.138 = 1.44 measured): the learned kernel
    # lives on the 3×3 kept modes, which both grids resolve, so only the aliasing of the
    # piecewise-constant coefficient differs. That adds a fixed gap, 0.14 in quadrature
    # (0.198² ≈ 0.138² + 0.14²; after 100 epochs 0.180² ≈ 0.113² + 0.14²), not a multiple of
    # the error. A wrong grid, normaliser or sample set gives errors of order one.
    fine = load(summary["dataset"])
    full_baseline = mean_prediction_error(fine.outputs[:40], fine.outputs[40:48])
    zero_shot = full_metrics["test_rel_l2"]
    assert zero_shot < full_baseline and zero_shot < 2 * summary["test_rel_l2"], (
        zero_shot, full_baseline, summary["test_rel_l2"])  # fmt: skip
    assert (second / "predictions.png").exists()
    fixed = jaxops_in_process("evaluate", f"run={run_dir}", "model.width=64", cwd=workdir)
    assert fixed.returncode == 2 and "evaluate cannot change ['model.width=64']" in fixed.stderr


def test_generate_writes_and_then_reuses_the_dataset(workdir):
    args = (
        "generate",
        "data.n_samples=6",
        "data.n_test=2",
        "data.resolution=9",
        "data.dir=generated",
    )
    first = jaxops_in_process(*args, cwd=workdir)
    assert first.returncode == 0, first.stderr
    files = list((workdir / "generated").glob("darcy_n9_N6_seed1000_*.h5"))
    assert len(files) == 1 and f"written to generated/{files[0].name}" in first.stdout
    assert load(files[0]).inputs.shape == (6, 1, 9, 9)
    second = jaxops_in_process(*args, cwd=workdir)
    assert "(exists)" in second.stdout


def test_multirun_runs_each_job_even_after_one_fails(workdir):
    result = jaxops_in_process(
        "train",
        "-m",
        *TINY[:-3],
        "trainer.epochs=1",
        "trainer.batch_size=100,8",  # the first job cannot run: 40 training samples
        "trainer.plot_samples=0",
        "hydra.sweep.dir=sweep",
        cwd=workdir,
    )
    assert result.returncode == 2  # a user error, summed up at the end, no traceback
    assert "trainer.batch_size=100 exceeds the 40 training samples" in result.stderr
    assert "1 of 2 jobs failed: job 0 (" in result.stderr
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    summaries = [json.loads(p.read_text()) for p in (workdir / "sweep").glob("*/summary.json")]
    assert len(summaries) == 1 and summaries[0]["epochs"] == 1


def test_paper_config_runs_with_its_sizes_overridden_down(workdir):
    result = jaxops_in_process(
        "train",
        "experiment=darcy_fno_paper",
        "data.n_samples=30",
        "data.n_test=10",
        "data.resolution=21",
        "data.subsample=5",
        "model.modes=[2,2]",
        "model.width=8",
        "trainer.epochs=2",
        "trainer.batch_size=10",
        "hydra.run.dir=paper",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((workdir / "paper" / "summary.json").read_text())
    assert summary["experiment"] == "darcy_fno_paper" and summary["train_grid"] == [5, 5]
    config = OmegaConf.load(workdir / "paper" / "config.yaml")
    assert config.trainer.normalizer == "pointwise" and config.optim.schedule == "step"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("train", "model.width=-3"), 2, "error: model.width=-3 is invalid: it must be >= 1"),
        (("train", "model.widht=3"), 2, "Key 'widht' not in 'FNOConfig'"),
        (
            ("train", "experiment=nope"),
            2,
            "Could not find 'experiment/nope'; experiment is one of: burgers, burgers_cape,",
        ),
        (("train", "model=nope"), 2, "model is one of: cape, deeponet, film, fno, lsm,"),
        (("train", "~experiment"), 2, "~experiment: every run has an experiment; for a model"),
        (("train", "data.resolution=41", "data.subsample=4"), 2, "axis 0 has 11 points but 12"),
        (("evaluate",), 2, "evaluate needs exactly one run=<run_dir>"),
        (("evaluate", "run=nowhere"), 2, "run=nowhere has no config.yaml"),
        (("frobnicate",), 2, "unknown command 'frobnicate'"),
    ],
)
def test_bad_input_stops_with_a_clear_message(args, code, message, tmp_path):
    result = (
        jaxops_in_process(*args, "data.dir=datasets", cwd=tmp_path)
        if args[0] == "train"
        else jaxops_in_process(*args, cwd=tmp_path)
    )
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "datasets").exists()  # stopped before generating anything
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)


def _damage(run: Path, how: str) -> None:
    """Flip one bit in the middle of, or cut in half, the largest array file of the run's
    model checkpoint; or cut its index of the arrays (the top-level OCDBT files)."""
    if how == "index":
        files = list((run / "checkpoint" / "d").glob("*"))
    else:
        files = [max((run / "checkpoint").rglob("d/*"), key=lambda p: p.stat().st_size)]
    for file in files:
        data = bytearray(file.read_bytes())
        if how == "flip":
            data[len(data) // 2] ^= 0x10
        else:
            del data[len(data) // 2 :]
        file.write_bytes(bytes(data))


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no tracebacks
def test_a_damaged_checkpoint_is_refused_and_resuming_rewrites_it(run_dir, tmp_path):
    """The digests of the checkpoint's files catch a flipped bit, a cut array file and a cut
    index before orbax reads anything (orbax would stop at the first unreadable file with its
    other reads in flight). Without those digests (an older checkpoint) the digests of the
    arrays catch the flipped bit, which orbax loads silently. Each time one line names the
    file or array and the command that rewrites the checkpoint from the run's training state,
    which then gives back the very same arrays."""
    expected = train.checkpoint.state_dict(train.load(run_dir))
    cases = [("flip", True, r"file \S+ differs from the file saved"),
             ("cut", True, r"file \S+ differs from the file saved"),
             ("index", True, r"file d/\w+ differs from the file saved"),
             ("flip", False, r"array model\.\S+ differs from the array saved")]  # fmt: skip
    for how, digests, what in cases:
        run = tmp_path / f"{how}_{digests}"
        shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("evaluations"))
        _damage(run, how)
        if not digests:
            (run / "checkpoint" / train.checkpoint.FILE_DIGESTS).unlink()
        result = jaxops_in_process("evaluate", f"run={run}", cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        message = " ".join(result.stderr.split())
        damaged = f"the model checkpoint {re.escape(str(run / 'checkpoint'))} is damaged: {what}"
        assert re.search(damaged, message) and f"state of epoch {RUN_EPOCHS}" in message, message
        assert "WARNING" not in result.stderr, result.stderr  # nor orbax's warnings
        command = message.split("`")[1].split()  # jaxops train ... resume=true hydra.run.dir=
        assert command[:2] == ["jaxops", "train"] and command[2:-2] == RUN, command
        repaired = jaxops_in_process(*command[1:], cwd=tmp_path)
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        restored = train.checkpoint.state_dict(train.load(run))
        jax.tree.map(np.testing.assert_array_equal, restored, expected)
