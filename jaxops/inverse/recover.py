"""`recover`: estimate an unknown input x from observations of forward(x) by gradient-based
optimisation (optax) of

    J(z) = Φ(forward(P(z))) + λ R(P(z)),

with Φ the data misfit (e.g. `Observations`), R a regulariser (`Tikhonov`, `TotalVariation`,
`RED`), λ ≥ 0 its weight and P a parametrisation (`Identity`, `Bounded`) of x by a latent z.
The forward map is any differentiable function of one sample: a numerical solver
(`pde.solve_darcy`, `pde.simulate`) or a trained surrogate (an FNO from `train.fit`). This is
variational data assimilation / PDE-constrained optimisation in reduced form (e.g. Hinze,
Pinnau, Ulbrich & Ulbrich, "Optimization with PDE Constraints", 2009), the gradient supplied
by automatic differentiation.

The optimiser steps run as `lax.scan`s of `log_every` steps inside one compiled program
(compiled ahead of time, at most twice: full chunks and a remainder), so the wall time
excludes compilation and nothing retraces. Line-search optimisers (`optax.lbfgs`) work: each
update receives the value, the gradient and the objective.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

from .._progress import make_console, progress_bar
from .parametrizations import AbstractParametrization, Identity

NAMES = ("loss", "misfit", "regularizer")


@dataclass
class Recovery:
    """What `recover` returns: the `estimate` x = P(z) and its `latent` z; `history` of the
    objective's terms at every step's iterate (`loss`, `misfit`, `regularizer`, each
    `(steps,)`; the last update is not evaluated); `seconds` of optimisation (compiled,
    compilation excluded) and `compile_seconds`; `steps`."""

    estimate: Array
    latent: Array
    history: dict[str, np.ndarray]
    seconds: float
    compile_seconds: float
    steps: int

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps


def objective(
    forward: Callable[[Array], Array],
    misfit: Callable[[Array], Array],
    regularizer: Callable[[Array], Array] | None = None,
    weight: float = 0.0,
    parametrization: AbstractParametrization | None = None,
) -> Callable[[Array], tuple[Array, tuple[Array, Array]]]:
    """J(z) = misfit(forward(P(z))) + weight · regularizer(P(z)), as
    `z -> (J, (misfit, regularizer))` for `jax.value_and_grad(..., has_aux=True)`."""
    parametrization = Identity() if parametrization is None else parametrization

    def loss(z):
        x = parametrization(z)
        data = misfit(forward(x))
        prior = jnp.zeros((), data.dtype) if regularizer is None else regularizer(x)
        return data + weight * prior, (data, prior)

    return loss


def _check(steps, log_every, weight, regularizer, parametrization, optimizer) -> None:
    for name, value in (("steps", steps), ("log_every", log_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not weight >= 0:
        raise ValueError(f"weight must be >= 0, got {weight!r}")
    if weight > 0 and regularizer is None:
        raise ValueError(f"weight={weight} needs a regularizer (Tikhonov, TotalVariation, RED)")
    if parametrization is not None and not isinstance(parametrization, AbstractParametrization):
        raise ValueError(
            "parametrization must be an AbstractParametrization (Identity, Bounded) with an "
            f"inverse for the initial guess, got {type(parametrization).__name__}"
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(f"optimizer must be an optax transformation, got {optimizer!r}")


def recover(
    forward: Callable[[Array], Array],
    misfit: Callable[[Array], Array],
    x0: Array,
    *,
    regularizer: Callable[[Array], Array] | None = None,
    weight: float = 0.0,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 200,
    parametrization: AbstractParametrization | None = None,
    log_every: int | None = None,
    callback: Callable[[int, dict[str, float], Array], None] | None = None,
    progress: bool = False,
) -> Recovery:
    """Minimise J(z) = misfit(forward(P(z))) + weight · regularizer(P(z)) from x0.

    **Arguments:**

    - `forward`: the forward map x → u of one sample (solver or surrogate), differentiable.
    - `misfit`: u → scalar data misfit, e.g. an `Observations`.
    - `x0`: the initial guess, in physical units (the latent starts at `P.inverse(x0)`).
    - `regularizer`, `weight`: R(x) → scalar and λ ≥ 0.
    - `optimizer`: an optax transformation (default `optax.adam(1e-2)`); line-search ones
        (`optax.lbfgs()`) get the value and objective they need.
    - `steps`: optimisation steps.
    - `parametrization`: x = P(z) (`Identity` by default, `Bounded(lo, hi)`).
    - `log_every`: steps per compiled chunk (default: all); after each chunk `callback(step,
        record, estimate)` is called with the last step's `loss`, `misfit`, `regularizer`,
        and a progress bar advances (`progress`, drawn on terminals).

    **Returns:** a `Recovery`. Raises `FloatingPointError` naming the step if the objective
    or the iterate becomes non-finite.
    """
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    log_every = steps if log_every is None else log_every
    _check(steps, log_every, weight, regularizer, parametrization, optimizer)
    parametrization = Identity() if parametrization is None else parametrization
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.result_type(float))
    if not bool(jnp.all(jnp.isfinite(x0))):
        raise ValueError("x0 has non-finite entries")
    z0 = parametrization.inverse(x0)
    problem = (forward, misfit, regularizer, parametrization)
    shape = eqx.filter_eval_shape(
        lambda p, z: objective(p[0], p[1], p[2], weight, p[3])(z)[0], problem, z0
    )
    if shape.shape != ():
        raise ValueError(f"the misfit (plus regulariser) must be a scalar, got shape {shape.shape}")
    optimizer = optax.with_extra_args_support(optimizer)
    dynamic, static = eqx.partition(problem, eqx.is_array)

    def run(dynamic, z, state, length: int):
        forward_, misfit_, regularizer_, parametrization_ = eqx.combine(dynamic, static)
        loss_fn = objective(forward_, misfit_, regularizer_, weight, parametrization_)
        value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

        def step(carry, _):
            z, state = carry
            (value, (data, prior)), grad = value_and_grad(z)
            updates, state = optimizer.update(
                grad, state, z, value=value, grad=grad, value_fn=lambda v: loss_fn(v)[0]
            )
            return (optax.apply_updates(z, updates), state), jnp.stack([value, data, prior])

        (z, state), records = lax.scan(step, (z, state), length=length)
        return z, state, records

    state = optimizer.init(z0)
    chunks = [log_every] * (steps // log_every) + ([steps % log_every] if steps % log_every else [])
    compiled, compile_seconds = {}, 0.0
    for length in sorted(set(chunks)):
        start = time.perf_counter()
        fn = jax.jit(run, static_argnames="length")
        compiled[length] = fn.lower(dynamic, z0, state, length=length).compile()
        compile_seconds += time.perf_counter() - start
    z, records, seconds, done = z0, [], 0.0, 0
    console = make_console()
    with progress_bar("steps", console=console, extra="loss {task.fields[loss]}") as bar:
        task = bar.add_task("recover", total=steps, loss="--", visible=progress)
        for length in chunks:
            start = time.perf_counter()
            z, state, chunk = jax.block_until_ready(compiled[length](dynamic, z, state))
            seconds += time.perf_counter() - start
            chunk = np.asarray(chunk)
            records.append(chunk)
            bad = ~np.isfinite(chunk).all(axis=1)
            if bad.any() or not bool(jnp.all(jnp.isfinite(z))):
                where = done + (int(np.argmax(bad)) if bad.any() else length)
                raise FloatingPointError(
                    f"recover: the objective or the iterate became non-finite at step {where}; "
                    "lower the learning rate, bound the unknown (Bounded) or check the forward map"
                )
            done += length
            record = dict(zip(NAMES, map(float, chunk[-1]), strict=True))
            bar.update(task, advance=length, loss=f"{record['loss']:.4g}")
            if callback is not None:
                callback(done, record, parametrization(z))
    records = np.concatenate(records)
    history = {k: records[:, i] for i, k in enumerate(NAMES)}
    return Recovery(parametrization(z), z, history, seconds, compile_seconds, steps)
