"""Darcy data generation: jaxops (float32 PCG, vmapped over samples; multigrid V-cycle and
Jacobi preconditioners) against scipy's sparse direct solver (`spsolve`, float64, per sample,
assembly included) on the same five-point discretisation, f = 1, FNO-paper coefficients.
Prints samples per second, the speed-up over scipy, the agreement of the solutions, and the
CG iteration counts of both preconditioners (float32, default tolerance 1e-6).

    python -m experiments.benchmarks darcy_solver
"""

import functools

import jax
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from jaxops.pde import DarcyFlow
from jaxops.pde.elliptic import darcy_pcg, solve_darcy

from ._timing import interleaved, machine

SIZES = {64: 16, 128: 8, 256: 4, 421: 4}  # grid nodes per axis → batch size
REPEATS = 3
PRECONDITIONERS = ("multigrid", "jacobi")


def scipy_solve(a: np.ndarray) -> np.ndarray:
    """Assemble the flux-form five-point matrix (arithmetic face means) and solve, f = 1."""
    n = a.shape[0]
    m = n - 2
    h2 = (1.0 / (n - 1)) ** 2
    ax = 0.5 * (a[1:, :] + a[:-1, :])  # (n-1, n) faces between x-neighbours
    ay = 0.5 * (a[:, 1:] + a[:, :-1])  # (n, n-1)
    east, west = ax[1:, 1:-1], ax[:-1, 1:-1]  # faces around interior nodes, (m, m)
    north, south = ay[1:-1, 1:], ay[1:-1, :-1]
    diagonal = (east + west + north + south).ravel() / h2
    off_x = -east[:-1, :].ravel() / h2  # coupling (i, j)–(i+1, j): stride m
    off_y = -north[:, :-1] / h2
    off_y = np.concatenate([off_y, np.zeros((m, 1))], axis=1).ravel()[:-1]  # stride 1
    matrix = sp.diags([diagonal, off_y, off_y, off_x, off_x], [0, 1, -1, m, -m], format="csc")
    u = np.zeros((n, n))
    u[1:-1, 1:-1] = spla.spsolve(matrix, np.ones(m * m)).reshape(m, m)
    return u


def main() -> None:
    print(f"\nDarcy flow solve, f = 1, FNO-paper coefficients — {machine()}")
    print(
        f"{'grid':>6} {'batch':>5} {'jaxops MG':>12} {'jaxops Jacobi':>14} {'scipy':>11} "
        f"{'MG/scipy':>9} {'MG/Jacobi':>10} {'max rel diff':>13} {'CG steps MG | Jacobi':>21}"
    )
    solvers = {
        p: jax.jit(jax.vmap(functools.partial(solve_darcy, preconditioner=p)))
        for p in PRECONDITIONERS
    }
    steps = {
        p: jax.jit(jax.vmap(lambda a, p=p: darcy_pcg(a, preconditioner=p).steps))
        for p in PRECONDITIONERS
    }
    for n, batch in SIZES.items():
        problem = DarcyFlow(n=n)
        keys = jax.random.split(jax.random.key(0), batch)
        a = jax.vmap(problem.coefficient)(keys)
        a_np = np.asarray(a, np.float64)
        counts = {p: np.asarray(steps[p](a[:2])) for p in PRECONDITIONERS}
        seconds = interleaved(
            {
                "multigrid": lambda a=a: solvers["multigrid"](a),
                "jacobi": lambda a=a: solvers["jacobi"](a),
                "scipy": lambda a_np=a_np: [scipy_solve(x) for x in a_np],
            },
            REPEATS,
        )
        references = [scipy_solve(x) for x in a_np[:2]]
        diff = max(
            np.abs(np.asarray(u) - ref).max() / np.abs(ref).max()
            for u, ref in zip(solvers["multigrid"](a)[:2], references, strict=True)
        )
        rate = {k: batch / v for k, v in seconds.items()}
        count = " | ".join("/".join(str(int(s)) for s in counts[p]) for p in PRECONDITIONERS)
        print(
            f"{n:>5}² {batch:>5} {rate['multigrid']:>6.1f} smp/s {rate['jacobi']:>8.1f} smp/s "
            f"{rate['scipy']:>5.1f} smp/s {rate['multigrid'] / rate['scipy']:>8.1f}x "
            f"{rate['multigrid'] / rate['jacobi']:>9.1f}x {diff:>13.1e} {count:>21}",
            flush=True,
        )
    print(
        f"(median of {REPEATS} interleaved repeats of one batch each; jaxops in float32 with "
        "rtol 1e-6, scipy in float64; diff and CG steps for the first two samples)"
    )


if __name__ == "__main__":
    main()
