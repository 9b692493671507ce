"""`python -m experiments.parametric.conditioning` at tiny size (one variant, one epoch):
it trains on the trained viscosities, tests each run on the held-out ones through
`jaxops evaluate pde.nu=[...]` (a dataset of those viscosities only, all classed as
interpolation), and writes the table of both errors."""

import json

import numpy as np

from experiments.parametric import conditioning


def test_the_table_reports_trained_and_held_out_viscosities(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the generated datasets go to ./datasets
    (row,) = conditioning.main(["--tiny", "--epochs", "1", "--variants", "cape:curriculum",
                                "--out", str(tmp_path)])  # fmt: skip
    assert row["model"] == "cape" and row["mode"] == "curriculum"
    assert np.isfinite(row["in_distribution"]) and np.isfinite(row["held_out"])
    run = tmp_path / "cape_curriculum"
    trained = json.loads((run / "errors_by_param.json").read_text())["rows"]
    assert sorted(r["params"]["nu"] for r in trained) == np.float32(conditioning.TRAIN_NU).tolist()
    (evaluation,) = (run / "evaluations").iterdir()
    held_out = json.loads((evaluation / "errors_by_param.json").read_text())["rows"]
    values = sorted(r["params"]["nu"] for r in held_out)
    assert values == np.float32(conditioning.HELD_OUT_NU).tolist()
    assert {r["class"] for r in held_out} == {"interpolation"}
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["test_rel_l2"] == row["held_out"]
    table = (tmp_path / "conditioning.md").read_text().splitlines()
    assert table[2].startswith("| cape | curriculum | ")
