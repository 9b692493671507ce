"""`AbstractEquation`: a semilinear PDE u_t = L u + N(t, u) on a grid (method of lines).

L is diagonal in the grid's spectral basis (`grids`): it is returned by `linear()` as an
array of eigenvalues broadcastable to `(C, *spectral_shape)`, possibly complex (odd
derivatives on periodic grids). N maps spectral coefficients to spectral coefficients
(`nonlinear_hat`); products of fields are formed in physical space with the 2/3 rule
applied to the factors and to the result on periodic grids (`dealiased_product_space`).

Physical parameters are pytree leaves, so `jax.vmap` over a constructor sweeps them:
`eqx.filter_vmap(lambda nu: Burgers(n=256, nu=nu))(nus)`.
"""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ..grids import AbstractGrid, PeriodicGrid


class AbstractEquation(eqx.Module):
    """Interface of time-dependent equations; see the module docstring."""

    grid: eqx.AbstractVar[AbstractGrid]
    channels: eqx.AbstractClassVar[int]

    @abc.abstractmethod
    def linear(self) -> Array:
        """Eigenvalues of L, broadcastable to `(C, *spectral_shape)`."""

    def nonlinear_hat(self, t, u_hat: Array, args=None) -> Array:
        """N in the spectral basis (default: no nonlinear part)."""
        return jnp.zeros_like(u_hat)

    def vector_field(self, t, u: Array, args=None) -> Array:
        """The full right-hand side L u + N(t, u) in physical space: `(C, *grid)`."""
        u_hat = self.grid.to_spectral(u)
        rhs = self.linear() * u_hat + self.nonlinear_hat(t, u_hat, args)
        return self.grid.from_spectral(rhs).astype(u.dtype)

    def physical(self, u_hat: Array) -> Array:
        """The field of coefficients, with the modes a quadratic product would alias removed."""
        return self.grid.from_spectral(self.grid.dealias(u_hat))

    def spectral(self, n: Array) -> Array:
        """Coefficients of a nonlinear term computed in physical space, dealiased."""
        return self.grid.dealias(self.grid.to_spectral(n))

    def spectral_derivative(self, n: Array, axis: int) -> Array:
        """Coefficients of ∂n/∂x_axis for a field `n` in physical space: one transform
        (spectral derivative on periodic grids, central differences on nodal ones)."""
        if isinstance(self.grid, PeriodicGrid):
            return self.grid.derivative(self.spectral(n), axis)
        return self.spectral(self.grid.gradient(n, axis))

    def physical_gradient(self, u_hat: Array, u: Array, axis: int) -> Array:
        """∂u/∂x_axis in physical space, from the coefficients `u_hat` of `u`."""
        if isinstance(self.grid, PeriodicGrid):
            return self.grid.from_spectral(self.grid.derivative(self.grid.dealias(u_hat), axis))
        return self.grid.gradient(u, axis)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Names of the state's channels (stored with datasets)."""
        return ("u",) if self.channels == 1 else tuple(f"u{i}" for i in range(self.channels))

    def check_state(self, u: Array) -> None:
        """Raise a clear error if `u` is not one state `(C, *grid)` of this equation."""
        expected = (self.channels, *self.grid.shape)
        if u.shape != expected:
            raise ValueError(
                f"{type(self).__name__} expects a state of shape {expected} (channels, *grid); "
                f"got {u.shape}. Pass one sample and vmap over batches."
            )


def as_vector(value, dim: int, name: str) -> tuple:
    """A per-axis tuple from a scalar or a sequence of `dim` entries (e.g. a velocity)."""
    if isinstance(value, tuple | list):
        if len(value) != dim:
            raise ValueError(f"{name} needs {dim} components for a {dim}-D grid, got {value!r}")
        return tuple(value)
    return (value,) * dim
