"""Krylov recycling for sequences of related SPD systems: Sorting Krylov Recycling (SKR).

Wang et al., "Accelerating Data Generation for Neural Operators via Krylov Subspace Recycling",
ICLR 2024: order the systems so that consecutive ones are similar, then carry a small subspace
from each solve to the next, so the slowly converging (small-eigenvalue) directions are not
rediscovered every time. SKR recycles with GCRO-DR; our systems are SPD, so we use its
symmetric counterpart, deflated preconditioned CG with Ritz-vector recycling (Saad, Yeung,
Erhel & Guyomarc'h, "A deflated version of the conjugate gradient algorithm", SIAM J. Sci.
Comput. 21 (2000); Parks, de Sturler et al., "Recycling Krylov subspaces for sequences of
linear systems", SIAM J. Sci. Comput. 28 (2006), §2 and §5).

- **Order** (`similarity_order`): a greedy nearest-neighbour path through the coefficient
  fields (Euclidean distance, on a subsampled copy for large grids), starting at sample 0.
- **Deflated PCG** (`deflated_pcg`) with a k-dimensional space W: the start is corrected so
  that Wᵀr₀ = 0 and every search direction is made A-orthogonal to W,
  p ← z + βp − W E⁻¹(AW)ᵀz with E = WᵀAW, so CG only works on the complement of W.
- **Recycling** (`ritz_update`): after a solve, the new W spans the k Ritz vectors of the
  preconditioned operator M⁻¹A with the smallest Ritz values on span[W, p₀ … p_{s−1}] (the
  first s search directions), by Rayleigh–Ritz in the A inner product, where M⁻¹A is
  self-adjoint, so M itself is never needed (a V-cycle only gives M⁻¹). M⁻¹A p comes free
  from the residual recurrence, A W from the deflation; only M⁻¹A W costs k applications of
  M⁻¹. Each system applies its own A to W; optionally it starts from the previous solution.

Costs per iteration: one A and one M⁻¹ application as in PCG, plus 2k inner products and
axpys for the projection; per system, k extra applications of A and an O((k+s)³) dense
eigenproblem. Whether this pays off depends on how much the preconditioner leaves to do:
`experiments/benchmarks/darcy_recycling.py` measures it.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, ScalarLike

from .darcy import (
    FaceAverage,
    Preconditioner,
    check_darcy_inputs,
    darcy_system,
    default_max_steps,
)
from .krylov import default_rtol

__all__ = [
    "SequenceResult",
    "deflated_pcg",
    "ritz_update",
    "similarity_order",
    "solve_darcy_sequence",
]


def similarity_order(features, max_features: int = 4096) -> np.ndarray:
    """A greedy nearest-neighbour ordering of `features` `(N, ...)` (e.g. coefficient fields),
    starting at sample 0: each next sample is the closest (Euclidean) not yet visited one.
    Fields with more than `max_features` values are compared on a strided subsample.
    Returns the permutation, an int array of shape `(N,)`."""
    x = np.asarray(features, np.float64)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"features must have shape (N, ...) with N >= 1, got {x.shape}")
    spatial = x.shape[1:]
    stride = max(1, int(np.ceil((np.prod(spatial) / max_features) ** (1 / len(spatial)))))
    x = x[(slice(None),) + (slice(None, None, stride),) * len(spatial)].reshape(x.shape[0], -1)
    squared = (x * x).sum(1)
    distance = squared[:, None] + squared[None, :] - 2 * x @ x.T
    order = [0]
    visited = np.zeros(len(x), bool)
    visited[0] = True
    for _ in range(len(x) - 1):
        row = np.where(visited, np.inf, distance[order[-1]])
        order.append(int(row.argmin()))
        visited[order[-1]] = True
    return np.asarray(order)


class DeflatedResult(NamedTuple):
    """Solution, iterations, convergence, and for `ritz_update`: A W `(k, *shape)` and the
    first s search directions p with A p and M⁻¹A p (`(s, *shape)` each; rows past `steps`
    are zero)."""

    value: Array
    steps: Array
    converged: Array
    aw: Array
    p: Array
    ap: Array
    m_ap: Array


def _dot(u, v):
    return jnp.vdot(u.ravel(), v.ravel()).real


def _gram(u, v):
    """Matrix of inner products ⟨u_i, v_j⟩ of two stacks of vectors."""
    size = math.prod(u.shape[1:])
    return u.reshape(len(u), size) @ v.reshape(len(v), size).T


def _combine(coefficients, vectors):
    """Σ_j c_j v_j (c `(j,)`) or, for a matrix c `(j, i)`, the stack of its columns' sums."""
    return jnp.tensordot(coefficients, vectors, axes=(0, 0))


def _apply(operator, vectors):
    """`operator` on each of a stack of vectors (also an empty stack)."""
    return jax.vmap(operator)(vectors) if len(vectors) else vectors


