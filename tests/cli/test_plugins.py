"""Plug-in models: a third-party package that registers a model through the `jaxops.models`
entry-point group trains from the shell with no yaml of its own (its config class's
defaults are the `model=<name>` option, overridable and type-checked), `jaxops evaluate`
re-scores it, and a plug-in that fails to import is named in a one-line error.

The package is installed into a temporary environment the way an installer lays it out: its
module and a `.dist-info` folder with `entry_points.txt` on a path of its own (PYTHONPATH)."""

import json
import os
import re
from pathlib import Path

import pytest
from helpers import jaxops_command

ROOT = Path(__file__).resolve().parents[2]


def readme_plugin() -> str:
    """The plug-in module exactly as the README shows it (the block `# my_operators.py`)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(# my_operators.py\n.*?)```", text, re.S)
    assert block, "the README's plug-in example is gone"
    return block.group(1)


TINY = ["experiment=darcy", "data.n_samples=48", "data.n_test=8", "data.resolution=17",
        "trainer.epochs=2", "trainer.batch_size=8", "trainer.plot_samples=0"]  # fmt: skip


def install(site, name: str, module: str, source: str) -> None:
    """Lay out a distribution `name` whose entry point `jaxops.models: <name> = <module>`."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[jaxops.models]\n{name} = {module}\n")


def run(site, *args, cwd):
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([*jaxops_command(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    install(site, "pointwise_mlp", "my_operators", readme_plugin())
    return site


def test_a_plugin_model_trains_and_evaluates_from_the_shell(site, tmp_path):
    result = run(site, "train", *TINY, "model=pointwise_mlp", "model.width=8",
                 "hydra.run.dir=run", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model"] == "pointwise_mlp"
    assert summary["n_params"] == 8 * 1 + 1 * 8  # hidden (8, 1) and output (1, 8)
    assert summary["train_grid"] == [9, 9]  # data.subsample=2 of experiment=darcy
    evaluated = run(site, "evaluate", "run=run", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    (metrics,) = (tmp_path / "run" / "evaluations").glob("*/metrics.json")
    # The same model and test set in another process: an 81-term float32 reduction per sample.
    assert json.loads(metrics.read_text())["test_rel_l2"] == pytest.approx(
        summary["test_rel_l2"], rel=4e-5
    )


def test_a_plugin_config_is_type_checked(site, tmp_path):
    result = run(site, "train", *TINY, "model=pointwise_mlp", "model.width=wide", cwd=tmp_path)
    assert result.returncode != 0
    assert "model.width" in result.stderr and "Traceback" not in result.stderr


def test_a_plugin_that_fails_to_import_is_named(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install(site, "broken_plugin", "jaxops_broken_plugin", "raise RuntimeError('no GPU here')")
    result = run(site, "train", *TINY, "model=fno", cwd=tmp_path)
    assert result.returncode == 1
    assert "model plugin 'broken_plugin' of broken_plugin (jaxops_broken_plugin) failed to " \
           "load: RuntimeError: no GPU here" in result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr
