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

from .conditions import bind

Auxiliary = tuple[Callable[..., Array], float]
"""`(estimate, weight)`: the model's auxiliary estimate with one sample's conditions bound."""


def bound(model: Any, values: tuple = ()) -> Auxiliary | None:
    """`(u -> model.auxiliary(u, *values), weight)` if `model` declares a positive
    `auxiliary_weight`, else None."""
    weight = float(getattr(model, "auxiliary_weight", 0.0))
    return (bind(model.auxiliary, values), weight) if weight else None


def loss_term(
    aux: Auxiliary | None,
    loss: Callable[[Array, Array], Array],
    inputs: Array,
    target: Array,
    apply: Callable[[Callable, Array], Array] = lambda estimate, inputs: estimate(inputs),
) -> Array | float:
    """`weight · loss(apply(estimate, inputs), target)` of `aux`, or 0 without one."""
    if aux is None:
        return 0.0
    estimate, weight = aux
    return weight * loss(apply(estimate, inputs), target)
