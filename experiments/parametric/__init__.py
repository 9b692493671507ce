"""Parametric PDEs: how conditioning on the PDE parameters (CAPE, FiLM) generalises to
parameter values not seen in training. Run `python -m experiments.parametric.conditioning
[--help]`."""
