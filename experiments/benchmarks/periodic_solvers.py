"""Periodic solvers at equal accuracy: jaxops (ETDRK4 fixed step, Lawson-Tsit5 adaptive)
against exponax (ETDRK of order 2 and 4, fixed step) on 1D Burgers (n = 256), 1D
Kuramoto–Sivashinsky (n = 256) and 2D Navier–Stokes vorticity (64²), float32.

Both libraries solve the same semi-discrete problem (Fourier pseudo-spectral, 2/3 rule), so
both converge to one reference: jaxops ETDRK4 in float64 with a tiny step. For every
setting (step size, or tolerance for the adaptive solver) the script measures the error at
the final time (relative L2 against the reference) and the wall time of one compiled
solve (median of interleaved repeats after warm-up); the table shows, per library, the
fastest setting whose error is below the target. Needs exponax (`make bench` installs it in
its own environment); without it only the jaxops rows are printed.

    python -m experiments.benchmarks periodic_solvers
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxops.pde import Burgers, KuramotoSivashinsky, NavierStokes2D, simulate
from jaxops.pde.random_fields import fourier_series, periodic_grf

from ._timing import interleaved, machine

TARGET = 1e-4  # relative L2 error at the final time
REPEATS = 5

try:
    import exponax
except ImportError:  # optional peer
    exponax = None


def problems():
    """(name, jaxops equation factory, exponax stepper factory, u0, final time)."""
    key = jax.random.key(0)
    burgers_u0 = fourier_series(key, (256,), n_waves=3, max_wavenumber=3)[None]
    ks_length = 32 * math.pi
    ks_u0 = 0.5 * fourier_series(key, (256,), n_waves=4, max_wavenumber=4)[None]
    # The FNO-paper field scaled up so that convection, not viscous decay, dominates.
    ns_u0 = 10.0 * periodic_grf(key, (64, 64))[None]
    return [
        (
            "Burgers 1D, n=256, nu=0.01, T=1",
            lambda dtype: Burgers(256, nu=0.01),
            lambda dt, order: exponax.stepper.Burgers(
                1, 1.0, 256, dt, diffusivity=0.01, conservative=True, order=order
            ),
            burgers_u0,
            1.0,
        ),
        # T = 5: longer horizons measure chaotic growth of float32 round-off, not the solver.
        (
            "Kuramoto-Sivashinsky 1D, n=256, L=32pi, T=5",
            lambda dtype: KuramotoSivashinsky(256, ks_length),
            lambda dt, order: exponax.stepper.KuramotoSivashinskyConservative(
                1, ks_length, 256, dt, order=order
            ),
            ks_u0,
            5.0,
        ),
        # exponax solves Δψ = ω (clockwise vorticity); convection scale −1 gives our
        # −Δψ = ω, u = ∇^⊥ψ, i.e. the same equation.
        (
            "Navier-Stokes 2D vorticity, 64^2, nu=1e-3, unforced, T=1",
            lambda dtype: NavierStokes2D(64, nu=1e-3, forcing="none"),
            lambda dt, order: exponax.stepper.NavierStokesVorticity(
                2, 1.0, 64, dt, diffusivity=1e-3, vorticity_convection_scale=-1.0, order=order
            ),
            ns_u0,
            1.0,
        ),
    ]


def jaxops_solver(make_equation, u0, t_end, solver, **kwargs):
    equation = make_equation(u0.dtype)
    ts = np.array([0.0, t_end])
    return jax.jit(lambda u: simulate(equation, u, ts, solver=solver, **kwargs)[-1])


def exponax_solver(make_stepper, t_end, dt, order):
    steps = int(round(t_end / dt))
    stepper = make_stepper(t_end / steps, order)
    return jax.jit(exponax.repeat(stepper, steps))


def candidates(make_equation, make_stepper, u0, t_end):
    """{label: compiled function u0 -> u(T)} for every setting of every solver."""
    out = {}
    for steps in (4, 8, 16, 32, 64, 128, 256, 512, 1024):
        dt = t_end / steps
        out[("jaxops", f"ETDRK4 dt={dt:g}")] = jaxops_solver(
            make_equation, u0, t_end, "etdrk4", dt=dt
        )
        if exponax is not None:
            for order in (2, 4):
                out[("exponax", f"ETDRK{order} dt={dt:g}")] = exponax_solver(
                    make_stepper, t_end, dt, order
                )
    for rtol in (1e-3, 1e-4, 1e-5):
        out[("jaxops", f"Lawson-Tsit5 rtol={rtol:g}")] = jaxops_solver(
            make_equation, u0, t_end, "lawson", rtol=rtol, atol=rtol * 1e-2
        )
    return out


def main() -> None:
    print(
        f"\nPeriodic solvers at equal accuracy (rel. L2 error <= {TARGET:g}, float32) — {machine()}"
    )
    if exponax is None:
        print("  exponax is not installed: jaxops only (make bench installs the peer)")
    for name, make_equation, make_stepper, u0, t_end in problems():
        with jax.enable_x64(True):
            u0_64 = jnp.asarray(u0, jnp.float64)
            reference = np.asarray(
                jaxops_solver(make_equation, u0_64, t_end, "etdrk4", dt=t_end / 8000)(u0_64)
            )
        runs = candidates(make_equation, make_stepper, u0, t_end)
        errors = {
            label: float(
                np.linalg.norm(np.asarray(fn(u0), np.float64) - reference)
                / np.linalg.norm(reference)
            )
            for label, fn in runs.items()
        }
        passing = {label: fn for label, fn in runs.items() if errors[label] <= TARGET}
        seconds = (
            interleaved(
                {label: (lambda fn=fn, u0=u0: fn(u0)) for label, fn in passing.items()}, REPEATS
            )
            if passing
            else {}
        )
        print(f"\n  {name}")
        best = {}
        for (library, setting), s in sorted(seconds.items(), key=lambda kv: kv[1]):
            best.setdefault(library, ((library, setting), s))
        for label in sorted(runs, key=lambda lab: (lab[0], lab[1])):
            mark = ""
            if label in seconds:
                mark = f"{seconds[label] * 1e3:9.1f} ms"
                if best.get(label[0], (None,))[0] == label:
                    mark += "  <- fastest at target"
            print(f"    {label[0]:8} {label[1]:28} error {errors[label]:9.2e} {mark}")
        if "jaxops" in best and "exponax" in best:
            ratio = best["exponax"][1] / best["jaxops"][1]
            print(f"    => jaxops is {ratio:.2f}x the speed of exponax at equal accuracy")
        elif "jaxops" not in best:
            print("    => no jaxops setting reached the target")


if __name__ == "__main__":
    main()
