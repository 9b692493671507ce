"""The problem registry: `pde=<name>` configs → dataset-generating problems.

A problem is an equinox module built from its config and the grid size `n`; its
`sample(key)` returns one `Sample` (vmap over keys for many). `jaxops.data.generate` turns
any registered problem into an HDF5 dataset.
"""

from dataclasses import dataclass
from typing import NamedTuple

from jaxtyping import Array
from omegaconf import MISSING

from .._registry import Registry

PROBLEMS = Registry("pde")
register = PROBLEMS.register


class Sample(NamedTuple):
    """One dataset sample: input `(C_in, *grid)`, target `(C_out, *grid)`, PDE parameters `(P,)`."""

    inputs: Array
    outputs: Array
    params: Array


@dataclass
class ProblemConfig:
    """Base schema of the `pde` config group; each problem extends it with its parameters."""

    name: str = MISSING


build = PROBLEMS.build
config_kwargs = PROBLEMS.config_kwargs
