"""Two-dimensional incompressible Navier–Stokes in vorticity form on a periodic box:

    ω_t + u·∇ω = ν Δω − α ω + f,   u = ∇^⊥ψ = (∂_y ψ, −∂_x ψ),   −Δψ = ω,

pseudo-spectral with the 2/3 rule; L = −ν|k|² − α, N = −u·∇ω + f.

Forcings: `"fno"` f = 0.1 (sin 2π(x+y)/L + cos 2π(x+y)/L), the setup of Li et al., "Fourier
Neural Operator for Parametric PDEs", ICLR 2021 (unit torus, ν ∈ {1e-3, 1e-4, 1e-5});
`"kolmogorov"` the vorticity of the shear force sin(k_f y) e_x, f = −k_f cos(k_f y) with
k_f = 2π·`forcing_wavenumber`/L (Kolmogorov flow; with drag α = 0.1 and wavenumber 4 the
setup of Kochkov et al., PNAS 2021); `"none"`. Validated against the Taylor–Green vortex.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import ScalarLike
from omegaconf import MISSING

from ..._config import spec
from ..grids import PeriodicGrid
from ..parameters import Parameter, parameter
from ..problems import TrajectoryConfig, register_equation
from .base import AbstractEquation

FORCINGS = ("fno", "kolmogorov", "none")


class NavierStokes2D(AbstractEquation):
    """**Arguments:** `n` (int or pair), `length` (side, default 1), `nu` (viscosity),
    `forcing` (`"fno"`, `"kolmogorov"`, `"none"`), `drag` (linear damping α ≥ 0),
    `forcing_wavenumber` (Kolmogorov). The state is the vorticity, one channel."""

    grid: PeriodicGrid
    nu: ScalarLike
    drag: ScalarLike
    forcing_hat: jnp.ndarray  # dealiased coefficients of f, (real, imag); computed once
    forcing: str = eqx.field(static=True, default="fno")
    forcing_wavenumber: int = eqx.field(static=True, default=4)
    channels = 1
    channel_names = ("vorticity",)

    def __init__(
        self,
        n: int | Sequence[int],
        length: float = 1.0,
        nu: ScalarLike = 1e-3,
        forcing: str = "fno",
        drag: ScalarLike = 0.0,
        forcing_wavenumber: int = 4,
    ):
        self.grid = PeriodicGrid(n, length, dim=2)
        if self.grid.dim != 2:
            raise ValueError(f"NavierStokes2D needs a 2-D grid, got n={n!r}")
        if forcing not in FORCINGS:
            raise ValueError(f"forcing must be one of {FORCINGS}, got {forcing!r}")
        self.nu, self.drag = nu, drag
        self.forcing, self.forcing_wavenumber = forcing, forcing_wavenumber
        f_hat = self.grid.dealias(self.grid.to_spectral(self.force()))
        f_hat = f_hat.at[:, 0, 0].set(0.0)  # f has zero mean exactly; round-off would drift ∫ω
        self.forcing_hat = jnp.stack([f_hat.real, f_hat.imag])  # diffrax expects real leaves

    def linear(self):
        return self.nu * self.grid.laplacian() - self.drag

    def force(self) -> jnp.ndarray:
        """The forcing field f `(1, n, n)`."""
        x, y = jnp.meshgrid(*self.grid.coords(), indexing="ij")
        scale = 2 * jnp.pi / self.grid.length
        if self.forcing == "fno":
            f = 0.1 * (jnp.sin(scale * (x + y)) + jnp.cos(scale * (x + y)))
        elif self.forcing == "kolmogorov":
            k = scale * self.forcing_wavenumber
            f = -k * jnp.cos(k * y)
        else:
            f = jnp.zeros_like(x)
        return f[None]

    def velocity_hat(self, omega_hat):
        """Coefficients of the velocity (u, v) = ∇^⊥ψ, −Δψ = ω (zero-mean ψ), `(2, ...)`."""
        g = self.grid
        lap = g.laplacian()
        psi_hat = jnp.where(lap == 0, 0.0, -omega_hat / jnp.where(lap == 0, 1.0, lap))
        return jnp.concatenate([g.derivative(psi_hat, 1), -g.derivative(psi_hat, 0)])

    def velocity(self, omega_hat):
        """(u, v) from the vorticity coefficients, in physical space, `(2, n, n)`."""
        return self.grid.from_spectral(self.velocity_hat(omega_hat))

    def nonlinear_hat(self, t, u_hat, args=None):
        g = self.grid
        u_hat = g.dealias(u_hat)
        gradient_hat = jnp.concatenate([g.derivative(u_hat, 0), g.derivative(u_hat, 1)])
        # One batched inverse transform for u, v, ω_x, ω_y instead of four.
        u, v, omega_x, omega_y = g.from_spectral(
            jnp.concatenate([self.velocity_hat(u_hat), gradient_hat])
        )
        forcing = self.forcing_hat[0] + 1j * self.forcing_hat[1]
        return forcing - self.spectral((u * omega_x + v * omega_y)[None])


@dataclass
class NavierStokes2DConfig(TrajectoryConfig):
    """`pde=navier_stokes`: trajectories of `NavierStokes2D`."""

    name: str = "navier_stokes"
    nu: Parameter = parameter(MISSING, gt=0.0, help="viscosity")
    drag: Parameter = parameter([0.0], ge=0.0, help="linear drag α")
    forcing: str = spec("fno", choices=FORCINGS)
    forcing_wavenumber: int = spec(4, ge=1, help="kolmogorov forcing wavenumber")


register_equation("navier_stokes", NavierStokes2D, NavierStokes2DConfig)
