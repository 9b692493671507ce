"""Advection–diffusion u_t + c·∇u = ν Δu on a periodic domain (pseudo-spectral).

Exact solution for band-limited data: each Fourier mode decays as e^{−ν|k|²t} and moves with
velocity c.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..grids import PeriodicGrid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation, as_vector


class AdvectionDiffusion(AbstractEquation):
    """**Arguments:** `n`, `length`, `velocity` (scalar or per axis), `nu`."""

    grid: PeriodicGrid
    velocity: tuple
    nu: ScalarLike
    channels = 1

    def __init__(
        self, n: int | Sequence[int], length: float = 1.0, velocity=1.0, nu: ScalarLike = 0.01
    ):
        self.grid = PeriodicGrid(n, length)
        self.velocity = as_vector(velocity, self.grid.dim, "velocity")
        self.nu = nu

    def linear(self):
        g = self.grid
        transport = -sum(c * g.derivative_symbol(axis) for axis, c in enumerate(self.velocity))
        return transport + self.nu * g.laplacian()


@dataclass
class AdvectionDiffusionConfig(TrajectoryConfig):
    """`pde=advection_diffusion`: trajectories of `AdvectionDiffusion`."""

    name: str = "advection_diffusion"
    velocity: Parameter = parameter(MISSING, help="speed, the same on every axis")
    nu: Parameter = parameter(MISSING, gt=0.0, help="diffusivity")


register_equation("advection_diffusion", AdvectionDiffusion, AdvectionDiffusionConfig)
