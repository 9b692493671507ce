"""Darcy data generation: jaxops (float32 CG, vmapped over samples) against scipy's sparse
direct solver (`spsolve`, per sample, assembly included) on the same five-point
discretisation. Prints samples per second, the ratio, and the agreement of the solutions.

    python -m experiments.benchmarks darcy_solver
"""

import jax
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from jaxops.pde import DarcyFlow, solve_darcy

from ._timing import interleaved, machine

SIZES = (64, 128, 256)
BATCH = 8
REPEATS = 3


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
        f"{'grid':>8} {'jaxops CG (vmap)':>18} {'scipy spsolve':>15} {'speed-up':>9} "
        f"{'max rel diff':>13}"
    )
    solve = jax.jit(jax.vmap(solve_darcy))
    for n in SIZES:
        problem = DarcyFlow(n=n)
        keys = jax.random.split(jax.random.key(0), BATCH)
        a = jax.vmap(problem.coefficient)(keys)
        a_np = np.asarray(a, np.float64)
        seconds = interleaved(
            {
                "jaxops": lambda a=a: solve(a),
                "scipy": lambda a_np=a_np: [scipy_solve(x) for x in a_np],
            },
            REPEATS,
        )
        references = [scipy_solve(x) for x in a_np]
        diff = max(
            np.abs(np.asarray(u) - ref).max() / np.abs(ref).max()
            for u, ref in zip(solve(a), references, strict=True)
        )
        rate = {k: BATCH / v for k, v in seconds.items()}
        print(
            f"{n:>5}²   {rate['jaxops']:>11.1f} smp/s {rate['scipy']:>9.1f} smp/s "
            f"{rate['jaxops'] / rate['scipy']:>8.2f}x {diff:>13.1e}"
        )
    print(
        f"(batches of {BATCH} samples, median of {REPEATS} interleaved repeats; "
        "jaxops in float32, scipy in float64)"
    )


if __name__ == "__main__":
    main()
