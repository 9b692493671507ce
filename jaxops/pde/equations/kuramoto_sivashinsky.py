"""Kuramoto–Sivashinsky equation u_t + u u_x + u_xx + u_xxxx = 0 on a periodic interval,
pseudo-spectral: L = k² − k⁴ (unstable band 0 < |k| < 1), N = −½ ∂x(u²), which conserves the
mean. Chaotic for large domains (Kassam & Trefethen, SIAM J. Sci. Comput. 26, 2005, use
L = 32π, the default here).
"""

import math
from dataclasses import dataclass

from ..grids import PeriodicGrid
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation


class KuramotoSivashinsky(AbstractEquation):
    """**Arguments:** `n` (points), `length` (period, default 32π)."""

    grid: PeriodicGrid
    channels = 1

    def __init__(self, n: int, length: float = 32 * math.pi):
        self.grid = PeriodicGrid(n, length)
        if self.grid.dim != 1:
            raise ValueError("KuramotoSivashinsky is one-dimensional: pass n as an int")

    def linear(self):
        g = self.grid
        return -(g.derivative_symbol(0, 2) + g.derivative_symbol(0, 4)).real

    def nonlinear_hat(self, t, u_hat, args=None):
        u = self.physical(u_hat)
        return -0.5 * self.spectral_derivative(u * u, 0)


@dataclass
class KuramotoSivashinskyConfig(TrajectoryConfig):
    """`pde=kuramoto_sivashinsky`: trajectories of `KuramotoSivashinsky`."""

    name: str = "kuramoto_sivashinsky"


register_equation("kuramoto_sivashinsky", KuramotoSivashinsky, KuramotoSivashinskyConfig)
