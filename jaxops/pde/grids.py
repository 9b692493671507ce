"""Grids that diagonalise the Laplacian: the spectral bases of the time-dependent solvers.

Every grid maps a field `(C, *grid)` to coefficients in a basis in which the (discrete)
Laplacian is diagonal, and back; stiff linear parts of equations are then integrated
exactly, mode by mode.

- `PeriodicGrid`: [0, L)^d with x_i = i L / n; real FFT; exact spectral derivatives
  (Fourier pseudo-spectral method, e.g. Trefethen, "Spectral Methods in MATLAB", 2000).
- `DirichletGrid`: nodal [0, L]^d with x_i = i L / (n − 1), u = 0 on the boundary; second-
  order finite differences, whose Laplacian is diagonalised by the DST-I of the interior.
- `NeumannGrid`: the same nodes with ∂u/∂n = 0 (ghost-point reflection); DCT-I.

Eigenvalues of the 1D second difference: −(4/h²) sin²(π k / (2(n − 1))), k = 1..n−2
(Dirichlet) or k = 0..n−1 (Neumann); the d-D Laplacian sums them over axes.
"""

import abc
from collections.abc import Sequence

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array

from ..geometry import axis_coordinates, periodic_derivative_symbol, periodic_wavenumbers
from .transforms import dct1, dst1, idct1, idst1


def _shape(n: int | Sequence[int], dim: int | None = None) -> tuple[int, ...]:
    shape = (n,) * (dim or 1) if isinstance(n, int) else tuple(n)
    if not shape or not all(isinstance(m, int) and m >= 3 for m in shape):
        raise ValueError(f"n must be an int or a tuple of ints >= 3 (points per axis), got {n!r}")
    return shape


class AbstractGrid(eqx.Module):
    """A grid of `shape` points on a box of side `length`, with a Laplacian-diagonal basis."""

    shape: eqx.AbstractVar[tuple[int, ...]]
    length: eqx.AbstractVar[float]
    kind: eqx.AbstractClassVar[str]

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def axes(self) -> tuple[int, ...]:
        """Spatial axes of a field `(C, *grid)`."""
        return tuple(range(1, self.dim + 1))

    @abc.abstractmethod
    def to_spectral(self, u: Array) -> Array:
        """Coefficients of `u` `(C, *grid)` in the grid's basis."""

    @abc.abstractmethod
    def from_spectral(self, u_hat: Array) -> Array:
        """Field `(C, *grid)` from coefficients."""

    @abc.abstractmethod
    def laplacian(self) -> Array:
        """Eigenvalues of the (discrete) Laplacian, shaped like one channel of `to_spectral`."""

    @abc.abstractmethod
    def gradient(self, u: Array, axis: int) -> Array:
        """∂u/∂x_axis of a field `(C, *grid)` (spectral on periodic grids, central
        differences consistent with the boundary condition on nodal ones)."""

    @abc.abstractmethod
    def coords(self) -> list[Array]:
        """Coordinates of the points of each axis."""

    def dealias(self, u_hat: Array) -> Array:
        """Remove the modes a quadratic nonlinearity aliases (periodic grids only)."""
        return u_hat


