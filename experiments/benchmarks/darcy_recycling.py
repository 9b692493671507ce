"""Sorting Krylov Recycling (Wang et al., ICLR 2024) for Darcy data generation: iterations and
wall time of a sequence of FNO-paper Darcy solves, recycled against independent solves with
the same solver, preconditioner and tolerance (float32, rtol 1e-6), and against the default
generation path (independent multigrid-PCG solves, vmapped over the batch).

    python -m experiments.benchmarks darcy_recycling
"""

import jax
import numpy as np

from jaxops.pde import DarcyFlow
from jaxops.pde.elliptic import solve_darcy
from jaxops.pde.elliptic.recycling import solve_darcy_sequence

from ._timing import interleaved, machine

SIZES = {128: 32, 421: 8}  # grid nodes per axis → samples in the sequence
REPEATS = 3
SETTINGS = {  # label → (preconditioner, solve_darcy_sequence options)
    "Jacobi, independent": ("jacobi", dict(recycle=0, sort=False)),
    "Jacobi, SKR k=16": ("jacobi", dict(recycle=16, stored=32)),
    "Jacobi, recycled unsorted k=16": ("jacobi", dict(recycle=16, stored=32, sort=False)),
    "multigrid, independent": ("multigrid", dict(recycle=0, sort=False)),
    "multigrid, SKR k=4": ("multigrid", dict(recycle=4, stored=8)),
}


def compare(n: int, count: int, batched) -> None:
    """Print one table: every setting of `SETTINGS` on `count` samples at n² nodes."""
    problem = DarcyFlow(n=n)
    a = jax.vmap(problem.coefficient)(jax.random.split(jax.random.key(0), count))
    runs = {
        label: (lambda p=p, options=options: solve_darcy_sequence(a, preconditioner=p, **options))
        for label, (p, options) in SETTINGS.items()
    }
    results = {label: run() for label, run in runs.items()}
    steps = {label: np.asarray(r.steps)[r.order] for label, r in results.items()}  # solve order
    contenders = {label: (lambda run=run: run().value) for label, run in runs.items()}
    contenders["multigrid, vmapped batch (default)"] = lambda: batched(a)
    seconds = interleaved(contenders, REPEATS)
    print(f"\n  {n}² grid, {count} samples")
    header = f"{'CG steps (mean, 2nd half)':>26} {'ms/sample':>10} {'vs independent':>15}"
    print(f"    {'solver':36} {header}")
    for label, s in seconds.items():
        independent = f"{label.split(',')[0]}, independent"
        text = "-"
        if label in steps:
            text = f"{steps[label].mean():.0f} ({steps[label][count // 2 :].mean():.0f})"
        print(
            f"    {label:36} {text:>26} {s / count * 1e3:10.1f} {seconds[independent] / s:14.2f}x"
        )


def main() -> None:
    print(f"\nDarcy sequences with Krylov recycling (float32, rtol 1e-6) — {machine()}")
    batched = jax.jit(jax.vmap(solve_darcy))
    for n, count in SIZES.items():
        compare(n, count, batched)
    print(
        "\n(steps: mean over the sequence and over its second half, once the recycled space has "
        f"built up; times: median of {REPEATS} interleaved repeats; x > 1: faster than "
        "independent solves with the same preconditioner)"
    )


if __name__ == "__main__":
    main()
