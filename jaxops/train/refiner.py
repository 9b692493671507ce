"""Spectral-Refiner: data-free fine-tuning of the last spectral layer of a trained FNO.

Cao, Brarda, Li, Xi, "Spectral-Refiner: Accurate Fine-Tuning of Spatiotemporal Fourier Neural
Operator for Turbulent Flows", ICLR 2025 (arXiv:2405.17211): after training on data, every
parameter is frozen except those of the last spectral layer, which are fine-tuned to minimise
the PDE residual of the model's outputs in a negative Sobolev (H⁻¹) norm, evaluated
spectrally via Parseval — no solutions needed. (In the paper that layer, untruncated, is the
output, so the loss is convex; here the FNO's projection follows it, so it is not.)

`refine_last_spectral_layer(model, inputs (N, C, *spatial), residual_loss)` does this for a
`models.FNO` or wrappers of one (`data.Normalized(FNO)`, what `train.fit` returns);
`residual_loss(input, prediction) -> scalar` on one sample is e.g.
`physics.darcy_physics(norm="h-1")`.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike

from ..models.fno import FNO


def _last_spectral(model: Any) -> Callable[[Any], Any]:
    """`where(model)` → the last spectral layer of an FNO, or of the FNO a chain of wrappers
    holds as `.model` (`data.Normalized`, `physics.ZeroBoundary`)."""
    depth, inner = 0, model
    while not isinstance(inner, FNO):
        if not isinstance(inner, eqx.Module) or not hasattr(inner, "model"):
            raise ValueError(
                "refine_last_spectral_layer needs a models.FNO or a wrapper holding one as "
                f".model (data.Normalized, what train.fit returns), got {type(model).__name__}"
            )
        depth, inner = depth + 1, inner.model

    def where(tree):
        for _ in range(depth):
            tree = tree.model
        return tree.spectral[-1]

    return where


def last_layer_filter(model: Any) -> Any:
    """The `eqx.partition` filter spec: True on the inexact arrays of the last spectral layer,
    False on every other leaf."""
    where = _last_spectral(model)
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(where, spec, replace=jax.tree.map(eqx.is_inexact_array, where(model)))


def refine_last_spectral_layer(
    model: Any,
    inputs: ArrayLike,
    residual_loss: Callable[[Array, Array], Array],
    *,
    steps: int = 100,
    optimizer: optax.GradientTransformation | None = None,
    batch_size: int = 64,
) -> tuple[Any, np.ndarray]:
    """Fine-tune only `spectral[-1]` of `model` to minimise the mean of
    `residual_loss(x, model(x))` over `inputs`; every other leaf is returned unchanged.

    **Arguments:**

    - `model`: a `models.FNO`, or wrappers holding one as `.model` (`data.Normalized`).
    - `inputs`: `(N, C_in, *spatial)`, JAX or NumPy, the inputs the residual is evaluated
        on (no targets).
    - `residual_loss`: `(input, prediction) -> scalar` on one sample, e.g. the H⁻¹ residual
        `physics.darcy_physics(norm="h-1")`.
    - `steps`: full-batch optimiser steps (compiled as one `lax.scan`).
    - `optimizer`: an optax transformation (default `optax.adam(1e-3)`).
    - `batch_size`: samples evaluated at a time inside each step (memory only).

    **Returns:** `(refined model, history)`, `history` `(steps + 1,)` the loss before each step
    and after the last.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    inputs = jnp.asarray(inputs)
    if inputs.ndim < 3:
        raise ValueError(f"inputs must be (N, C, *spatial), got shape {inputs.shape}")
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    trained, frozen = eqx.partition(model, last_layer_filter(model))
    opt_state = optimizer.init(trained)
    refined, history = _refine(trained, frozen, opt_state, inputs, residual_loss, optimizer,
                               steps, min(batch_size, len(inputs)))  # fmt: skip
    history = np.asarray(history)
    if not np.isfinite(history).all():
        step = int(np.argmin(np.isfinite(history)))
        raise FloatingPointError(
            f"the residual loss became {history[step]} at refinement step {step}; lower the "
            "optimiser's learning rate or check the residual for NaNs"
        )
    return refined, history


@eqx.filter_jit
def _refine(trained, frozen, opt_state, inputs, residual_loss, optimizer, steps, batch_size):
    def loss(trained):
        model = eqx.combine(trained, frozen)
        values = lax.map(lambda x: residual_loss(x, model(x)), inputs, batch_size=batch_size)
        return jnp.mean(values)

    def step(carry, _):
        trained, opt_state = carry
        value, grads = jax.value_and_grad(loss)(trained)
        updates, opt_state = optimizer.update(grads, opt_state, trained)
        return (optax.apply_updates(trained, updates), opt_state), value

    (trained, _), history = lax.scan(step, (trained, opt_state), length=steps)
    history = jnp.append(history, loss(trained))
    return eqx.combine(trained, frozen), history
