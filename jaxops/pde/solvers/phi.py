"""The φ-functions of exponential integrators, stable for all z (Hochbruck & Ostermann,
"Exponential integrators", Acta Numerica 2010):

    φ_0(z) = e^z,   φ_k(z) = (φ_{k−1}(z) − 1/(k−1)!) / z = Σ_{j≥0} z^j / (j + k)!.

For |z| < 1 the Taylor series (18 terms, error < 1e-17) avoids the cancellation of the
closed form; elsewhere the closed form is used, evaluated at a safe argument so that the
branch not taken produces no NaN (and no NaN gradient).
"""

import math

import jax.numpy as jnp
from jaxtyping import Array

_TERMS = 18


def phi(k: int, z: Array) -> Array:
    """φ_k(z) elementwise for k = 0, 1, 2, 3, ...; `z` real or complex."""
    if k == 0:
        return jnp.exp(z)
    small = jnp.abs(z) < 1.0
    z_small = jnp.where(small, z, 0.0)
    series = jnp.zeros_like(z_small) + 1.0 / math.factorial(_TERMS - 1 + k)
    for j in range(_TERMS - 2, -1, -1):  # Horner: Σ z^j / (j + k)!
        series = series * z_small + 1.0 / math.factorial(j + k)
    z_big = jnp.where(small, 1.0, z)
    closed = jnp.exp(z_big)
    for j in range(k):
        closed = (closed - 1.0 / math.factorial(j)) / z_big
    return jnp.where(small, series, closed)
