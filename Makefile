# make run   — create .venv if missing, install jaxops, run the default experiment
# make test  — create .venv if missing, run the test suite
# make lint  — ruff;  make bench — benchmarks (experiments/benchmarks/)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions the suite was run with; pyproject.toml holds the lower bounds.
LOCK := requirements/lock.txt
# Benchmarks run in their own environment with the peer libraries (BENCHMARKS.md), so that
# installing them never changes the versions jaxops is tested with.
BENCH_VENV := .venv-bench
# torch is installed first and pinned: a CPU build of 2.13.0 where one is offered (PIP_FIND_LINKS,
# BENCHMARKS.md); left to neuraloperator's requirement, pip would pull a CUDA build of several GB.
BENCH_TORCH := torch==2.13.0
BENCH_PEERS := exponax==0.2.0 neuraloperator==2.0.0

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jaxops needs Python >= 3.11: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/jaxops train experiment=darcy_fno

# The suite runs on every core (pytest-xdist; TEST_JOBS=0 runs it in one process).
TEST_JOBS ?= auto

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check jaxops tests experiments
	$(BIN)/ruff format --check jaxops tests experiments

$(BENCH_VENV)/.installed: pyproject.toml $(LOCK) Makefile
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(BENCH_TORCH)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e . $(BENCH_TORCH) $(BENCH_PEERS)
	@touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m experiments.benchmarks

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache .jax_cache
