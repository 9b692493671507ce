"""Optax optimisers and learning-rate schedules from the `optim` config group.

`make_optimizer` builds, from an `OptimConfig`, the chain

    clip (optional) → conjugate complex gradients → [direction, weight decay] → −lr(step)

where the bracket is, per optimiser,

- `adam`: weight decay added to the gradient (L2), then Adam, as `torch.optim.Adam(weight_decay)`
  and the FNO paper (Kingma & Ba, ICLR 2015);
- `adamw`: Adam, then decoupled weight decay (Loshchilov & Hutter, "Decoupled weight decay
  regularization", ICLR 2019), as `optax.adamw`: the update is `−lr (adam + λ w)`;
- `lion`: the sign of an interpolated momentum, then decoupled decay (Chen et al., "Symbolic
  discovery of optimization algorithms", NeurIPS 2023), as `optax.lion` (β₁ 0.9, β₂ 0.99);
- `sgd`: weight decay added to the gradient, then heavy-ball or Nesterov momentum, as
  `torch.optim.SGD(momentum, nesterov, weight_decay)` (no dampening).

Complex parameters: `jax.grad` of a real loss returns, for a complex leaf `z = x + iy`, the
conjugate `∂L/∂x − i ∂L/∂y` of the descent direction. The gradients are conjugated and every
complex leaf is then optimised exactly as the pair of real arrays `(x, y)` would be (per
component Adam moments, per component Lion signs; `optax.contrib.split_real_and_imaginary`),
so a model that stores a complex weight trains as one that stores its real and imaginary parts.
Pass gradients as `jax.grad` returns them.

Learning rate and weight decay may be overridden by (traced) JAX scalars, e.g. to vmap a
learning-rate sweep: every use of them is arithmetic, never a Python test on their value.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jaxtyping import ArrayLike

from .._config import ConfigError, spec

OPTIMIZERS = ("adam", "adamw", "lion", "sgd")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DECAY = ("all", "matrices")


@dataclass
class OptimConfig:
    """`optim=...`: optimiser, learning rate, weight decay and schedule (per epoch).

    The first seven fields are required (and positional, in this order); the rest default so
    that older configs still validate.
    """

    name: str = spec(
        choices=OPTIMIZERS,
        help="adam: L2 added to the gradient (as torch.optim.Adam, the FNO paper); adamw: "
        "decoupled weight decay; lion: sign momentum with decoupled decay; sgd: momentum SGD "
        "with L2 added to the gradient",
    )
    lr: float = spec(ge=0.0, help="peak learning rate of the schedule (0 keeps the weights)")
    weight_decay: float = spec(ge=0.0)
    schedule: str = spec(choices=SCHEDULES)
    step_epochs: int = spec(ge=1, help="step schedule: epochs between decays")
    gamma: float = spec(gt=0.0, le=1.0, help="step schedule: decay factor")
    warmup_epochs: int = spec(ge=0, help="cosine schedule: linear warm-up epochs")
    clip_norm: float | None = spec(
        None, ge=0.0, help="clip the gradient to this global norm first; 0 or null: off"
    )
    decay: str = spec(
        "all",
        choices=DECAY,
        help="which arrays weight decay acts on: all, or matrices (ndim >= 2: not biases or "
        "norm scales)",
    )
    momentum: float = spec(0.9, ge=0.0, le=1.0, help="sgd: momentum coefficient")
    nesterov: bool = spec(False, help="sgd: Nesterov momentum")
    pct_start: float = spec(
        0.3, gt=0.0, le=1.0, help="onecycle schedule: fraction of the steps spent rising"
    )
    div_factor: float = spec(25.0, ge=1.0, help="onecycle schedule: starting rate = lr / this")
    final_div_factor: float = spec(
        1e4, ge=1.0, help="onecycle schedule: final rate = starting rate / this"
    )


def _choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {kind} {value!r}; use one of {list(choices)}")


def _onecycle(total: int, pct_start: float, div_factor: float, final_div_factor: float):
    """Unit-peak one-cycle shape: cosine from `1/div` up to 1 over the first `pct_start`
    of the steps, then cosine down to `1/(div final_div)` (Smith & Topin 2019)."""
    peak = min(max(int(pct_start * total), 1), total)
    start, end = 1.0 / div_factor, 1.0 / (div_factor * final_div_factor)

    def shape(step):
        step = jnp.asarray(step, jnp.float32)
        up = jnp.clip(step / peak, 0.0, 1.0)
        down = jnp.clip((step - peak) / max(total - peak, 1), 0.0, 1.0)
        rising = start + (1.0 - start) * (1.0 - jnp.cos(jnp.pi * up)) / 2
        falling = end + (1.0 - end) * (1.0 + jnp.cos(jnp.pi * down)) / 2
        return jnp.where(step <= peak, rising, falling)

    return shape


def make_schedule(
    config: OptimConfig, steps_per_epoch: int, epochs: int, *, lr: ArrayLike | None = None
) -> optax.Schedule:
    """Learning rate as a function of the optimiser step.

    **Arguments:**

    - `config`: the schedule's fields (`schedule`, `step_epochs`, `gamma`, `warmup_epochs`,
      `pct_start`, `div_factor`, `final_div_factor`), all counted in epochs or fractions.
    - `steps_per_epoch`, `epochs`: convert epochs to optimiser steps.
    - `lr`: peak learning rate, overriding `config.lr`; may be a traced scalar.

    **Returns:**

    `step ↦ lr · shape(step)`, with `shape`, for `T = epochs · steps_per_epoch` steps:

    - `constant`: 1;
    - `step`: `gamma ** (step // (step_epochs · steps_per_epoch))`;
    - `cosine`: linear from 0 to 1 over `warmup_epochs`, then `(1 + cos(π t)) / 2` to 0 at `T`;
    - `onecycle` (Smith & Topin, "Super-convergence", 2019; `torch.optim.lr_scheduler.
      OneCycleLR` with `anneal_strategy="cos"`, no momentum cycling): cosine from
      `1/div_factor` up to 1 at step `P = int(pct_start · T)`, then cosine down to
      `1/(div_factor · final_div_factor)` at `T`.
    """
    _choice("schedule", config.schedule, SCHEDULES)
    peak = config.lr if lr is None else lr
    total = max(epochs * steps_per_epoch, 1)
    if config.schedule == "constant":
        shape = optax.constant_schedule(1.0)
    elif config.schedule == "step":
        shape = optax.exponential_decay(
            1.0, config.step_epochs * steps_per_epoch, config.gamma, staircase=True
        )
    elif config.schedule == "cosine":
        warmup = min(config.warmup_epochs * steps_per_epoch, total - 1)
        shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup, total)
    else:
        shape = _onecycle(total, config.pct_start, config.div_factor, config.final_div_factor)
    return lambda step: peak * shape(step)


def _matrices(params: Any) -> Any:
    """Decay mask: True for arrays with ndim >= 2 (None leaves stay None)."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def _conjugate_complex() -> optax.GradientTransformation:
    """Turn JAX's complex gradients (conjugated) into descent directions."""

    def update(updates, state, params=None):
        del params
        conj = lambda g: jnp.conj(g) if jnp.iscomplexobj(g) else g  # noqa: E731
        return jax.tree.map(conj, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(
    config: OptimConfig,
    steps_per_epoch: int,
    epochs: int,
    *,
    lr: ArrayLike | None = None,
    weight_decay: ArrayLike | None = None,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The optimiser and its learning-rate schedule.

    **Arguments:**

    - `config`: an `OptimConfig` (see the module docstring for what each optimiser does).
    - `steps_per_epoch`, `epochs`: convert the schedule's epochs to optimiser steps.
    - `lr`, `weight_decay`: override `config.lr`, `config.weight_decay`; may be traced JAX
      scalars (e.g. `jax.vmap` over a sweep). The optimiser's state does not depend on them.

    **Returns:**

    `(optimizer, schedule)`: an `optax.GradientTransformation` taking gradients as `jax.grad`
    returns them (parameters needed by `update`), and the learning rate per step.
    """
    _choice("optimizer", config.name, OPTIMIZERS)
    _choice("decay", config.decay, DECAY)
    schedule = make_schedule(config, steps_per_epoch, epochs, lr=lr)
    decay_rate = config.weight_decay if weight_decay is None else weight_decay
    mask: Callable | None = _matrices if config.decay == "matrices" else None
    decay = optax.add_decayed_weights(decay_rate, mask)
    if config.name == "adam":
        inner = [decay, optax.scale_by_adam()]
    elif config.name == "adamw":
        inner = [optax.scale_by_adam(), decay]
    elif config.name == "lion":
        inner = [optax.scale_by_lion(b1=0.9, b2=0.99), decay]
    else:
        inner = [decay, optax.trace(decay=config.momentum, nesterov=config.nesterov)]
    chain = []
    if config.clip_norm is not None and config.clip_norm > 0 and math.isfinite(config.clip_norm):
        chain.append(optax.clip_by_global_norm(config.clip_norm))
    chain += [
        _conjugate_complex(),
        optax.contrib.split_real_and_imaginary(optax.chain(*inner)),
        optax.scale_by_learning_rate(schedule),
    ]
    return optax.chain(*chain), schedule
