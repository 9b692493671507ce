"""Diffusion (heat) equation u_t = ν Δu, periodic (pseudo-spectral) or on a nodal grid with
homogeneous Dirichlet or Neumann boundaries (second-order finite differences).

L = ν Δ_h is diagonal in every grid's basis, so exponential integrators solve the
semi-discrete problem exactly in time.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..grids import AbstractGrid, make_grid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class Diffusion(AbstractEquation):
    """**Arguments:** `n` (int for 1D or a tuple), `length`, `nu` (diffusivity), `bc`
    (`"periodic"`, `"dirichlet"` or `"neumann"`)."""

    grid: AbstractGrid
    nu: ScalarLike
    channels = 1

    def __init__(
        self,
        n: int | Sequence[int],
        length: float = 1.0,
        nu: ScalarLike = 0.01,
        bc: str = "periodic",
    ):
        self.grid = make_grid(n, length, bc)
        self.nu = nu

    def linear(self):
        return self.nu * self.grid.laplacian()


@dataclass
class DiffusionConfig(TrajectoryConfig):
    """`pde=diffusion`: trajectories of `Diffusion`."""

    name: str = "diffusion"
    nu: Parameter = parameter(MISSING, gt=0.0, help="diffusivity")


register_equation("diffusion", Diffusion, DiffusionConfig)
