"""`NeuralODE`: a surrogate du/dt = f_θ(u) whose vector field is a neural operator, integrated
by diffrax with adaptive steps.

Chen, Rubanova, Bettencourt, Duvenaud, "Neural Ordinary Differential Equations", NeurIPS
2018. The state is one sample `(C, *grid)`; `f_θ` any single-sample network `(C, *grid) →
(C, *grid)` (e.g. `models.FNO`). The solution is saved at the requested times; steps are
chosen by a PID controller from `rtol`, `atol`. Gradients: diffrax's recursive-checkpoint
adjoint (discretise-then-optimise) by default, or `diffrax.BacksolveAdjoint()`, the paper's
continuous adjoint.

`NeuralODEStep(ode, dt)` is the flow map over `dt`, a one-step model `u → u(t + dt)` that
`hybrid.fit_hybrid` (or `train.fit_trajectories`) trains on trajectories.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ..pde.integrate import default_tolerances


class NeuralODE(eqx.Module):
    """du/dt = `vector_field`(u), solved adaptively.

    **Arguments:**

    - `vector_field`: a single-sample network `(C, *grid) → (C, *grid)`.
    - `solver`: a diffrax solver (default `diffrax.Tsit5()`).
    - `rtol`, `atol`: tolerances of the PID step-size controller (`None`: the float32
        defaults of `pde.simulate`, 1e-5 and 1e-7).
    - `max_steps`: cap on the number of steps of one solve.
    - `adjoint`: a diffrax adjoint (default: recursive checkpointing).

    **Call:** `(u0 (C, *grid), ts (T,))` → the solution at `ts`, `(T, C, *grid)`, `[0]` = `u0`.
    """

    vector_field: Callable
    solver: diffrax.AbstractSolver
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    adjoint: diffrax.AbstractAdjoint

    def __init__(
        self,
        vector_field: Callable,
        solver: diffrax.AbstractSolver | None = None,
        *,
        rtol: float | None = None,
        atol: float | None = None,
        max_steps: int = 4096,
        adjoint: diffrax.AbstractAdjoint | None = None,
    ):
        default_rtol, default_atol = default_tolerances(jnp.float32)
        self.vector_field = vector_field
        self.solver = diffrax.Tsit5() if solver is None else solver
        self.rtol = default_rtol if rtol is None else float(rtol)
        self.atol = default_atol if atol is None else float(atol)
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError(f"rtol and atol must be positive, got {self.rtol}, {self.atol}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.max_steps = max_steps
        self.adjoint = diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    def solve(self, u0: Float[Array, " C *grid"], ts: Float[ArrayLike, " T"]) -> diffrax.Solution:
        """The diffrax solution (`ys` the states at `ts`; `stats["num_steps"]` the steps taken,
        `stats["num_accepted_steps"]` those accepted)."""
        ts = jnp.asarray(ts, u0.dtype)
        if ts.ndim != 1 or ts.shape[0] < 2:
            raise ValueError(f"ts must be a 1-D array of at least two times, got shape {ts.shape}")
        # The network travels as `args`, so that every adjoint (backsolve too) differentiates it.
        term = diffrax.ODETerm(lambda t, u, field: field(u).astype(u.dtype))
        return diffrax.diffeqsolve(
            term,
            self.solver,
            t0=ts[0],
            t1=ts[-1],
            dt0=None,
            y0=u0,
            args=self.vector_field,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=self.rtol, atol=self.atol),
            max_steps=self.max_steps,
            adjoint=self.adjoint,
        )

    def __call__(
        self, u0: Float[Array, " C *grid"], ts: Float[ArrayLike, " T"]
    ) -> Float[Array, " T C *grid"]:
        ys = self.solve(u0, ts).ys
        return eqx.error_if(
            ys,
            ~jnp.all(jnp.isfinite(ys)),
            "NeuralODE: the solution became non-finite; lower the learning rate or the "
            "tolerances, or bound the vector field",
        )


class NeuralODEStep(eqx.Module):
    """The flow map of `ode` over `dt`: `u` `(C, *grid)` → `u(t + dt)` `(C, *grid)`, a
    one-step model for autoregressive training and rollouts."""

    ode: NeuralODE
    dt: float = eqx.field(static=True)

    def __init__(self, ode: NeuralODE, dt: float):
        if not (isinstance(dt, int | float) and dt > 0):
            raise ValueError(f"dt must be a positive number, got {dt!r}")
        self.ode, self.dt = ode, float(dt)

    def __call__(self, u: Float[Array, " C *grid"]) -> Float[Array, " C *grid"]:
        return self.ode(u, jnp.array([0.0, self.dt]))[-1]
