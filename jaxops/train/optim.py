"""Optax optimisers and learning-rate schedules from the `optim` config group."""

from dataclasses import dataclass

import optax

from .._config import spec


@dataclass
class OptimConfig:
    """`optim=...`: optimiser, learning rate, weight decay and schedule (per epoch)."""

    name: str = spec(
        choices=("adam", "adamw"),
        help="adam: L2 added to the gradient (as "
        "torch.optim.Adam, the FNO paper); adamw: decoupled weight decay",
    )
    lr: float = spec(gt=0.0)
    weight_decay: float = spec(ge=0.0)
    schedule: str = spec(choices=("constant", "step", "cosine"))
    step_epochs: int = spec(ge=1, help="step schedule: epochs between decays")
    gamma: float = spec(gt=0.0, le=1.0, help="step schedule: decay factor")
    warmup_epochs: int = spec(ge=0, help="cosine schedule: linear warm-up epochs")


def make_schedule(config: OptimConfig, steps_per_epoch: int, epochs: int) -> optax.Schedule:
    """Learning rate as a function of the optimiser step."""
    if config.schedule == "constant":
        return optax.constant_schedule(config.lr)
    if config.schedule == "step":
        return optax.exponential_decay(
            config.lr, config.step_epochs * steps_per_epoch, config.gamma, staircase=True
        )
    if config.schedule == "cosine":
        total = max(epochs * steps_per_epoch, 1)
        warmup = min(config.warmup_epochs * steps_per_epoch, total - 1)
        return optax.warmup_cosine_decay_schedule(0.0, config.lr, warmup, total)
    raise ValueError(f"unknown schedule {config.schedule!r}; use constant, step or cosine")


def make_optimizer(
    config: OptimConfig, steps_per_epoch: int, epochs: int
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The optimiser and its learning-rate schedule."""
    schedule = make_schedule(config, steps_per_epoch, epochs)
    if config.name == "adam":
        optimizer = optax.chain(
            optax.add_decayed_weights(config.weight_decay),
            optax.scale_by_adam(),
            optax.scale_by_learning_rate(schedule),
        )
    elif config.name == "adamw":
        optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {config.name!r}; use adam or adamw")
    return optimizer, schedule
