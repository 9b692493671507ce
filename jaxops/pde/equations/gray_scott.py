"""Gray–Scott reaction–diffusion, two species (Pearson, "Complex patterns in a simple
system", Science 261, 1993):

    u_t = D_u Δu − u v² + F (1 − u),   v_t = D_v Δv + u v² − (F + k) v,

periodic, pseudo-spectral. L = (D_u Δ − F, D_v Δ − F − k) per channel; N = (−uv² + F, uv²).
Defaults: Pearson's D_u = 2·10⁻⁵, D_v = 10⁻⁵ on a box of side 2.5, F = 0.04, k = 0.06.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..grids import PeriodicGrid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class GrayScott(AbstractEquation):
    """**Arguments:** `n`, `length`, `du`, `dv` (diffusivities), `feed` (F), `kill` (k).
    State channels: (u, v)."""

    grid: PeriodicGrid
    du: ScalarLike
    dv: ScalarLike
    feed: ScalarLike
    kill: ScalarLike
    channels = 2
    channel_names = ("u", "v")

    def __init__(
        self,
        n: int | Sequence[int],
        length: float = 2.5,
        du: ScalarLike = 2e-5,
        dv: ScalarLike = 1e-5,
        feed: ScalarLike = 0.04,
        kill: ScalarLike = 0.06,
    ):
        self.grid = PeriodicGrid(n, length)
        self.du, self.dv, self.feed, self.kill = du, dv, feed, kill

    def linear(self):
        lap = self.grid.laplacian()
        return jnp.stack([self.du * lap - self.feed, self.dv * lap - self.feed - self.kill])

    def nonlinear_hat(self, t, u_hat, args=None):
        u, v = self.physical(u_hat)
        reaction = u * v * v
        return self.spectral(jnp.stack([self.feed - reaction, reaction]))


@dataclass
class GrayScottConfig(TrajectoryConfig):
    """`pde=gray_scott`: trajectories of `GrayScott`."""

    name: str = "gray_scott"
    du: Parameter = parameter(MISSING, gt=0.0, help="diffusivity of u")
    dv: Parameter = parameter(MISSING, gt=0.0, help="diffusivity of v")
    feed: Parameter = parameter(MISSING, ge=0.0, help="feed rate F")
    kill: Parameter = parameter(MISSING, ge=0.0, help="kill rate k")


register_equation("gray_scott", GrayScott, GrayScottConfig)
