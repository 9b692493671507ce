"""`CorrectedStep`: a coarse numerical solver step plus a learned correction (solver in the loop).

One step of the hybrid maps a coarse-grid state `u` `(C, *grid)` to

    u_next = P(u) + scale · N(P(u)),

where `P` advances the coarse equation by `dt` in `substeps` fixed steps of a diffrax solver
(ETDRK4 by default, `pde.solvers`) and `N` is a neural operator `(C, *grid) → (C, *grid)`
(e.g. `models.FNO`). This is the "solver-in-the-loop" correction of Um, Brand, Fei, Holl,
Thuerey, "Solver-in-the-Loop: Learning from Differentiable Physics to Interact with
Iterative PDE-Solvers", NeurIPS 2020 (their `s̃ + C(s̃)` with `s̃ = P(s)`), and the hybrid
of Kochkov, Smith, Alieva, Wang, Brenner, Hoyer, "Machine learning-accelerated
computational fluid dynamics", PNAS 2021.
Trained through `k` unrolled steps (`hybrid.fit_hybrid`), gradients flow through the
network and the solver alike.

The equation is a fixed part of the model: the class declares it `frozen`, so the training
engine's default filter (`train.finetune.trainable_mask`) leaves its arrays (e.g. a forcing)
out of the trained parameters: never updated, never seen by optimisers or weight decay. The
equation must be autonomous (each step starts at t = 0).

The solver's `init`/`step` are called directly rather than through `pde.simulate`'s
`diffeqsolve`: for the one or few steps of a hybrid step, diffeqsolve's loop and adjoint
machinery more than doubled the compile time of k-step unrolled training (23 s vs 10 s, KS
on 32 points, k = 4) and added per-step overhead; the arithmetic is the same (`simulate`
with the same fixed steps agrees to round-off, see the tests).
"""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..pde.equations.base import AbstractEquation
from ..pde.integrate import SOLVERS
from ..pde.solvers import ETDRK4, SemiLinearTerm


class CorrectedStep(eqx.Module):
    """One step of a coarse solver followed by a learned correction (see the module docstring).

    **Arguments:**

    - `equation`: the coarse `pde` equation, e.g. `pde.KuramotoSivashinsky(n=32)`.
    - `correction`: a single-sample network `(C, *grid) → (C, *grid)`, or `None` for the bare
        coarse solver.
    - `dt`: the time advanced by one call (the save interval of the training trajectories).
    - `substeps`: fixed solver steps per call, each `dt / substeps`.
    - `solver`: `"etdrk4"` (exponential, for stiff equations), `"lawson"` or `"tsit5"` (the
        `pde.simulate` names, used here with fixed steps), or a diffrax solver instance.
    - `scale`: factor on the network's output (a small value starts training near the solver).

    **Call:** `u` `(C, *grid)` → the state `dt` later, `(C, *grid)`.
    """

    frozen: ClassVar[tuple[str, ...]] = ("equation",)  # the physics never trains

    correction: Callable | None
    equation: AbstractEquation
    dt: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    solver: diffrax.AbstractSolver
    scale: float = eqx.field(static=True)

    def __init__(
        self,
        equation: AbstractEquation,
        correction: Callable | None,
        dt: float,
        *,
        substeps: int = 1,
        solver: str | diffrax.AbstractSolver = "etdrk4",
        scale: float = 1.0,
    ):
        if not isinstance(equation, AbstractEquation):
            raise ValueError(f"equation must be a jaxops.pde equation, got {type(equation)}")
        if not (isinstance(dt, int | float) and dt > 0):
            raise ValueError(f"dt must be a positive number, got {dt!r}")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be a positive int, got {substeps!r}")
        if isinstance(solver, str):
            if solver not in SOLVERS:
                raise ValueError(f"unknown solver {solver!r}; use one of {sorted(SOLVERS)}")
            solver = ETDRK4(step_size=dt / substeps) if solver == "etdrk4" else SOLVERS[solver]()
        elif not isinstance(solver, diffrax.AbstractSolver):
            raise ValueError(f"solver must be a name or a diffrax solver, got {solver!r}")
        state = jax.ShapeDtypeStruct((equation.channels, *equation.grid.shape), jnp.float32)
        if correction is not None:
            out = jax.eval_shape(correction, state)
            if getattr(out, "shape", None) != state.shape:
                raise ValueError(
                    f"the correction must map a state {state.shape} to the same shape, got "
                    f"{getattr(out, 'shape', out)}; build it with in_channels = out_channels = "
                    f"{equation.channels}"
                )
        self.correction = correction
        self.equation = equation
        self.dt, self.substeps, self.solver, self.scale = float(dt), substeps, solver, float(scale)

    def coarse_step(self, u: Float[Array, " C *grid"]) -> Float[Array, " C *grid"]:
        """The bare solver: `u` advanced by `dt` in `substeps` fixed steps."""
        self.equation.check_state(u)
        term = SemiLinearTerm(self.equation)
        h = self.dt / self.substeps
        state = self.solver.init(term, 0.0, h, u, None)
        for i in range(self.substeps):
            t0, t1 = i * h, (i + 1) * h
            u, _, _, state, _ = self.solver.step(term, t0, t1, u, None, state, False)
        return u

    def __call__(self, u: Float[Array, " C *grid"]) -> Float[Array, " C *grid"]:
        v = self.coarse_step(u)
        if self.correction is None:
            return v
        return v + self.scale * self.correction(v).astype(v.dtype)
