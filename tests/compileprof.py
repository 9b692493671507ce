"""Where the suite's time goes: a pytest plugin that adds up, per test, JAX's tracing, lowering
and XLA compilation time and the number of programs compiled (from `jax.monitoring` events).
Not loaded by default; run it on a cold cache to see what a clean CI run pays:

    rm -rf .jax_cache && .venv/bin/python -m pytest -p compileprof -n 2 [tests...]

Each process writes, in the current folder, `compileprof_<worker>.json` (per test),
`compileprof_functions_<worker>.json` (per jitted function) and `compileprof_sites_<worker>.json`
(per jitted function and the line of jaxops or the tests that asked for it); `python
tests/compileprof.py` prints the totals, then the tests, functions and lines with the most
compilation time.
"""

import collections
import glob
import json
import os
import sys
import traceback

import jax.monitoring
import pytest

PREFIX = "/jax/core/compile/"
_totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_by_function: collections.Counter = collections.Counter()  # compile seconds per jitted name
_count_by_function: collections.Counter = collections.Counter()
_by_site: collections.Counter = collections.Counter()  # compile seconds per calling line
_count_by_site: collections.Counter = collections.Counter()
_current = ["(outside a test)"]


def _listener(event: str, duration: float, fun_name: str = "?", **_: object) -> None:
    if event.startswith(PREFIX):
        name = event[len(PREFIX) :]
        _totals[_current[0]][name] += duration
        if name == "backend_compile_duration":
            _totals[_current[0]]["programs"] += 1
            _by_function[fun_name] += duration
            _count_by_function[fun_name] += 1
            site = f"{fun_name} @ {_calling_line()}"
            _by_site[site] += duration
            _count_by_site[site] += 1


def _calling_line() -> str:
    """The innermost line of jaxops or the tests (not this file) that asked for a compile."""
    for frame in reversed(traceback.extract_stack()):
        if ("/jaxops/" in frame.filename or "/tests/" in frame.filename) and (
            "compileprof" not in frame.filename
        ):
            return f"{frame.filename.split('/work/')[-1]}:{frame.lineno}"
    return "?"


jax.monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    yield


def pytest_sessionfinish(session):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(f"compileprof_{worker}.json", "w") as f:
        json.dump({test: dict(c) for test, c in _totals.items()}, f)
    with open(f"compileprof_functions_{worker}.json", "w") as f:
        json.dump({k: [v, _count_by_function[k]] for k, v in _by_function.items()}, f)
    with open(f"compileprof_sites_{worker}.json", "w") as f:
        json.dump({k: [v, _count_by_site[k]] for k, v in _by_site.items()}, f)


def report(top: int = 30) -> None:
    per_test: dict[str, dict] = {}
    for path in glob.glob("compileprof_gw*.json") + glob.glob("compileprof_main.json"):
        with open(path) as f:
            per_test.update(json.load(f))
    total = collections.Counter()
    for counts in per_test.values():
        total.update(counts)
    print({k: round(v, 1) for k, v in total.items()})
    order = sorted(per_test.items(), key=lambda kv: -kv[1].get("backend_compile_duration", 0))
    print("compile s  trace s  lower s  programs  test")
    for test, c in order[:top]:
        print(f"{c.get('backend_compile_duration', 0):9.1f} {c.get('jaxpr_trace_duration', 0):8.1f}"
              f" {c.get('jaxpr_to_mlir_module_duration', 0):8.1f} {int(c.get('programs', 0)):9d}"
              f"  {test}")  # fmt: skip
    _print_counts("compileprof_functions_*.json", "jitted function", top)
    _print_counts("compileprof_sites_*.json", "jitted function @ the line that asked for it", top)


def _print_counts(pattern: str, what: str, top: int) -> None:
    """The `top` entries by compile seconds of the `{name: [seconds, programs]}` files."""
    seconds, programs = collections.Counter(), collections.Counter()
    for path in glob.glob(pattern):
        with open(path) as f:
            for name, (s, n) in json.load(f).items():
                seconds[name] += s
                programs[name] += n
    print(f"compile s  programs  {what}")
    for name, s in seconds.most_common(top):
        print(f"{s:9.1f} {programs[name]:9d}  {name}")


if __name__ == "__main__":
    report(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
