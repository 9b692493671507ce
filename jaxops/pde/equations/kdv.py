"""Korteweg–de Vries equation u_t + 6 u u_x + u_xxx = ν₄ ... (optional hyper-viscosity
−ν₄ u_xxxx) on a periodic interval, pseudo-spectral.

L = −(ik)³ − ν₄ k⁴ (dispersive, purely imaginary without hyper-viscosity), N = −3 ∂x(u²).
Validated against the soliton u = (c/2) sech²(√c (x − ct − x₀)/2).
"""

from dataclasses import dataclass

from jaxtyping import ScalarLike

from ..grids import PeriodicGrid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class KdV(AbstractEquation):
    """**Arguments:** `n` (points), `length` (period, default 40), `hyperviscosity` (ν₄ ≥ 0)."""

    grid: PeriodicGrid
    hyperviscosity: ScalarLike
    channels = 1

    def __init__(self, n: int, length: float = 40.0, hyperviscosity: ScalarLike = 0.0):
        self.grid = PeriodicGrid(n, length)
        if self.grid.dim != 1:
            raise ValueError("KdV is one-dimensional: pass n as an int")
        self.hyperviscosity = hyperviscosity

    def linear(self):
        g = self.grid
        return -g.derivative_symbol(0, 3) - self.hyperviscosity * g.derivative_symbol(0, 4).real

    def nonlinear_hat(self, t, u_hat, args=None):
        u = self.physical(u_hat)
        return -3.0 * self.spectral_derivative(u * u, 0)


@dataclass
class KdVConfig(TrajectoryConfig):
    """`pde=kdv`: trajectories of `KdV`."""

    name: str = "kdv"
    hyperviscosity: Parameter = parameter([0.0], ge=0.0, help="ν₄")


register_equation("kdv", KdV, KdVConfig)
