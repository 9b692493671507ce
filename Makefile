# make run   — create .venv if missing, install jaxops, run the default experiment
# make test  — create .venv if missing, run the test suite
# make lint  — ruff;  make bench — benchmarks (experiments/benchmarks/)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions the suite was run with; pyproject.toml holds the lower bounds.
LOCK := requirements/lock.txt

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jaxops needs Python >= 3.11: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/jaxops train experiment=darcy_fno

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check jaxops tests experiments
	$(BIN)/ruff format --check jaxops tests experiments

bench: $(STAMP)
	$(BIN)/python -m experiments.benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .jax_cache
