"""`jaxops compare`: a table of hand-written run directories. The summaries and configs are
inputs written here; the tests check which columns the table gets, its order, the CSV and
the errors."""

import csv
import json
import os

import pytest
from omegaconf import OmegaConf

from jaxops._config import ConfigError
from jaxops.cli.compare import collect_runs, compare_table
from jaxops.cli.main import main

CONFIG = {
    "name": "darcy_fno",
    "seed": 0,
    "data": {"n_samples": 600, "resolution": 63},
    "model": {"name": "fno", "modes": [12, 12], "width": 32},
    "optim": {"name": "adam", "lr": 0.003, "weight_decay": 1e-4},
}
# optim.lr -> summary; the middle one is best, the last has no `test_rel_l2@64x64`.
RUNS = {
    1e-3: {"test_rel_l2": 0.0312345678901234, "test_rel_l2@64x64": 0.041, "n_params": 2368001},
    3e-3: {"test_rel_l2": 0.0219102166593074, "test_rel_l2@64x64": 0.033, "n_params": 2368001},
    1e-2: {"test_rel_l2": 0.0456789012345678, "n_params": 2368001},
}


def write_run(run_dir, lr, summary):
    run_dir.mkdir(parents=True)
    config = OmegaConf.merge(CONFIG, {"optim": {"lr": lr}})
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    full = {
        "experiment": "darcy_fno",
        "model": "fno",
        "test_rel_l2_median": summary["test_rel_l2"] * 0.9,
        "baseline_rel_l2": 0.2497,
        "epoch_seconds_median": 4.5,
        "train_grid": [32, 32],
        **summary,
    }
    (run_dir / "summary.json").write_text(json.dumps(full))


@pytest.fixture
def sweep(tmp_path):
    """A Hydra multirun layout: runs/multirun/<date>/<job>/ over optim.lr."""
    root = tmp_path / "runs" / "multirun" / "2026-01-01" / "12-00-00"
    for job, (lr, summary) in enumerate(RUNS.items()):
        write_run(root / str(job), lr, summary)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    (tmp_path / "runs" / "not_a_run").mkdir()
    return root


def column(columns, rows, name):
    return [row[columns.index(name)] for row in rows]


def test_only_differing_config_keys_become_columns(sweep):
    runs = collect_runs([sweep])
    assert len(runs) == 3
    columns, rows = compare_table(runs, sort=None)
    assert columns[:4] == ["run", "experiment", "model", "seed"]
    assert "optim.lr" in columns
    assert not {"optim.name", "model.width", "data.resolution", "model.modes"} & set(columns)
    assert column(columns, rows, "optim.lr") == [1e-3, 3e-3, 1e-2]
    assert column(columns, rows, "model") == ["fno"] * 3
    assert column(columns, rows, "seed") == [0] * 3
    # Default metrics, then every other test_* key; non-numeric keys are left out.
    assert columns[columns.index("optim.lr") + 1 :] == [
        "test_rel_l2",
        "test_rel_l2_median",
        "baseline_rel_l2",
        "n_params",
        "epoch_seconds_median",
        "test_rel_l2@64x64",
    ]


def test_sorting(sweep):
    runs = collect_runs([sweep])
    columns, rows = compare_table(runs)
    assert column(columns, rows, "optim.lr") == [3e-3, 1e-3, 1e-2]
    columns, rows = compare_table(runs, sort="-test_rel_l2")
    assert column(columns, rows, "optim.lr") == [1e-2, 1e-3, 3e-3]
    # Missing values go last either way.
    for sort in ("test_rel_l2@64x64", "-test_rel_l2@64x64"):
        columns, rows = compare_table(runs, sort=sort)
        assert column(columns, rows, "test_rel_l2@64x64")[-1] is None
    with pytest.raises(ConfigError, match="no such column; columns are run, experiment"):
        compare_table(runs, sort="test_l2")


def test_selected_metrics(sweep):
    columns, rows = compare_table(collect_runs([sweep]), ["n_params", "test_rel_l2"])
    assert columns == ["run", "experiment", "model", "seed", "optim.lr", "n_params", "test_rel_l2"]
    with pytest.raises(ConfigError, match="test_rel_l3 not found.*summary keys are"):
        compare_table(collect_runs([sweep]), ["test_rel_l3"])


