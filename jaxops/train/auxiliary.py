"""Auxiliary estimates that a model asks training to fit alongside its prediction.

A model may declare a positive `auxiliary_weight` and a method `auxiliary(u, *conditions)`
returning a second estimate of the same target, shaped like the prediction. Every training
loss term then becomes `loss(prediction, target) + auxiliary_weight · loss(auxiliary,
target)`: each pair, and each step of a rollout from the same input. This is CAPE's
auxiliary loss (Takamoto, Alesiani, Niepert, ICML 2023), which trains the CAPE module's
output towards the next state (`models.ParameterConditioned`). `data.Normalized` forwards
both, in physical units. Evaluation and reported errors use the prediction only.
"""

from collections.abc import Callable
from typing import Any

from jaxtyping import Array


def weight(model: Any) -> float:
    """The weight `model` declares for its auxiliary estimate (0: it has none)."""
    return float(getattr(model, "auxiliary_weight", 0.0))


def with_auxiliary(
    model: Any, loss: Callable[[Array, Array], Array], prediction: Array, target: Array, *inputs
) -> Array:
    """`loss(prediction, target)`, plus the weighted loss of `model.auxiliary(*inputs)` when
    `model` declares one."""
    value = loss(prediction, target)
    w = weight(model)
    return value + w * loss(model.auxiliary(*inputs), target) if w else value
