"""Linear advection u_t + c·∇u = 0 on a periodic domain (exact solution u₀(x − ct)).

Pseudo-spectral: L = −Σ_i c_i (i k_i), no nonlinear part, so exponential integrators
translate band-limited data exactly.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import MISSING

from ..grids import PeriodicGrid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation, as_vector


class Advection(AbstractEquation):
    """**Arguments:** `n` (points per axis: int for 1D or a tuple), `length` (side of the
    periodic box), `velocity` (a scalar for every axis or one component per axis)."""

    grid: PeriodicGrid
    velocity: tuple
    channels = 1

    def __init__(self, n: int | Sequence[int], length: float = 1.0, velocity=1.0):
        self.grid = PeriodicGrid(n, length)
        self.velocity = as_vector(velocity, self.grid.dim, "velocity")

    def linear(self):
        g = self.grid
        return -sum(c * g.derivative_symbol(axis) for axis, c in enumerate(self.velocity))


@dataclass
class AdvectionConfig(TrajectoryConfig):
    """`pde=advection`: trajectories of `Advection`."""

    name: str = "advection"
    velocity: Parameter = parameter(MISSING, help="speed, the same on every axis")


register_equation("advection", Advection, AdvectionConfig)