class PeriodicGrid(AbstractGrid):
    """Periodic grid on [0, `length`)^d; `n` points per axis (an int, with `dim`, or a tuple)."""

    shape: tuple[int, ...] = eqx.field(static=True)
    length: float = eqx.field(static=True)
    kind = "periodic"

    def __init__(self, n: int | Sequence[int], length: float = 1.0, dim: int | None = None):
        self.shape = _shape(n, dim)
        self.length = float(length)

    def wavenumbers(self) -> list[Array]:
        """Angular wavenumbers 2πm/L of the rfftn layout, broadcastable, one per axis
        (`geometry.periodic_wavenumbers`)."""
        return periodic_wavenumbers(self.shape, self.length)

    def to_spectral(self, u: Array) -> Array:
        return jnp.fft.rfftn(u, axes=self.axes)

    def from_spectral(self, u_hat: Array) -> Array:
        return jnp.fft.irfftn(u_hat, s=self.shape, axes=self.axes)

    def laplacian(self) -> Array:
        return -sum(k**2 for k in self.wavenumbers())

    def derivative_symbol(self, axis: int, order: int = 1) -> Array:
        """(i k_axis)^order, broadcastable to the spectral shape; odd orders zero the Nyquist
        mode of an even axis (its derivative is not representable as a real field;
        `geometry.periodic_derivative_symbol`)."""
        return periodic_derivative_symbol(self.shape, self.length, axis, order)

    def derivative(self, u_hat: Array, axis: int, order: int = 1) -> Array:
        """Spectral derivative of coefficients (see `derivative_symbol`)."""
        return self.derivative_symbol(axis, order) * u_hat

    def gradient(self, u: Array, axis: int) -> Array:
        return self.from_spectral(self.derivative(self.to_spectral(u), axis))

    def dealias(self, u_hat: Array) -> Array:
        """Orszag's 2/3 rule: zero every mode with |m| > n/3 on some axis."""
        mask = 1.0
        for k, n in zip(self.wavenumbers(), self.shape, strict=True):
            mask = mask * (jnp.abs(k) * self.length / (2 * jnp.pi) <= n // 3)
        return u_hat * mask

    def coords(self) -> list[Array]:
        return [axis_coordinates(n, self.length, "periodic") for n in self.shape]


class _NodalGrid(AbstractGrid):
    shape: tuple[int, ...] = eqx.field(static=True)
    length: float = eqx.field(static=True)

    def __init__(self, n: int | Sequence[int], length: float = 1.0, dim: int | None = None):
        self.shape = _shape(n, dim)
        self.length = float(length)

    @property
    def spacing(self) -> float:
        return self.length / (self.shape[0] - 1)

    def coords(self) -> list[Array]:
        return [axis_coordinates(n, self.length, "nodal") for n in self.shape]

    def _second_difference_eigenvalues(self, modes: list[Array]) -> Array:
        total = 0.0
        for axis, (k, n) in enumerate(zip(modes, self.shape, strict=True)):
            h = self.length / (n - 1)
            shape = [1] * self.dim
            shape[axis] = len(k)
            eig = -(4 / h**2) * jnp.sin(jnp.pi * k / (2 * (n - 1))) ** 2
            total = total + eig.reshape(shape)
        return total


class DirichletGrid(_NodalGrid):
    """Nodal grid on [0, `length`]^d, boundary nodes included and held at zero;
    second-order finite differences."""

    kind = "nodal"

    def to_spectral(self, u: Array) -> Array:
        interior = u[(slice(None),) + (slice(1, -1),) * self.dim]
        return dst1(interior, self.axes)

    def from_spectral(self, u_hat: Array) -> Array:
        return jnp.pad(idst1(u_hat, self.axes), [(0, 0)] + [(1, 1)] * self.dim)

    def laplacian(self) -> Array:
        return self._second_difference_eigenvalues([jnp.arange(1, n - 1) for n in self.shape])

    def gradient(self, u: Array, axis: int) -> Array:
        # Zero padding beyond the boundary: at the boundary nodes (where u = 0 is imposed)
        # the result is a one-sided value that the solver never uses.
        pad = [(0, 0)] * u.ndim
        pad[axis + 1] = (1, 1)
        return _central_difference(jnp.pad(u, pad), axis + 1, self.length / (self.shape[axis] - 1))


class NeumannGrid(_NodalGrid):
    """Nodal grid on [0, `length`]^d, boundary nodes included, zero normal derivative
    (ghost-point reflection u_{−1} = u_1); second-order finite differences."""

    kind = "nodal"

    def to_spectral(self, u: Array) -> Array:
        return dct1(u, self.axes)

    def from_spectral(self, u_hat: Array) -> Array:
        return idct1(u_hat, self.axes)

    def laplacian(self) -> Array:
        return self._second_difference_eigenvalues([jnp.arange(n) for n in self.shape])

    def gradient(self, u: Array, axis: int) -> Array:
        ax = axis + 1
        n = u.shape[ax]
        # Ghost nodes by reflection (u_{-1} = u_1, u_n = u_{n-2}): zero derivative at the ends.
        ghosts = (lax.slice_in_dim(u, 1, 2, axis=ax), lax.slice_in_dim(u, n - 2, n - 1, axis=ax))
        padded = jnp.concatenate([ghosts[0], u, ghosts[1]], axis=ax)
        return _central_difference(padded, ax, self.length / (self.shape[axis] - 1))


def _central_difference(padded: Array, axis: int, h: float) -> Array:
    """(u_{i+1} − u_{i−1}) / 2h for the points of `padded` without its first and last."""
    n = padded.shape[axis]
    forward = lax.slice_in_dim(padded, 2, n, axis=axis)
    backward = lax.slice_in_dim(padded, 0, n - 2, axis=axis)
    return (forward - backward) / (2 * h)


BOUNDARY_CONDITIONS = {"periodic": PeriodicGrid, "dirichlet": DirichletGrid, "neumann": NeumannGrid}


def make_grid(
    n: int | Sequence[int], length: float, bc: str, dim: int | None = None
) -> AbstractGrid:
    """The grid for a boundary condition: `"periodic"`, `"dirichlet"` or `"neumann"`."""
    if bc not in BOUNDARY_CONDITIONS:
        raise ValueError(f"bc must be one of {sorted(BOUNDARY_CONDITIONS)}, got {bc!r}")
    return BOUNDARY_CONDITIONS[bc](n, length, dim)
