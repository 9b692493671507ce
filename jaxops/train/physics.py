"""Physics-informed losses: PDE residuals of a model's output (PINO), in the L² or H⁻¹ norm.

- `time_residual(equation, trajectory (T, C, *grid), dt)` → `(T−2, C, *grid)`: the residual
  `∂_t u − F(t, u)` of any `jaxops.pde` equation, with `∂_t` by second-order central
  differences between saved states and `F = equation.vector_field` (L u + N(u), pseudo-
  spectral and dealiased on periodic grids, forcing included). Burgers, Navier–Stokes, ...
- `darcy_residual(a (n, n), u (n, n), f)` → `DarcyResidual(interior (n−2, n−2), boundary
  (4(n−1),))`: `A u − f` of the finite-difference system `solve_darcy` solves (the interior
  values of u, boundary taken as 0), and the boundary values of u (which must vanish); it
  lives with the operator in `pde.elliptic` and is re-exported here.
- `residual_loss(r, norm)`: mean square (`"mse"`) or the squared H⁻¹ norm (`"h-1"`, via
  `losses.h_minus1_norm`, per unit volume so that both agree on constants), averaged over
  the leading (time × channel) slices.
- `darcy_loss`, `trajectory_loss`: the two composed (`darcy_physics`: the Darcy loss on
  one `(1, n, n)` sample; `problem_physics`: the loss of any problem that owns a
  `residual(input, output)`, as `pde.DarcyFlow` does); `train.fit(..., physics=...)` adds a
  `physics(input, prediction)` loss to (or, with `data_weight=0`, in place of) the data loss.
- `ZeroBoundary(model, scale)`: a model whose output is multiplied by `scale · Π sin(π x_i)`,
  so u = 0 holds exactly on the boundary of [0, 1]^d (the PINO code's Darcy "mollifier").

Li, Zheng, Kovachki, Jin, Chen, Liu, Azizzadenesheli, Anandkumar, "Physics-Informed Neural
Operator for Learning Partial Differential Equations", ACM/IMS J. Data Sci. 2024
(arXiv:2111.03794); the H⁻¹ residual: Cao, Brarda, Li, Xi, "Spectral-Refiner",
ICLR 2025 (`train.refiner`).
"""

import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..pde.elliptic.darcy_operator import DarcyResidual as DarcyResidual
from ..pde.elliptic.darcy_operator import FaceAverage
from ..pde.elliptic.darcy_operator import darcy_residual as darcy_residual
from ..pde.equations.base import AbstractEquation
from .losses import Lengths, axis_lengths, h_minus1_norm

Norm = Literal["mse", "h-1"]
NORMS = ("mse", "h-1")


def time_residual(
    equation: AbstractEquation,
    trajectory: Float[Array, "T C *grid"],
    dt: float,
    t0: float = 0.0,
) -> Float[Array, "T-2 C *grid"]:
    """`(u_{k+1} − u_{k−1}) / (2 dt) − F(t_k, u_k)` for `k = 1 … T−2`, where `u_k` is the state
    at `t_k = t0 + k dt` and `F = equation.vector_field`. O(dt²) on a smooth exact solution.

    **Arguments:** `equation` (a `jaxops.pde` equation); `trajectory` `(T, C, *grid)` with
    `T ≥ 3` equally spaced states; `dt` (their spacing, > 0); `t0` (time of `trajectory[0]`).

    **Returns:** the residual `(T−2, C, *grid)`, in the trajectory's dtype.
    """
    if trajectory.ndim < 3 or trajectory.shape[0] < 3:
        raise ValueError(
            f"trajectory must be (T, C, *grid) with T >= 3 states, got shape {trajectory.shape}; "
            "central differences in time need a state before and after each residual time"
        )
    equation.check_state(trajectory[0])
    if isinstance(dt, int | float) and not dt > 0:
        raise ValueError(f"dt must be positive (the spacing of the saved states), got {dt!r}")
    times = t0 + dt * jnp.arange(1, trajectory.shape[0] - 1, dtype=trajectory.dtype)
    rhs = jax.vmap(equation.vector_field)(times, trajectory[1:-1])
    return (trajectory[2:] - trajectory[:-2]) / (2 * dt) - rhs


