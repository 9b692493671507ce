"""Regularisers R(x) of one field `(C, *grid)` (or `(*grid)`, one channel): Tikhonov of order
0 and 1, smoothed isotropic total variation, and RED, a learned prior built from a trained
denoiser. Each is a module `R(x) -> scalar`, differentiable in x.

Discretisation (`grid="nodal"`: n nodes on [0, L], spacing h = L/(n−1), boundary included;
`"periodic"`: n points on [0, L), h = L/n, wrapping around). Gradients are one-sided
differences on the cells of the grid ((n−1)^d nodal, n^d periodic), taken at two opposite
corners of each cell: g⁻ from the lowest corner (forward differences x(c + e_a) − x(c)) and
g⁺ into the highest corner (x(c + 1) − x(c + 1 − e_a)), divided by h. Each cell has weight
h^d and the two corners count one half each. Then

- `Tikhonov(order=0)`: ½‖x − x_ref‖²_{L²}, trapezoid weights (nodal) or h^d (periodic);
- `Tikhonov(order=1)`: ½|x − x_ref|²_{H¹} = ½ Σ_cells h^d ½(|g⁻|² + |g⁺|²), which is exactly
  the 5-point finite-difference Dirichlet energy Σ_edges w (Δx/h)², every edge weighted by
  h along it and the trapezoid rule across it (Tikhonov & Arsenin 1977);
- `TotalVariation`: Σ_cells h^d ½(√(|g⁻|² + ε²) + √(|g⁺|² + ε²)) (Rudin, Osher & Fatemi,
  Physica D 1992, smoothed by ε). A step of height J across a straight grid line has TV
  J × (length of the line), exactly as ε → 0. Using both corners keeps every node, the far
  corner included, and the checkerboard out of the null space (a cell average of forward
  differences or central differences would not see it).
- `RED`: regularisation by denoising (Romano, Elad & Milanfar, SIAM J. Imaging Sci. 2017),
  R(x) = ½ (V/N) xᵀ(x − D(x)) with D a trained denoiser (a model `(C, *grid) → (C, *grid)`),
  V = L^d the volume and N the grid points. Its gradient is taken to be RED's
  (V/N)(x − D(x)), the paper's formula, which is exact for a denoiser with a symmetric
  Jacobian that is homogeneous of degree one; `exact_gradient=True` differentiates the value
  instead (through the network). Reehorst & Schniter (IEEE TCI 2019) show real denoisers break
  those conditions: RED's step is then a fixed-point iteration for x = D(x) balanced by the
  data, not a gradient of the value.

Quadrature weights are `layers.quadrature_weights` (the ones the conservation projections
use); `pde.grids` offers central differences only (checkerboard-blind), hence the corners.
"""

import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..layers.constraints import quadrature_weights

Grid = Literal["nodal", "periodic"]
GRIDS = ("nodal", "periodic")


def _check_grid(grid: str, length: float, dim: int) -> None:
    if grid not in GRIDS:
        raise ValueError(f"grid must be 'nodal' or 'periodic', got {grid!r}")
    if not length > 0:
        raise ValueError(f"length must be positive, got {length!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim (number of spatial axes) must be a positive int, got {dim!r}")


def as_channels(x: Array, dim: int, what: str = "regularizer") -> Array:
    """`x` as `(C, *grid)`: a field `(*grid)` of `dim` axes gets one channel axis."""
    if x.ndim == dim:
        x = x[None]
    if x.ndim != dim + 1:
        raise ValueError(
            f"{what} expects one field (C, *grid) or (*grid) with {dim} spatial axes, got "
            f"shape {x.shape}; set dim= to the number of spatial axes and vmap over samples"
        )
    if min(x.shape[1:]) < 2:
        raise ValueError(f"{what} needs at least 2 points per axis, got grid {x.shape[1:]}")
    return x


def spacings(shape: tuple[int, ...], length: float, grid: Grid) -> tuple[float, ...]:
    """Point spacing of each axis: L/(n−1) on nodal grids, L/n on periodic ones."""
    return tuple(length / (n - 1 if grid == "nodal" else n) for n in shape)


def corner_gradients(x: Float[Array, " C *grid"], length: float, grid: Grid) -> tuple[Array, Array]:
    """One-sided gradients on the cells (see the module docstring): `(g⁻, g⁺)`, each
    `(C, d, *cells)`."""
    shape = x.shape[1:]
    dim = len(shape)

    def at(offsets: tuple[int, ...]) -> Array:  # x at cell corner c + offsets, for every cell c
        if grid == "periodic":
            return jnp.roll(x, [-o for o in offsets], axis=tuple(range(1, dim + 1)))
        cells = tuple(slice(o, o + n - 1) for o, n in zip(offsets, shape, strict=True))
        return x[(slice(None), *cells)]

    h = spacings(shape, length, grid)
    base, top = (0,) * dim, (1,) * dim
    step = lambda a: tuple(int(b == a) for b in range(dim))  # e_a
    lower = jnp.stack([(at(step(a)) - at(base)) / h[a] for a in range(dim)])
    upper = jnp.stack([(at(top) - at(tuple(1 - e for e in step(a)))) / h[a] for a in range(dim)])
    return jnp.moveaxis(lower, 0, 1), jnp.moveaxis(upper, 0, 1)


