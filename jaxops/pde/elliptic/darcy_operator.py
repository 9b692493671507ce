"""The discrete Darcy operator A u = −∇·(a ∇u) on the n×n nodal grid of [0, 1]², u = 0 on
the boundary: face coefficients, the matrix-free product and its diagonal.

Second-order finite differences in flux form on the nodes x_i = i/(n−1) (boundary included),

    (A u)_ij = −[a_{i+½,j}(u_{i+1,j} − u_ij) − a_{i−½,j}(u_ij − u_{i−1,j})
                + a_{i,j+½}(u_{i,j+1} − u_ij) − a_{i,j−½}(u_ij − u_{i,j−1})] / h²,

with face coefficients the arithmetic (default) or harmonic mean of the two nodes; A is
symmetric positive definite on the (n−2)² interior unknowns. The solver (`darcy.py`), its
multigrid preconditioner (`multigrid.py`, on every level) and the residual of a candidate
solution (`darcy_residual`, the physics loss of `train.physics`) all apply this one operator.
"""

from typing import Literal, NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, ScalarLike

FaceAverage = Literal["arithmetic", "harmonic"]
FACE_AVERAGES = ("arithmetic", "harmonic")


def face_coefficients(
    a: Float[ArrayLike, " n n"], face: FaceAverage = "arithmetic"
) -> tuple[Float[ArrayLike, " n-1 n"], Float[ArrayLike, " n n-1"]]:
    """Coefficients on the x-faces `(n−1, n)` and y-faces `(n, n−1)` between nodes."""
    if face == "arithmetic":
        mean = lambda p, q: 0.5 * (p + q)
    elif face == "harmonic":
        mean = lambda p, q: 2.0 * p * q / (p + q)
    else:
        raise ValueError(f"face must be 'arithmetic' or 'harmonic', got {face!r}")
    return mean(a[1:, :], a[:-1, :]), mean(a[:, 1:], a[:, :-1])


def darcy_apply(
    ax: ArrayLike, ay: ArrayLike, u_interior: Float[ArrayLike, " m m"], h: float
) -> Float[Array, " m m"]:
    """`A u` on the interior nodes, `u = 0` on the boundary, given face coefficients."""
    u = jnp.pad(u_interior, 1)
    flux_x = ax * (u[1:, :] - u[:-1, :])
    flux_y = ay * (u[:, 1:] - u[:, :-1])
    div = (flux_x[1:, 1:-1] - flux_x[:-1, 1:-1]) + (flux_y[1:-1, 1:] - flux_y[1:-1, :-1])
    return -div / h**2


def darcy_diagonal(ax: Array, ay: Array) -> Array:
    """The diagonal of `darcy_apply` on the interior nodes `(n−2, n−2)`, times h²."""
    return ax[1:, 1:-1] + ax[:-1, 1:-1] + ay[1:-1, 1:] + ay[1:-1, :-1]


class DarcyResidual(NamedTuple):
    """`interior`: `A u − f` on the `(n−2, n−2)` interior nodes; `boundary`: u on the
    `4(n−1)` boundary nodes (zero for a solution)."""

    interior: Array
    boundary: Array


def darcy_residual(
    a: Float[ArrayLike, "n n"],
    u: Float[ArrayLike, "n n"],
    f: ScalarLike | Float[ArrayLike, "n n"] = 1.0,
    *,
    face: FaceAverage = "arithmetic",
) -> DarcyResidual:
    """Residual of `−∇·(a ∇u) = f` on the n×n nodal grid of [0, 1]², `u = 0` on the boundary,
    in the discretisation of `pde.solve_darcy` (`darcy_apply`, the same face averages).

    **Arguments:** `a` (nodal coefficient, n ≥ 3); `u` (nodal solution candidate, same
    shape); `f` (a scalar or nodal array; boundary values unused); `face` as in `solve_darcy`.

    **Returns:** a `DarcyResidual`; `interior` is O(h²) for a smooth exact solution.
    """
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3 or u.shape != a.shape:
        raise ValueError(
            f"a and u must be the same n×n nodal grid with n >= 3, got {a.shape} and {u.shape}; "
            "pass one sample without its channel axis (a[0], u[0]) and vmap over batches"
        )
    n = a.shape[0]
    ax, ay = face_coefficients(a, face)
    f = jnp.broadcast_to(jnp.asarray(f, u.dtype), u.shape)
    interior = darcy_apply(ax, ay, u[1:-1, 1:-1], 1.0 / (n - 1)) - f[1:-1, 1:-1]
    boundary = jnp.concatenate([u[0, :-1], u[:-1, -1], u[-1, 1:], u[1:, 0]])
    return DarcyResidual(interior, boundary)
