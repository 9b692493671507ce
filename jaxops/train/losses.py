"""Losses and metrics on one sample `(C, *spatial)`; `jax.vmap` them for batches."""

import jax.numpy as jnp
from jaxtyping import Array, Float


def relative_l2(pred: Float[Array, " C *spatial"], target: Float[Array, " C *spatial"]) -> Array:
    """‖pred − target‖₂ / ‖target‖₂ over all channels and points (a uniform grid's quadrature
    weights cancel). The FNO paper's metric (`LpLoss` with p = 2)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from target shape {target.shape}")
    return jnp.linalg.norm((pred - target).ravel()) / jnp.linalg.norm(target.ravel())
