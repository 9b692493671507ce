"""Random bad configs (hypothesis): unknown keys, values of the wrong type, values out of
their declared range, unknown options, and combinations the command refuses. The cases are
drawn from the schemas of the default config, so a new field is covered without a new test.
Every case must end, before any data are generated, in a one-line error with exit code 2.

    .venv/bin/python -m pytest tests/cli/test_random_bad_configs.py -s   # prints the counts
"""

import dataclasses
import shutil
import string
from typing import Any

import pytest
from helpers import jaxops_in_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxops.experiment import compose


def _fields(obj: Any, path: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """`(dotted key, field, value)` of every scalar field of a config dataclass tree."""
    out = []
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{path}{f.name}"
        if dataclasses.is_dataclass(value):
            out += _fields(value, f"{key}.")
        elif isinstance(value, bool | int | float | str):
            out.append((key, f, value))
    return out


FIELDS = _fields(compose([]))
NUMBERS = [(k, v) for k, f, v in FIELDS if isinstance(v, int | float) and not isinstance(v, bool)]
BOUNDS = ("ge", "gt", "le")
BOUNDED = [
    (k, f.metadata) for k, f, _ in FIELDS if any(f.metadata.get(b) is not None for b in BOUNDS)
]
CHOICES = [(k, f.metadata["choices"]) for k, f, _ in FIELDS if f.metadata.get("choices")]
GROUPS = sorted({k.split(".")[0] for k, _, _ in FIELDS if "." in k})
WORD = st.text(string.ascii_lowercase, min_size=3, max_size=8)


def _out_of_range(meta) -> st.SearchStrategy[str]:
    below = [meta[b] for b in ("ge", "gt") if meta.get(b) is not None]
    values = [st.floats(-1e6, below[0], exclude_max=meta.get("ge") is not None)] if below else []
    if meta.get("le") is not None:
        values.append(st.floats(meta["le"], 1e6, exclude_min=True))
    return st.one_of(values).map(lambda v: f"{v:.6g}" if v != int(v) else str(int(v)))


unknown_key = st.tuples(st.sampled_from(GROUPS), WORD).map(lambda g: f"{g[0]}.zz{g[1]}=1")
wrong_type = st.tuples(st.sampled_from(NUMBERS), WORD).map(lambda c: f"{c[0][0]}={c[1]}")
out_of_range = st.sampled_from(BOUNDED).flatmap(
    lambda c: _out_of_range(c[1]).map(lambda v: f"{c[0]}={v}")
)
bad_choice = st.tuples(st.sampled_from(CHOICES), WORD).map(lambda c: f"{c[0][0]}=zz{c[1]}")
unknown_option = st.tuples(st.sampled_from(["model", "experiment", "pde", "optim"]), WORD).map(
    lambda c: f"{c[0]}=zz{c[1]}"
)
refused_together = st.sampled_from(
    [
        ("model=cape",),  # takes params; the Darcy data records none
        ("model=time_fno",),  # takes a lead time; Darcy pairs have none
        ("sweep.lrs=[1e-3,3e-3]", "data.stream_chunk=10"),
        ("trainer.physics.weight=1", "sweep.lrs=[1e-3,3e-3]"),
        ("experiment=burgers_fno", "trainer.physics.weight=1"),
        ("data.resolution=41", "data.subsample=4"),  # 11 points, 12 Fourier modes
        ("data.n_samples=10", "data.n_test=10"),
    ]
)
single = st.one_of(unknown_key, wrong_type, out_of_range, bad_choice, unknown_option)
CASES = st.one_of(single.map(lambda o: (o,)), refused_together)
SEEN: dict[tuple[str, ...], str] = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    yield tmp_path_factory.mktemp("bad_configs")
    messages = set(SEEN.values())
    print(f"\n{len(SEEN)} random bad configs, {len(messages)} distinct messages")


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same cases on every run
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(overrides=CASES)
def test_a_random_bad_config_ends_in_one_line_with_exit_code_2(overrides, workdir):
    for leftover in ("datasets", "runs"):
        shutil.rmtree(workdir / leftover, ignore_errors=True)
    result = jaxops_in_process("train", *overrides, "data.dir=datasets", cwd=workdir)
    assert result.returncode == 2, (overrides, result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (workdir / "datasets").exists()  # refused before generating anything
    SEEN[overrides] = result.stderr
