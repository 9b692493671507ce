"""Conditioning layers: PDE parameters by channel attention (CAPE) and time by a
time-conditioned norm, single sample, channels first.

- `CAPE`: Takamoto, Alesiani, Niepert, "Learning Neural PDE Solvers with Parameter-Guided
  Channel Attention", ICML 2023 (arXiv:2304.14118).
- `TimeConditionedNorm`: the time-conditioned layer norm of Poseidon, Herde, Raonić, Rohner,
  Käppeli, Lanthaler, Mishra, "Poseidon: Efficient Foundation Models for PDEs", NeurIPS 2024
  (arXiv:2405.19101).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checks import positive_ints
from .conv import Conv
from .pointwise import PointwiseLinear, gelu
from .spectral import SpectralConv


class CAPE(eqx.Module):
    """Parameter-guided channel attention: a field conditioned on the PDE parameters.

    The input `u` is lifted to `width` channels and passed through three cheap kernels — a
    pointwise (1×1) map, a depthwise `kernel_size` convolution and a spectral convolution
    over the lowest `modes`. Each kernel's channels are weighted by an attention vector in
    `(0, 1)^width` computed from the parameters by an MLP (sigmoid output), the three are
    summed, passed through GELU and projected back to `in_channels`. A base network then
    receives `(u, CAPE(u, θ))` stacked along channels (`models.ParameterConditioned`).

    **Arguments:** `in_channels`, `n_params`, `modes` (per spatial axis; its length is the
    dimension), `width` (default 16), `kernel_size` (default 5), `padding` (boundary
    condition of the depthwise convolution), `key`, `dtype`.

    **Call:** `(u, params)` with `u: (in_channels, *spatial)`, `params: (n_params,)` →
    `(in_channels, *spatial)`.
    """

    lift: PointwiseLinear
    kernels: tuple[PointwiseLinear, Conv, SpectralConv]
    attention: eqx.nn.MLP
    project: PointwiseLinear
    n_params: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        n_params: int,
        modes: Sequence[int],
        width: int = 16,
        *,
        kernel_size: int = 5,
        padding: str = "dirichlet",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(in_channels=in_channels, n_params=n_params, width=width)
        keys = jr.split(key, 6)
        self.lift = PointwiseLinear(in_channels, width, key=keys[0], dtype=dtype)
        self.kernels = (
            PointwiseLinear(width, width, key=keys[1], dtype=dtype),
            Conv(
                len(modes),
                width,
                width,
                kernel_size,
                groups=width,
                padding_mode=padding,
                key=keys[2],
                dtype=dtype,
            ),
            SpectralConv(width, width, modes, key=keys[3], dtype=dtype),
        )
        self.attention = eqx.nn.MLP(
            n_params, 3 * width, width, 2, activation=gelu, key=keys[4], dtype=dtype
        )
        self.project = PointwiseLinear(width, in_channels, key=keys[5], dtype=dtype)
        self.n_params = n_params

    def __call__(
        self, u: Float[Array, " in *spatial"], params: Float[Array, " p"]
    ) -> Float[Array, " in *spatial"]:
        params = jnp.asarray(params, u.dtype)
        if params.shape != (self.n_params,):
            raise ValueError(
                f"CAPE expects {self.n_params} PDE parameters per sample, got shape "
                f"{params.shape}; pass one sample's parameters and vmap over batches"
            )
        v = self.lift(u)
        weights = jax.nn.sigmoid(self.attention(params)).reshape(3, -1)
        weights = weights.reshape(weights.shape + (1,) * (u.ndim - 1)).astype(u.dtype)
        mixed = sum(w * kernel(v) for w, kernel in zip(weights, self.kernels, strict=True))
        return self.project(gelu(mixed))


class TimeConditionedNorm(eqx.Module):
    """`α(t) · norm(x) + β(t)`: layer norm over the channels at every grid point, with scale
    and shift affine in the (lead) time `t`, initialised to `α = 1, β = 0` (Poseidon).

    **Arguments:** `channels`, `eps` (default 1e-5), `dtype`.
    **Call:** `(x, t)` with `x: (channels, *spatial)` and a scalar `t` → `x`'s shape.
    """

    scale: Float[Array, " 2 channels"]
    shift: Float[Array, " 2 channels"]
    eps: float = eqx.field(static=True)

    def __init__(self, channels: int, *, eps: float = 1e-5, dtype=jnp.float32):
        positive_ints(channels=channels)
        self.scale = jnp.stack([jnp.ones(channels, dtype), jnp.zeros(channels, dtype)])
        self.shift = jnp.zeros((2, channels), dtype)
        self.eps = eps

    def __call__(self, x: Float[ArrayLike, " c *spatial"], t: Float[ArrayLike, ""]) -> Array:
        if x.shape[0] != self.scale.shape[1]:
            raise ValueError(f"expected {self.scale.shape[1]} channels, got shape {x.shape}")
        t = jnp.asarray(t, jnp.float32)
        if t.shape != ():
            raise ValueError(f"t must be a scalar time per sample, got shape {t.shape}")
        compute = jnp.promote_types(x.dtype, jnp.float32)
        z = x.astype(compute)
        z = (z - z.mean(0)) * jax.lax.rsqrt(z.var(0) + self.eps)
        alpha = self.scale[0] + t * self.scale[1]
        beta = self.shift[0] + t * self.shift[1]
        expand = lambda c: c.reshape((-1,) + (1,) * (x.ndim - 1)).astype(compute)
        return (expand(alpha) * z + expand(beta)).astype(x.dtype)