def cell_volume(shape: tuple[int, ...], length: float, grid: Grid) -> float:
    """h^d: the weight of one cell."""
    return math.prod(spacings(shape, length, grid))


class Tikhonov(eqx.Module):
    """½‖x − x_ref‖²_{L²} (`order=0`) or ½|x − x_ref|²_{H¹} (`order=1`, the seminorm).

    **Arguments:** `order` (0 or 1); `reference` (x_ref: a float or an array shaped like x,
    default 0); `grid` (`"nodal"` or `"periodic"`); `length` (domain side L); `dim` (spatial
    axes, default 2).
    """

    order: int = eqx.field(static=True, default=0)
    reference: float | Array = 0.0
    grid: Grid = eqx.field(static=True, default="nodal")
    length: float = eqx.field(static=True, default=1.0)
    dim: int = eqx.field(static=True, default=2)

    def __check_init__(self):
        if self.order not in (0, 1):
            raise ValueError(
                f"Tikhonov order must be 0 (L²) or 1 (H¹ seminorm), got {self.order!r}"
            )
        _check_grid(self.grid, self.length, self.dim)

    def __call__(self, x: Array) -> Array:
        x = as_channels(x, self.dim, "Tikhonov") - self.reference
        if self.order == 0:
            weights = jnp.asarray(quadrature_weights(x.shape[1:], self.length, self.grid), x.dtype)
            return 0.5 * jnp.sum(weights * x**2)
        lower, upper = corner_gradients(x, self.length, self.grid)
        w = cell_volume(x.shape[1:], self.length, self.grid)
        return 0.25 * w * (jnp.sum(lower**2) + jnp.sum(upper**2))


class TotalVariation(eqx.Module):
    """Smoothed isotropic total variation Σ_cells h^d ½(√(|g⁻|² + ε²) + √(|g⁺|² + ε²)),
    summed over channels.

    **Arguments:** `eps` (ε > 0, in units of x per unit length; default 1e-2); `grid`;
    `length`; `dim` (as `Tikhonov`).
    """

    eps: float = eqx.field(static=True, default=1e-2)
    grid: Grid = eqx.field(static=True, default="nodal")
    length: float = eqx.field(static=True, default=1.0)
    dim: int = eqx.field(static=True, default=2)

    def __check_init__(self):
        if not self.eps > 0:
            raise ValueError(f"eps must be positive (it smooths |∇x| at 0), got {self.eps!r}")
        _check_grid(self.grid, self.length, self.dim)

    def __call__(self, x: Array) -> Array:
        x = as_channels(x, self.dim, "TotalVariation")
        lower, upper = corner_gradients(x, self.length, self.grid)
        norm = lambda g: jnp.sqrt(jnp.sum(g**2, axis=1) + self.eps**2)
        w = cell_volume(x.shape[1:], self.length, self.grid)
        return 0.5 * w * (jnp.sum(norm(lower)) + jnp.sum(norm(upper)))


class RED(eqx.Module):
    """Regularisation by denoising: R(x) = ½ (V/N) xᵀ(x − D(x)), gradient (V/N)(x − D(x)).

    **Arguments:** `denoiser` (a trained model `(C, *grid) → (C, *grid)`, e.g. an FNO fitted
    by `train.fit` on (noisy, clean) pairs; it is not trained further); `length` (L, for the
    volume V = L^d); `dim` (spatial axes); `exact_gradient` (False: RED's gradient
    x − D(x); True: autodiff of the value, through the denoiser).
    """

    denoiser: Callable[[Array], Array]
    length: float = eqx.field(static=True, default=1.0)
    dim: int = eqx.field(static=True, default=2)
    exact_gradient: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        _check_grid("nodal", self.length, self.dim)

    def residual(self, x: Array) -> Array:
        """x − D(x) on `(C, *grid)`."""
        denoised = self.denoiser(x)
        if denoised.shape != x.shape:
            raise ValueError(
                f"the RED denoiser must map a field to one of the same shape, got {x.shape} → "
                f"{denoised.shape}"
            )
        return x - denoised

    def __call__(self, x: Array) -> Array:
        x = as_channels(x, self.dim, "RED")
        scale = self.length**self.dim / math.prod(x.shape[1:])
        if self.exact_gradient:
            return 0.5 * scale * jnp.vdot(x, self.residual(x))
        r = jax.lax.stop_gradient(self.residual(x))
        value = 0.5 * scale * jnp.vdot(x, r)
        # The value of R, and RED's gradient scale·(x − D(x)) (first-order derivatives only).
        return jax.lax.stop_gradient(value) + scale * jnp.vdot(x - jax.lax.stop_gradient(x), r)
