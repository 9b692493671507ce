"""Allen–Cahn equation u_t = ε² Δu + u − u³ (phase separation), periodic or on a nodal grid
with Dirichlet or Neumann boundaries. L = ε² Δ_h + 1 (exact in exponential integrators),
N = −u³ (2/3-rule dealiasing on periodic grids). Allen & Cahn, Acta Metall. 27 (1979).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..grids import AbstractGrid, make_grid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class AllenCahn(AbstractEquation):
    """**Arguments:** `n`, `length`, `eps` (interface width ε), `bc`."""

    grid: AbstractGrid
    eps: ScalarLike
    channels = 1

    def __init__(
        self,
        n: int | Sequence[int],
        length: float = 1.0,
        eps: ScalarLike = 0.01,
        bc: str = "periodic",
    ):
        self.grid = make_grid(n, length, bc)
        self.eps = eps

    def linear(self):
        return self.eps**2 * self.grid.laplacian() + 1.0

    def nonlinear_hat(self, t, u_hat, args=None):
        u = self.physical(u_hat)
        return -self.spectral(u**3)


@dataclass
class AllenCahnConfig(TrajectoryConfig):
    """`pde=allen_cahn`: trajectories of `AllenCahn`."""

    name: str = "allen_cahn"
    eps: Parameter = parameter(MISSING, gt=0.0, help="interface width ε")


register_equation("allen_cahn", AllenCahn, AllenCahnConfig)
