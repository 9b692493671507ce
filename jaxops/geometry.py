"""Uniform grids on a box: grid kinds, point coordinates, quadrature weights, wavenumbers.

A leaf module (numpy and jax only) shared by `layers/`, `pde/` and the packages above them,
so that none of the low-level packages imports another for a grid formula. Two kinds of
uniform grid with `n` points per axis on a side of length `L`:

- `"periodic"`: `x_i = i L/n`, `i = 0..n−1`, on `[0, L)`; quadrature weight `L/n` per axis
  (exact for trigonometric polynomials of degree < n); real-FFT (`rfftn`) wavenumbers.
- `"nodal"`: `x_i = i L/(n − 1)`, `i = 0..n−1`, both boundary nodes included; trapezoid
  weights (`h/2` at the two end nodes, `h = L/(n − 1)`).

`pde.grids` builds its grid classes on these; `layers.constraints` integrates and projects
with them; `layers.pointwise.grid_coordinates` embeds the unit-box coordinates.
"""

from collections.abc import Sequence
from typing import Literal

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

GridKind = Literal["nodal", "periodic"]
GRID_KINDS = ("periodic", "nodal")


def check_grid_kind(kind: str, name: str = "grid") -> None:
    """Raise a `ValueError` naming `name` unless `kind` is `"nodal"` or `"periodic"`."""
    if kind not in GRID_KINDS:
        raise ValueError(f"{name} must be one of 'nodal' or 'periodic', got {kind!r}")


def axis_coordinates(n: int, length: float = 1.0, kind: GridKind = "periodic", dtype=None) -> Array:
    """The `n` coordinates `(n,)` of one axis of side `length`: `i L/n` (`"periodic"`) or
    `i L/(n − 1)` (`"nodal"`, `linspace(0, L, n)`)."""
    check_grid_kind(kind)
    if kind == "nodal":
        return jnp.linspace(0.0, length, n, dtype=dtype)
    return jnp.arange(n, dtype=dtype) * length / n


def quadrature_weights(
    spatial: tuple[int, ...], length: float = 1.0, grid: GridKind = "periodic"
) -> np.ndarray:
    """Weights `w` of `∫ u dx ≈ Σ_x w(x) u(x)` on a uniform grid of `spatial` points with side
    `length`: `"periodic"` (`x_i = i L/n`, `w = L/n` per axis, exact for trigonometric
    polynomials) or `"nodal"` (`x_i = i L/(n − 1)`, trapezoid rule). Returns `spatial`-shaped
    float64 numpy weights (a constant of the traced program)."""
    check_grid_kind(grid)
    if not length > 0:
        raise ValueError(f"length (the domain side) must be positive, got {length!r}")
    if grid == "nodal" and min(spatial) < 2:
        raise ValueError(f"a nodal grid needs at least 2 points per axis, got {spatial}")
    weights = np.ones((), np.float64)
    for n in spatial:
        if grid == "periodic":
            axis = np.full(n, length / n)
        else:
            axis = np.full(n, length / (n - 1))
            axis[[0, -1]] *= 0.5
        weights = np.multiply.outer(weights, axis)
    return weights


def periodic_wavenumbers(shape: Sequence[int], length: float) -> list[Array]:
    """Angular wavenumbers `2πm/L` of the `rfftn` layout of a periodic grid of `shape` points
    with side `length`: one array per axis, shaped to broadcast against the `d`-D spectrum
    (`(n_a,)` on axis `a`, `n_d//2 + 1` on the last axis, ones elsewhere)."""
    dim = len(shape)
    out = []
    for axis, n in enumerate(shape):
        last = axis == dim - 1
        m = jnp.fft.rfftfreq(n, 1.0 / n) if last else jnp.fft.fftfreq(n, 1.0 / n)
        axis_shape = [1] * dim
        axis_shape[axis] = len(m)
        out.append((2 * jnp.pi / length * m).reshape(axis_shape))
    return out


def periodic_derivative_symbol(
    shape: Sequence[int], length: float, axis: int, order: int = 1
) -> Array:
    """`(i k_axis)^order` of `periodic_wavenumbers`, broadcastable to the `rfftn` spectrum;
    odd orders zero the Nyquist mode of an even axis (its derivative is not representable as
    a real field)."""
    k = periodic_wavenumbers(shape, length)[axis]
    n = shape[axis]
    if order % 2 and n % 2 == 0:
        k = jnp.where(jnp.isclose(jnp.abs(k), jnp.pi * n / length), 0.0, k)
    return (1j * k) ** order