def deflated_pcg(
    matvec: Callable[[Array], Array],
    b: Array,
    w: Array,
    *,
    precondition: Callable[[Array], Array] | None = None,
    x0: Array | None = None,
    stored: int = 16,
    rtol: float | None = None,
    max_steps: int = 10_000,
) -> DeflatedResult:
    """PCG on `A x = b` deflated by the recycled space spanned by `w` `(k, *b.shape)`.

    **Arguments:** `matvec` (x ↦ A x, SPD), `b`, `w` (k ≥ 0 vectors; k = 0 is plain PCG),
    `precondition` (r ↦ M⁻¹ r, SPD; default none), `x0` (default zeros), `stored` (search
    directions kept for `ritz_update`), `rtol` (‖r‖₂ ≤ rtol ‖b‖₂, default by dtype),
    `max_steps`.
    """
    precondition = (lambda r: r) if precondition is None else precondition
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    aw = _apply(matvec, w)
    e_inverse = jnp.linalg.pinv(_gram(w, aw), hermitian=True) if len(w) else _gram(w, w)
    project = lambda v: _combine(e_inverse @ _gram(aw, v[None])[:, 0], w)  # W E⁻¹ (AW)ᵀ v

    def coarse_correction(x, r):
        """x + W E⁻¹Wᵀr, r − AW E⁻¹Wᵀr: the exact solve on span W, so that Wᵀr = 0."""
        c = e_inverse @ _gram(w, r[None])[:, 0]
        return x + _combine(c, w), r - _combine(c, aw)

    x = jnp.zeros_like(b) if x0 is None else x0
    x, r = coarse_correction(x, b - matvec(x) if x0 is not None else b)
    tol2 = (rtol * jnp.linalg.norm(b.ravel())) ** 2
    z = precondition(r)
    buffers = jnp.zeros((3, stored) + b.shape, b.dtype)

    def cond(state):
        step, rr = state[0], state[-1]
        return (rr > tol2) & (step < max_steps)

    def body(state):
        step, x, r, z, p, gamma, buffers, _ = state
        q = matvec(p)
        alpha = gamma / _dot(p, q)
        x, r = x + alpha * p, r - alpha * q
        # Wᵀr = 0 in exact arithmetic; in float32 it drifts and CG diverges without this.
        x, r = coarse_correction(x, r)
        z_new = precondition(r)
        m_q = (z - z_new) / alpha  # M⁻¹A p, from r_new = r − α A p: no extra application
        slot = jnp.minimum(step, stored - 1)
        updated = lax.dynamic_update_index_in_dim(buffers, jnp.stack([p, q, m_q]), slot, 1)
        buffers = jnp.where(step < stored, updated, buffers)
        gamma_new = _dot(r, z_new)
        p = z_new + (gamma_new / gamma) * p - project(z_new)
        return step + 1, x, r, z_new, p, gamma_new, buffers, _dot(r, r)

    state = (jnp.asarray(0), x, r, z, z - project(z), _dot(r, z), buffers, _dot(r, r))
    steps, x, *_, buffers, rr = lax.while_loop(cond, body, state)
    return DeflatedResult(x, steps, rr <= tol2, aw, *buffers)


def ritz_update(
    w: Array,
    result: DeflatedResult,
    precondition: Callable[[Array], Array] | None,
    k: int,
) -> Array:
    """The k Ritz vectors of M⁻¹A with the smallest Ritz values on span[W, p₀ … p_{s−1}]
    (Rayleigh–Ritz in the A inner product, in which M⁻¹A is self-adjoint: the pencil
    ((AZ)ᵀM⁻¹AZ, ZᵀAZ)), normalised: the space to recycle into the next system.
    `w` and `result` are the space and the `deflated_pcg` result of the system just solved,
    `precondition` its M⁻¹, applied to A W (k times); the rest comes from `result`."""
    precondition = (lambda r: r) if precondition is None else precondition
    aw = result.aw
    z = jnp.concatenate([w, result.p])
    az = jnp.concatenate([aw, result.ap])
    m_az = jnp.concatenate([_apply(precondition, aw), result.m_ap])
    valid = jnp.concatenate([jnp.ones(len(w), bool), jnp.arange(len(result.p)) < result.steps])
    f = _gram(z, az)
    g = _gram(az, m_az)
    # Scale to a unit F diagonal, whiten F (dropping directions it cannot resolve), and solve
    # an ordinary symmetric eigenproblem. Unused directions (past the end of a short solve)
    # and unresolvable ones get a Ritz value above all others, so they are never chosen.
    scale = jnp.sqrt(jnp.where(valid, jnp.abs(jnp.diag(f)), 1.0))
    both = jnp.outer(valid, valid)
    f = jnp.where(both, f / jnp.outer(scale, scale), 0.0)
    g = jnp.where(both, g / jnp.outer(scale, scale), 0.0)
    f = 0.5 * (f + f.T) + jnp.diag(~valid)
    g = 0.5 * (g + g.T)
    g = g + jnp.diag(jnp.where(valid, 0.0, 10.0 * jnp.abs(g).max() + 1.0))
    lam, q = jnp.linalg.eigh(f)
    usable = lam > jnp.finfo(f.dtype).eps ** 0.5 * lam.max()
    t = q * jnp.where(usable, 1.0 / jnp.sqrt(jnp.where(usable, lam, 1.0)), 0.0)
    c = t.T @ g @ t
    c = 0.5 * (c + c.T)
    c = c + jnp.diag(jnp.where(usable, 0.0, 10.0 * jnp.abs(c).max() + 1.0))
    _, v = jnp.linalg.eigh(c)  # ascending Ritz values
    y = jnp.where(valid[:, None], (t @ v[:, :k]) / scale[:, None], 0.0)
    new = _combine(y, z)
    norm = jnp.sqrt(jnp.maximum(jax.vmap(_dot)(new, new), jnp.finfo(f.dtype).tiny))
    return new / norm.reshape((k,) + (1,) * (new.ndim - 1))


