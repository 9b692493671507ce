"""Preconditioned conjugate gradients for the symmetric positive-definite systems of
discretised elliptic PDEs, matrix-free, vmappable, differentiable by implicit differentiation.

Hestenes & Stiefel (1952); the preconditioned form of Saad, "Iterative Methods for Sparse
Linear Systems" (2003), Algorithm 9.1. Stops when ‖r‖₂ ≤ max(rtol ‖b‖₂, atol) for the
recursively updated residual r.

Why not `lineax.CG`: its breakdown test `|pᵀAp| > 100·eps·N·|γ|` flags a false breakdown on
PDE systems whose preconditioned Rayleigh quotient is O(h²) (a Darcy problem at 65² in float32
returns NaN after one step), and its pointwise stopping rule stalls at the float32 residual
floor. This solver has neither problem; its gradients come from `jax.lax.custom_linear_solve`
(one adjoint solve per cotangent, no differentiation through the iterations).
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array


class CGResult(NamedTuple):
    """Solution, number of iterations, and whether the tolerance was met."""

    value: Array
    steps: Array
    converged: Array


def default_rtol(dtype) -> float:
    """A relative residual tolerance reachable in the given precision."""
    return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-6


def pcg(
    matvec: Callable[[Array], Array],
    b: Array,
    *,
    precondition: Callable[[Array], Array] | None = None,
    x0: Array | None = None,
    rtol: float | None = None,
    atol: float = 0.0,
    max_steps: int = 10_000,
) -> CGResult:
    """Solve `A x = b` for symmetric positive-definite `A` given as `matvec`.

    **Arguments:**

    - `matvec`: `x ↦ A x` on arrays shaped like `b`.
    - `b`: right-hand side, any shape.
    - `precondition`: `r ↦ M⁻¹ r` for an SPD preconditioner `M` (default: none).
    - `x0`: initial guess (default zeros).
    - `rtol`, `atol`: stop when ‖r‖₂ ≤ max(rtol ‖b‖₂, atol); `rtol` defaults by dtype.
    - `max_steps`: iteration cap.

    **Returns:** a `CGResult(value, steps, converged)`. Not differentiable through the loop;
    use `spd_solve` for gradients.
    """
    precondition = (lambda r: r) if precondition is None else precondition
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    x = jnp.zeros_like(b) if x0 is None else x0
    r = b - matvec(x) if x0 is not None else b
    tol2 = jnp.maximum(rtol * jnp.linalg.norm(b.ravel()), atol) ** 2

    def dot(u, v):
        return jnp.vdot(u.ravel(), v.ravel()).real

    def cond(state):
        _, r, _, _, rr, step = state
        return (rr > tol2) & (step < max_steps)

    # The preconditioner is applied at the top of the body only (γ = ∞, p = 0 make the first
    # pass the initial step), so a costly one such as a V-cycle is compiled once, not twice.
    def body(state):
        x, r, p, gamma, _, step = state
        z = precondition(r)
        gamma_new = dot(r, z)
        p = z + (gamma_new / gamma) * p
        q = matvec(p)
        alpha = gamma_new / dot(p, q)
        x = x + alpha * p
        r = r - alpha * q
        return x, r, p, gamma_new, dot(r, r), step + 1

    rr = dot(r, r)
    init = (x, r, jnp.zeros_like(b), jnp.full_like(rr, jnp.inf), rr, jnp.asarray(0))
    x, _, _, _, rr, steps = lax.while_loop(cond, body, init)
    return CGResult(x, steps, rr <= tol2)


def spd_solve(
    matvec: Callable[[Array], Array],
    b: Array,
    *,
    precondition: Callable[[Array], Array] | None = None,
    rtol: float | None = None,
    atol: float = 0.0,
    max_steps: int = 10_000,
    what: str = "linear solve",
) -> Array:
    """`pcg` with implicit-function gradients (w.r.t. `b` and anything `matvec` closes over).

    Raises (at run time, also under `jit`) if the tolerance is not met within `max_steps`.
    """

    def solve(mv, rhs):
        result = pcg(mv, rhs, precondition=precondition, rtol=rtol, atol=atol, max_steps=max_steps)
        return eqx.error_if(
            result.value,
            ~result.converged,
            f"{what}: conjugate gradients did not reach the tolerance in {max_steps} steps; "
            "raise max_steps or loosen rtol (float32 reaches about 1e-6)",
        )

    return lax.custom_linear_solve(matvec, b, solve, symmetric=True)
