"""Worked experiments of differentiable physics: inverse problems, solver-in-the-loop hybrids,
physics-informed training and hard conservation constraints. Run one with
`python -m experiments.differentiable.<name> [--help]`; each prints its figures and writes
them with a PNG to `experiments/differentiable/results/`."""
