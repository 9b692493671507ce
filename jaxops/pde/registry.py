"""The problem registry: `pde=<name>` configs → dataset-generating problems.

A problem is an equinox module built from its config and the grid size `n`. It provides

- `sample(key)` → one `Sample` (steady) or `TrajectorySample` (time-dependent); vmap over
  keys for many;
- `coords()` → `{"x0": ..., "x1": ..., ["t": ...]}`, the coordinates of the grid axes;
- `grid_kind` (`"nodal"` or `"periodic"`), `channel_names` (`{field: names}`) and
  `param_names`.

`jaxops.data.generate` turns any registered problem into an HDF5 dataset whose arrays are
the sample's fields.
"""

from dataclasses import dataclass
from typing import NamedTuple

from jaxtyping import Array
from omegaconf import MISSING

from .._registry import Registry


class Sample(NamedTuple):
    """One steady sample: input `(C_in, *grid)`, target `(C_out, *grid)`, parameters `(P,)`."""

    inputs: Array
    outputs: Array
    params: Array


class TrajectorySample(NamedTuple):
    """One time-dependent sample: the solution at the save times `(T, C, *grid)` (the first
    is the initial condition) and the PDE parameters `(P,)`."""

    trajectories: Array
    params: Array


@dataclass
class ProblemConfig:
    """Base schema of the `pde` config group; each problem extends it with its parameters."""

    name: str = MISSING


PROBLEMS = Registry("pde", base=ProblemConfig, group="jaxops.pde")
register = PROBLEMS.register
build = PROBLEMS.build
config_kwargs = PROBLEMS.config_kwargs
