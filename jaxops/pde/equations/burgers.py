"""Viscous Burgers equation u_t + (u·∇)u = ν Δu: a scalar in 1D, a vector field (one channel
per axis) in 2D and 3D.

Periodic domains: pseudo-spectral with the 2/3 rule; in 1D the nonlinear term is written
in conservation form −½ ∂x(u²), which conserves the mean exactly. Nodal domains (homogeneous
Dirichlet or Neumann): second-order central differences for the nonlinear term and the
finite-difference Laplacian for the viscous term. Validated against the Cole–Hopf solution.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..grids import AbstractGrid, make_grid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class Burgers(AbstractEquation):
    """**Arguments:** `n` (int for 1D or a tuple for 2D/3D), `length`, `nu` (viscosity), `bc`
    (`"periodic"`, `"dirichlet"` or `"neumann"`). The state has one channel per axis."""

    grid: AbstractGrid
    nu: ScalarLike

    def __init__(
        self,
        n: int | Sequence[int],
        length: float = 1.0,
        nu: ScalarLike = 0.01,
        bc: str = "periodic",
    ):
        self.grid = make_grid(n, length, bc)
        self.nu = nu

    @property
    def channels(self) -> int:
        return self.grid.dim

    @property
    def channel_names(self) -> tuple[str, ...]:
        return ("u", "v", "w")[: self.grid.dim]

    def linear(self):
        return self.nu * self.grid.laplacian()

    def nonlinear_hat(self, t, u_hat, args=None):
        g = self.grid
        u = self.physical(u_hat)
        if g.dim == 1:  # conservation form
            return -0.5 * self.spectral_derivative(u * u, 0)
        advection = sum(
            u[axis : axis + 1] * self.physical_gradient(u_hat, u, axis) for axis in range(g.dim)
        )
        return -self.spectral(advection)


@dataclass
class BurgersConfig(TrajectoryConfig):
    """`pde=burgers`: trajectories of `Burgers`."""

    name: str = "burgers"
    nu: Parameter = parameter(MISSING, gt=0.0, help="viscosity")


register_equation("burgers", Burgers, BurgersConfig)
