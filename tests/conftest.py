"""Shared fixtures. Compiled programs are cached in .jax_cache/ across test runs."""

import os
from pathlib import Path

import jax
import jax.random as jr
import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".jax_cache"
os.environ["JAXOPS_CACHE_DIR"] = str(CACHE)  # for the command-line tests' subprocesses
jax.config.update("jax_compilation_cache_dir", str(CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@pytest.fixture
def getkey():
    """`getkey()` returns a new, deterministic `jax.random` key on each call."""
    counter = iter(range(1_000_000))
    return lambda: jr.key(next(counter))


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled (scoped; jaxops never sets it globally)."""
    with jax.enable_x64(True):
        yield
