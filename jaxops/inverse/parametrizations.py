"""Parametrisations of the unknown: the optimiser works on a latent `z`, the forward map sees
`x = P(z)`. `Identity` leaves it unconstrained; `Bounded(lo, hi)` maps any real z into the
open interval (lo, hi) by `x = lo + (hi − lo)·sigmoid(z)`, e.g. the Darcy coefficient
a ∈ [3, 12] of the FNO paper's data (Li et al., ICLR 2021). Both act elementwise on any
shape and give `inverse(x)` to start the latent from a physical initial guess.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array


class AbstractParametrization(eqx.Module):
    """`__call__(z)` → physical x, `inverse(x)` → latent z (elementwise, any shape)."""

    def __call__(self, z: Array) -> Array:
        raise NotImplementedError

    def inverse(self, x: Array) -> Array:
        raise NotImplementedError


class Identity(AbstractParametrization):
    """x = z."""

    def __call__(self, z: Array) -> Array:
        return z

    def inverse(self, x: Array) -> Array:
        return x


class Bounded(AbstractParametrization):
    """x = lo + (hi − lo)·sigmoid(z) ∈ (lo, hi); `inverse` clips x to `margin`·(hi − lo)
    inside the bounds first, so a guess on a bound maps to a finite latent.

    **Arguments:** `lo` < `hi` (floats), `margin` (default 1e-3).
    """

    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    margin: float = eqx.field(static=True, default=1e-3)

    def __check_init__(self):
        if not self.lo < self.hi:
            raise ValueError(f"Bounded needs lo < hi, got lo={self.lo!r}, hi={self.hi!r}")
        if not 0 < self.margin < 0.5:
            raise ValueError(f"margin must lie in (0, 0.5), got {self.margin!r}")

    def __call__(self, z: Array) -> Array:
        return self.lo + (self.hi - self.lo) * jax.nn.sigmoid(z)

    def inverse(self, x: Array) -> Array:
        s = jnp.clip((x - self.lo) / (self.hi - self.lo), self.margin, 1.0 - self.margin)
        return jnp.log(s) - jnp.log1p(-s)
