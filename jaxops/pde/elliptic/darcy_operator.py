"""The discrete Darcy operator A u = −∇·(a ∇u) on the n×n nodal grid of [0, 1]², u = 0 on
the boundary: face coefficients, the matrix-free product and its diagonal.

Second-order finite differences in flux form on the nodes x_i = i/(n−1) (boundary included),

    (A u)_ij = −[a_{i+½,j}(u_{i+1,j} − u_ij) − a_{i−½,j}(u_ij − u_{i−1,j})
                + a_{i,j+½}(u_{i,j+1} − u_ij) − a_{i,j−½}(u_ij − u_{i,j−1})] / h²,

with face coefficients the arithmetic (default) or harmonic mean of the two nodes; A is
symmetric positive definite on the (n−2)² interior unknowns. The solver (`darcy.py`), its
multigrid preconditioner (`multigrid.py`, on every level) and the Darcy residual of
`train.physics` all apply this one operator.
"""

from typing import Literal

import jax.numpy as jnp
from jaxtyping import Array, Float

FaceAverage = Literal["arithmetic", "harmonic"]
FACE_AVERAGES = ("arithmetic", "harmonic")


def face_coefficients(
    a: Float[Array, " n n"], face: FaceAverage = "arithmetic"
) -> tuple[Float[Array, " n-1 n"], Float[Array, " n n-1"]]:
    """Coefficients on the x-faces `(n−1, n)` and y-faces `(n, n−1)` between nodes."""
    if face == "arithmetic":
        mean = lambda p, q: 0.5 * (p + q)
    elif face == "harmonic":
        mean = lambda p, q: 2.0 * p * q / (p + q)
    else:
        raise ValueError(f"face must be 'arithmetic' or 'harmonic', got {face!r}")
    return mean(a[1:, :], a[:-1, :]), mean(a[:, 1:], a[:, :-1])


def darcy_apply(
    ax: Array, ay: Array, u_interior: Float[Array, " m m"], h: float
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
