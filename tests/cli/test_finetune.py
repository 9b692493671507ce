"""`jaxops train trainer.init_from=<run>`: with `optim.lr=0` the fine-tuned run keeps the
source's weights bit for bit and reproduces its test error; `trainer.freeze` keeps the named
parts bit-identical while the rest trains; a path without a trained model is refused."""

import json

import numpy as np
import pytest
from helpers import jaxops_in_process

from jaxops import train
from jaxops.train.finetune import array_paths

TINY = [
    "data.n_samples=48", "data.n_test=8", "data.resolution=17", "data.subsample=2",
    "model.modes=[3,3]", "model.width=8", "model.depth=2", "model.projection_width=16",
    "trainer.epochs=2", "trainer.batch_size=8", "trainer.plot_samples=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finetune")
    result = jaxops_in_process("train", *TINY, "hydra.run.dir=source", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir, workdir / "source"


def summary(run):
    return json.loads((run / "summary.json").read_text())


def test_init_from_with_zero_learning_rate_reproduces_the_source(source):
    workdir, run = source
    result = jaxops_in_process("train", *TINY, f"trainer.init_from={run}", "optim.lr=0",
                               "trainer.epochs=1", "hydra.run.dir=tuned", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"fine-tune: weights from {run}" in result.stdout
    before, after = array_paths(train.load(run)), array_paths(train.load(workdir / "tuned"))
    for name, value in before.items():  # an update scaled by a zero rate adds exactly 0
        assert np.array_equal(after[name], value), name
    # The same weights and normalisers (the same training split) on the same test set.
    assert summary(workdir / "tuned")["test_rel_l2"] == pytest.approx(
        summary(run)["test_rel_l2"], rel=1e-6
    )


def test_freeze_keeps_the_named_parts_while_the_rest_trains(source):
    workdir, run = source
    result = jaxops_in_process("train", *TINY, f"trainer.init_from={run}",
                               "trainer.freeze=[lifting]", "trainer.epochs=1",
                               "hydra.run.dir=frozen", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    before = array_paths(train.load(run).model)
    after = array_paths(train.load(workdir / "frozen").model)
    for name, value in before.items():
        assert np.array_equal(after[name], value) == name.startswith("lifting."), name


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.init_from=nowhere", "trainer.init_from=nowhere holds no trained model"),
        ("trainer.freeze=[lift]", "trainer.freeze: freeze entry 'lift' matches no part"),
    ],
)
def test_bad_fine_tuning_settings_are_refused_before_compute(override, message, tmp_path):
    result = jaxops_in_process("train", *TINY, override, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "datasets").exists()
