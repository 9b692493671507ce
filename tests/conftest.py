"""Shared fixtures. Compiled programs are cached in .jax_cache/ across test runs."""

import os
from pathlib import Path

import jax
import jax.random as jr
import pytest

from jaxops.cli.main import enable_compilation_cache

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".jax_cache"
os.environ["JAXOPS_CACHE_DIR"] = str(CACHE)  # also for the command-line tests' subprocesses
enable_compilation_cache()


@pytest.fixture
def no_type_checks():
    """The test's calls break `jaxops` annotations on purpose, to test the error a user
    without a type checker gets (`helpers.without_type_checks`)."""
    from helpers import without_type_checks

    with without_type_checks():
        yield


@pytest.fixture
def getkey():
    """`getkey()` returns a new, deterministic `jax.random` key on each call."""
    counter = iter(range(1_000_000))
    return lambda: jr.key(next(counter))


@pytest.fixture(scope="session")
def small_darcy(tmp_path_factory):
    """200 training and 40 test Darcy samples `(N, 1, 17, 17)` (FNO-paper coefficients),
    shared by the training tests: `(train, test)` datasets."""
    from jaxops.data import generate_dataset, load
    from jaxops.pde import DarcyFlow

    path = tmp_path_factory.mktemp("darcy") / "darcy.h5"
    generate_dataset(DarcyFlow(n=17), path, 240, seed=11, chunk_size=120, progress=False)
    return load(path).split(200)


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled (scoped; jaxops never sets it globally)."""
    with jax.enable_x64(True):
        yield


# Modules whose tests take longest (tens of seconds: several processes, whole runs). They
# are collected first, so that the workers' last tests are short ones and both finish
# together (pytest-xdist hands each worker half the list; an idle one steals from the end).
SLOW_FIRST = (
    "parallel/test_training_parallel.py",
    "parallel/test_multihost.py",
    "cli/test_default_devices.py",
    "cli/test_resume.py",
    "docs/test_readme_python.py",
    "experiments/test_conditioning_script.py",
    "cli/test_parametric.py",
    "cli/test_commands.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}

    def order(item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return rank.get(path, len(SLOW_FIRST))

    items.sort(key=order)  # stable: the other modules keep their order