def test_parent_directories_are_searched(sweep, tmp_path):
    everything = collect_runs([tmp_path])
    assert [r["path"].name for r in everything] == ["0", "1", "2"]
    # Run directories given directly, twice, and together with their parent: each run once.
    some = collect_runs([sweep / "2", sweep / "0", sweep / "0" / "summary.json", sweep])
    assert [r["path"].name for r in some] == ["0", "1", "2"]
    assert some[0]["config"]["model.modes"] == [12, 12]


def test_no_runs(tmp_path):
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no runs \(directories with a summary.json\)"):
        collect_runs([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_runs([tmp_path / "typo"])


def test_command_prints_the_table_and_writes_csv(sweep, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tables" / "results.csv"
    main(["compare", "runs", "--csv", str(out), "--sort", "optim.lr"])
    printed = capsys.readouterr().out
    assert "3 runs in runs/multirun/2026-01-01/12-00-00, sorted by optim.lr" in printed
    assert "test_rel_l2@64x64" in printed and "0.02191" in printed and "–" in printed
    assert "…" not in printed  # nothing truncated

    with out.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert not list(out.parent.glob("*.tmp"))
    assert [row["run"] for row in table] == [
        f"runs/multirun/2026-01-01/12-00-00/{job}" for job in (0, 1, 2)
    ]
    for row, (lr, summary) in zip(table, RUNS.items(), strict=True):
        assert float(row["optim.lr"]) == lr
        assert row["model"] == "fno" and row["seed"] == "0"
        # Full precision: the numbers read back equal the numbers written.
        assert float(row["test_rel_l2"]) == summary["test_rel_l2"]
        assert float(row["test_rel_l2_median"]) == summary["test_rel_l2"] * 0.9
        assert int(row["n_params"]) == summary["n_params"]
    assert [row["test_rel_l2@64x64"] for row in table] == ["0.041", "0.033", ""]


def test_command_errors_without_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(tmp_path)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "error:" in error and "no runs" in error and "jaxops train" in error
    assert "Traceback" not in error


def many_runs(root, n_runs: int, n_keys: int = 30) -> None:
    """`n_runs` runs of two experiments whose configs differ in `n_keys` keys."""
    for job in range(n_runs):
        config = {**CONFIG, "seed": job,
                  "trainer": {f"setting_{k}": job * 10 + k for k in range(n_keys)}}  # fmt: skip
        run_dir = root / f"job_{job}"
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
        summary = {"experiment": "darcy_fno", "model": "fno", "test_rel_l2": 0.01 * (job + 1),
                   "baseline_rel_l2": 0.25, "n_params": 1234}  # fmt: skip
        (run_dir / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("n_runs", [3, 12])  # turned on its side; split into pages
def test_the_table_fits_the_terminal_and_the_csv_keeps_everything(tmp_path, width, n_runs):
    from rich.console import Console

    from jaxops.cli.compare import run

    many_runs(tmp_path / "runs", n_runs)
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    columns, rows = run([str(tmp_path / "runs"), "--csv", str(tmp_path / "all.csv")], console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(map(len, lines)) <= width and "…" not in text
    for k in (0, 29):  # every differing key is shown, by its short name, with its values
        assert f"setting_{k}" in text and f"trainer.setting_{k}" not in text
        assert f"{(n_runs - 1) * 10 + k}" in text
    assert "test_rel_l2" in text and f"{0.01 * n_runs:.4g}" in text
    with (tmp_path / "all.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == n_runs and "trainer.setting_29" in table[0]  # the full dotted keys
    assert columns == list(table[0])


def test_short_names_keep_keys_apart():
    from jaxops.cli.compare import short_names

    columns = ["run", "optim.lr", "trainer.rollout.mode", "pde.mode", "test_rel_l2@64x64"]
    assert short_names(columns) == ["run", "lr", "rollout.mode", "pde.mode", "test_rel_l2@64x64"]
