"""`simulate`: integrate an equation from an initial condition through diffrax.

Solvers, by name:

- `"etdrk4"` (the default with `dt`): fourth-order exponential time differencing, fixed step
  `dt`; the stiff linear part exactly (`solvers.ETDRK4`).
- `"lawson"` (the default without `dt`): adaptive integrating-factor Tsit5
  (`solvers.LawsonTsit5`) with a PID controller; the stiff linear part exactly.
- `"tsit5"`: diffrax's adaptive explicit Tsit5 with a PID controller (non-stiff problems).
- or any `diffrax.AbstractSolver` instance (with `dt` for fixed steps, else adaptive).

Fixed steps land exactly on the save times (the step grid is the union of `ts` and multiples
of `dt`); adaptive steps are clipped to them. Gradients flow by diffrax's recursive-
checkpoint adjoint, with respect to the initial condition and the equation's parameters.
"""

from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .equations.base import AbstractEquation
from .solvers import ETDRK4, LawsonTsit5, SemiLinearTerm

SOLVERS = {"etdrk4": ETDRK4, "lawson": LawsonTsit5, "tsit5": diffrax.Tsit5}
FIXED_STEP = ("etdrk4",)


def default_tolerances(dtype) -> tuple[float, float]:
    """(rtol, atol) an adaptive controller can meet in `dtype` (float32 stalls below ~1e-6)."""
    return (1e-8, 1e-10) if jnp.finfo(dtype).bits >= 64 else (1e-5, 1e-7)


def step_grid(ts: np.ndarray, dt: float) -> np.ndarray:
    """Step end points from `ts[0]` to `ts[-1]`: every save time, and steps of at most `dt`
    (each save interval split into equal steps)."""
    points = [ts[0]]
    for t0, t1 in zip(ts[:-1], ts[1:], strict=True):
        count = max(1, int(np.ceil((t1 - t0) / dt - 1e-9)))
        points.extend(t0 + (t1 - t0) * np.arange(1, count) / count)
        points.append(t1)  # exactly: diffrax and the save times need it
    return np.asarray(points)


def simulate(
    equation: AbstractEquation,
    u0: ArrayLike,
    ts: ArrayLike,
    *,
    solver: str | diffrax.AbstractSolver | None = None,
    dt: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int = 100_000,
    adjoint: diffrax.AbstractAdjoint | None = None,
    args: Any = None,
) -> Array:
    """Solve the equation from `u0` and return it at the times `ts`.

    **Arguments:**

    - `equation`: an `equations.AbstractEquation` (e.g. `Burgers(n=256, nu=0.01)`).
    - `u0`: initial condition `(C, *grid)`.
    - `ts`: increasing save times; `ts[0]` is the initial time. Concrete (not traced) when
        stepping with a fixed `dt`.
    - `solver`: `"etdrk4"` (needs `dt`), `"lawson"`, `"tsit5"`, or a diffrax solver;
        default `"etdrk4"` with a `dt`, else `"lawson"` (adaptive, to the tolerances).
    - `dt`: fixed step size (at most; save intervals are split evenly); `None` for
        adaptive stepping.
    - `rtol`, `atol`: tolerances of adaptive stepping (defaults by dtype).
    - `max_steps`: cap on the number of adaptive steps (fixed steps use their exact count).
    - `adjoint`: a diffrax adjoint (default: recursive checkpointing).

    **Returns:** the trajectory `(len(ts), C, *grid)`, `[0]` being `u0`. Raises if the
    solution becomes non-finite (e.g. an explicit step too large for the problem).
    """
    equation.check_state(u0)
    if solver is None:
        solver = "etdrk4" if dt is not None else "lawson"
    name = solver if isinstance(solver, str) else type(solver).__name__
    if isinstance(solver, str):
        if solver not in SOLVERS:
            raise ValueError(
                f"unknown solver {solver!r}; use one of {sorted(SOLVERS)} or pass a diffrax solver"
            )
        fixed = solver in FIXED_STEP
        solver = SOLVERS[solver]() if not fixed else None  # built below, knowing the steps
    else:
        fixed = dt is not None
    if fixed and dt is None:
        raise ValueError(
            f"solver {name!r} takes fixed steps: pass dt=... (e.g. a tenth of the save "
            "interval), or an adaptive solver (solver='tsit5')"
        )
    if dt is not None and not dt > 0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    if fixed:
        try:
            times = np.asarray(ts, dtype=np.float64)
        except Exception as error:  # a tracer
            raise ValueError(
                "with a fixed dt the save times must be known when tracing: pass ts as a "
                "numpy array (np.linspace(...)) or create it outside jax.jit; inside jit, "
                "jnp.array([...]) is traced"
            ) from error
        if times.ndim != 1 or len(times) < 2 or np.any(np.diff(times) <= 0):
            raise ValueError(f"ts must be increasing with at least two entries, got {times}")
        steps = step_grid(times, dt)
        if len(steps) - 1 > max_steps:
            raise ValueError(f"{len(steps) - 1} steps of dt={dt} exceed max_steps={max_steps}")
        controller = diffrax.StepTo(jnp.asarray(steps, u0.dtype))
        if solver is None:
            sizes = np.diff(steps)
            uniform = np.ptp(sizes) <= 1e-9 * sizes.mean()
            solver = ETDRK4(step_size=float(sizes.mean()) if uniform else None)
        dt0 = None
        max_steps = len(steps) - 1  # exact: a smaller loop compiles faster
    else:
        default_rtol, default_atol = default_tolerances(u0.dtype)
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol * jnp.maximum(jnp.max(jnp.abs(u0)), 1.0) if atol is None else atol
        controller = diffrax.PIDController(rtol=rtol, atol=atol, step_ts=jnp.asarray(ts))
        dt0 = dt
    ts = jnp.asarray(ts, u0.dtype)
    solution = diffrax.diffeqsolve(
        SemiLinearTerm(equation),
        solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=dt0,
        y0=u0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=max_steps,
        adjoint=diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
    )
    return _finite(
        solution.ys,
        f"simulate: the {type(equation).__name__} solution became non-finite; use a smaller "
        "dt, an adaptive solver, or check the parameters and initial condition",
    )


@eqx.filter_jit
def _finite(ys: Array, message: str) -> Array:
    """`ys`, or an error with `message` if any value is not finite: one program (called
    eagerly, the check's three operations would compile one program each)."""
    return eqx.error_if(ys, ~jnp.all(jnp.isfinite(ys)), message)