class SequenceResult(NamedTuple):
    """Solutions `(N, n, n)` and CG iterations `(N,)`, both in the input order, and the order
    `(N,)` in which the systems were solved."""

    value: Array
    steps: Array
    order: np.ndarray


def solve_darcy_sequence(
    a: Float[ArrayLike, "N n n"],
    f: ScalarLike | Float[ArrayLike, " n n"] = 1.0,
    *,
    face: FaceAverage = "arithmetic",
    preconditioner: Preconditioner = "jacobi",
    recycle: int = 8,
    stored: int = 16,
    sort: bool = True,
    warm_start: bool = False,
    rtol: float | None = None,
    max_steps: int | None = None,
) -> SequenceResult:
    """Solve the Darcy problems of `solve_darcy` for N coefficient fields as one sequence, with
    Sorting Krylov Recycling: sorted by similarity (`sort`), each solve deflated by `recycle`
    Ritz vectors carried over from the previous ones (built from the first `stored` search
    directions of each solve) and, with `warm_start`, started from the previous solution
    (on FNO-paper coefficients that costs iterations: neighbours are not close enough).

    `recycle=0, sort=False, warm_start=False` is N independent PCG solves. Sequential by
    nature (a `lax.scan`), so not a `vmap` target; not differentiable (use `solve_darcy`).
    Raises if a solve does not reach `rtol` within `max_steps` (default 50 n).
    """
    a = jnp.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"a must be a stack of coefficient fields (N, n, n), got {a.shape}")
    check_darcy_inputs(a[0], face, preconditioner)
    if not isinstance(recycle, int) or recycle < 0:
        raise ValueError(f"recycle must be an int >= 0 (vectors), got {recycle!r}")
    if not isinstance(stored, int) or stored < max(recycle, 1):
        raise ValueError(f"stored must be an int >= max(recycle, 1), got {stored!r}")
    n = a.shape[1]
    order = similarity_order(a) if sort else np.arange(len(a))
    solve = _sequence_solver(
        face,
        preconditioner,
        recycle,
        stored,
        warm_start,
        rtol,
        default_max_steps(n, max_steps),
    )
    value, steps = solve(a[order], f)
    inverse = np.argsort(order)
    return SequenceResult(value[inverse], steps[inverse], order)


@functools.cache
def _sequence_solver(face, preconditioner, recycle, stored, warm_start, rtol, max_steps):
    def solve_one(space, x0, a, f):
        matvec, b, precondition = darcy_system(a, f, face, preconditioner)
        result = deflated_pcg(
            matvec,
            b,
            space,
            precondition=precondition,
            x0=x0 if warm_start else None,
            stored=stored,
            rtol=rtol,
            max_steps=max_steps,
        )
        value = eqx.error_if(
            result.value,
            ~result.converged,
            f"solve_darcy_sequence: conjugate gradients did not reach the tolerance in "
            f"{max_steps} steps; raise max_steps or loosen rtol",
        )
        space = ritz_update(space, result, precondition, recycle) if recycle else space
        return space, value, result.steps

    @jax.jit
    def run(a, f):
        b0 = jnp.zeros(a.shape[1:], a.dtype)[1:-1, 1:-1]
        empty = jnp.zeros((0,) + b0.shape, b0.dtype)
        space, first, first_steps = solve_one(empty, jnp.zeros_like(b0), a[0], f)

        def body(carry, a_i):
            space, x0 = carry
            space, value, steps = solve_one(space, x0, a_i, f)
            return (space, value), (value, steps)

        _, (values, steps) = lax.scan(body, (space, first), a[1:])
        values = jnp.concatenate([first[None], values])
        steps = jnp.concatenate([first_steps[None], steps])
        return jnp.pad(values, ((0, 0), (1, 1), (1, 1))), steps

    return run
