"""FiLM conditioning of any registered model on PDE parameters: Perez, Strub, de Vries,
Dumoulin, Courville, "FiLM: Visual Reasoning with a General Conditioning Layer", AAAI 2018.

A small MLP maps the parameter vector θ to a per-channel scale and shift of the input field
and to `embed` constant channels; the base model reads `((1 + γ(θ)) ⊙ u + β(θ), e(θ))`.
The MLP's last layer starts at zero, so an untrained `FiLMConditioned` is its base model
with `embed` zero channels added. It is the simple parameter-aware baseline beside CAPE
(`model=cape`): both take `model(u, params)` and train through the same path.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from .conditioned import WrapperConfig, build_base
from .registry import register


@dataclass
class FiLMConditionedConfig(WrapperConfig):
    """`model=film`: a base model from the registry, FiLM-conditioned on the PDE parameters."""

    name: str = "film"
    embed: int = spec(4, ge=0, help="constant channels carrying the parameters")
    hidden: int = spec(32, ge=1, help="width of the MLP from the parameters")


@register("film", FiLMConditionedConfig)
class FiLMConditioned(eqx.Module):
    """`base(((1 + γ(θ)) ⊙ u + β(θ), e(θ)))`: any registered model conditioned on θ.

    **Arguments:** `in_channels`, `out_channels`, `n_params`; `base` (a registered model name)
    and `base_config` (its keyword arguments); `embed` (constant parameter channels), `hidden`
    (MLP width); `key`; `dtype`. The base model is built with `in_channels + embed` inputs.

    **Call:** `(u, params)`: `(in_channels, *spatial)`, `(n_params,)` →
    `(out_channels, *spatial)`.
    """

    conditions: ClassVar[tuple[str, ...]] = ("params",)  # see jaxops.train.conditions
    film: eqx.nn.MLP
    base: eqx.Module
    in_channels: int = eqx.field(static=True)
    embed: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_params: int,
        base: str = "fno",
        base_config: dict[str, Any] | None = None,
        *,
        embed: int = 4,
        hidden: int = 32,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(in_channels=in_channels, n_params=n_params, hidden=hidden)
        key_film, key_base = jr.split(key)
        film = eqx.nn.MLP(n_params, 2 * in_channels + embed, hidden, 2, activation=jax.nn.gelu,
                          key=key_film, dtype=dtype)  # fmt: skip
        last = film.layers[-1]
        self.film = eqx.tree_at(
            lambda m: (m.layers[-1].weight, m.layers[-1].bias),
            film,
            (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
        )
        self.base = build_base(base, base_config, in_channels + embed, out_channels, key_base,
                               dtype)  # fmt: skip
        self.in_channels, self.embed = in_channels, embed

    def __call__(
        self, u: Float[Array, " in *spatial"], params: Float[Array, " p"]
    ) -> Float[Array, " out *spatial"]:
        c = self.in_channels
        out = self.film(params.astype(self.film.layers[0].weight.dtype))
        gamma, beta, e = out[:c], out[c : 2 * c], out[2 * c :]
        spread = (slice(None),) + (None,) * (u.ndim - 1)
        field = (1 + gamma[spread]) * u + beta[spread]
        constant = jnp.broadcast_to(e[spread], (self.embed, *u.shape[1:])).astype(u.dtype)
        return self.base(jnp.concatenate([field.astype(u.dtype), constant]))
