"""Benchmarks: `python -m experiments.benchmarks [name ...]` (or `make bench`)."""