def residual_loss(
    residual: ArrayLike,
    norm: Norm = "mse",
    lengths: Lengths = 1.0,
    *,
    spatial_ndim: int | None = None,
) -> Array:
    """Mean over the leading slices of `‖r‖² / V`: `"mse"` the mean square, `"h-1"` the
    squared periodic H⁻¹ norm (`losses.h_minus1_norm`; high wavenumbers weighted by
    1/(1 + |k|²)). Both give c² for a constant residual c.

    **Arguments:** `residual` `(..., *spatial)`; `norm`; `lengths` (domain side(s), for
    `"h-1"`); `spatial_ndim` (trailing spatial axes; default `residual.ndim − 1`).

    **Returns:** a scalar.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    spatial_ndim = residual.ndim - 1 if spatial_ndim is None else spatial_ndim
    if not 1 <= spatial_ndim <= residual.ndim:
        raise ValueError(f"spatial_ndim={spatial_ndim} does not fit shape {residual.shape}")
    if norm == "mse":
        return jnp.mean(residual**2)
    spatial = residual.shape[residual.ndim - spatial_ndim :]
    slices = residual.reshape(-1, *spatial)
    volume = math.prod(axis_lengths(lengths, spatial))
    return h_minus1_norm(slices, lengths) ** 2 / (volume * len(slices))


def darcy_loss(
    a: Float[Array, "n n"],
    u: Float[Array, "n n"],
    f: float | Float[Array, "n n"] = 1.0,
    *,
    norm: Norm = "mse",
    boundary_weight: float = 1.0,
    face: FaceAverage = "arithmetic",
) -> Array:
    """`dirichlet_residual_loss` of the Darcy residual (`darcy_residual`). Returns a scalar."""
    return dirichlet_residual_loss(darcy_residual(a, u, f, face=face), norm, boundary_weight)


def dirichlet_residual_loss(
    residual: Any, norm: Norm = "mse", boundary_weight: float = 1.0
) -> Array:
    """`residual_loss` of `residual.interior` (the `(n−2, n−2)` interior nodes of a nodal
    Dirichlet grid) + `boundary_weight` · mean of `residual.boundary`². For `"h-1"` the
    interior residual, zero on the boundary nodes, is read as a periodic field on the (n−1)²
    grid of [0, 1)². Returns a scalar."""
    interior = residual.interior
    if norm == "mse":  # the mean over the interior nodes only
        field = interior[None]
    else:  # (1, n−1, n−1), zero at x = 0, y = 0
        field = jnp.pad(interior, ((1, 0),) * interior.ndim)[None]
    return residual_loss(field, norm) + boundary_weight * jnp.mean(residual.boundary**2)


def darcy_physics(
    f: float | Float[Array, "n n"] = 1.0,
    *,
    norm: Norm = "mse",
    boundary_weight: float = 1.0,
    face: FaceAverage = "arithmetic",
) -> Callable[[Array, Array], Array]:
    """`darcy_loss` as `physics(a (1, n, n), u (1, n, n)) -> scalar`, the one-sample layout
    `train.fit(..., physics=...)` and `refine_last_spectral_layer` call it with."""
    kwargs = dict(norm=norm, boundary_weight=boundary_weight, face=face)
    return lambda a, u: darcy_loss(a[0], u[0], f, **kwargs)


def problem_physics(
    problem: Any, *, norm: Norm = "mse", boundary_weight: float = 1.0
) -> Callable[[Array, Array], Array]:
    """The physics loss of a dataset-generating problem that owns its residual: a problem with
    `residual(input (C_in, *grid), output (C_out, *grid))` returning `(interior, boundary)`
    (e.g. `pde.DarcyFlow`: its forcing and face average) gives `physics(input, prediction)
    -> scalar`, `dirichlet_residual_loss` of that residual. A `ValueError` names a problem
    without one."""
    residual = getattr(problem, "residual", None)
    if not callable(residual):
        raise ValueError(
            f"{type(problem).__name__} defines no residual(input, output) for a physics loss"
        )
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return lambda x, u: dirichlet_residual_loss(residual(x, u), norm, boundary_weight)


def trajectory_loss(
    equation: AbstractEquation, trajectory: Array, dt: float, norm: Norm = "mse", t0: float = 0.0
) -> Array:
    """`residual_loss` of `time_residual(equation, trajectory, dt, t0)` over the equation's
    domain (its `grid.length`). Returns a scalar."""
    residual = time_residual(equation, trajectory, dt, t0)
    return residual_loss(residual, norm, equation.grid.length, spatial_ndim=equation.grid.dim)


class ZeroBoundary(eqx.Module):
    """`scale · Π_i sin(π x_i) · model(x)` on the nodal grid `x_i = j/(n_i − 1)` of [0, 1]^d:
    the output vanishes on the boundary exactly, so a data-free Darcy loss needs no boundary
    penalty; `scale` sets the output's size (u ≈ 10⁻² for the FNO-paper Darcy data).

    **Arguments:** `model` (one sample `(C_in, *spatial)` → `(C_out, *spatial)`), `scale`.
    """

    model: Callable
    scale: float = eqx.field(static=True, default=1.0)

    def __call__(self, x: Float[Array, " C *spatial"]) -> Float[Array, " C_out *spatial"]:
        u = self.model(x)
        envelope = np.ones(())
        for n in u.shape[1:]:
            profile = np.sin(np.pi * np.arange(n) / (n - 1))
            profile[[0, -1]] = 0.0  # exactly, not sin(π) ≈ 1e-16
            envelope = envelope[..., None] * profile
        return self.scale * jnp.asarray(envelope, u.dtype) * u
