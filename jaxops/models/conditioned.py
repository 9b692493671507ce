"""Conditioned operators: on PDE parameters (CAPE around any model) and on time.

- `ParameterConditioned`: Takamoto, Alesiani, Niepert, "Learning Neural PDE Solvers with
  Parameter-Guided Channel Attention", ICML 2023 (arXiv:2304.14118): a CAPE module turns
  `(u, θ)` into a conditioned field; the base model reads `(u, CAPE(u, θ))`.
- `TimeConditionedFNO`: an FNO whose layers pass through a time-conditioned layer norm
  `α(t)·norm(v)+β(t)` (Herde et al., "Poseidon", NeurIPS 2024), so that one model maps
  `u(t_0)` to `u(t_0 + t)` for any lead time `t` — the model of all-to-all training.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from ..layers.conditioning import CAPE, TimeConditionedNorm
from .fno import FNO, FNOConfig
from .registry import MODELS, ModelConfig, register


@dataclass
class WrapperConfig(ModelConfig):
    """A registered base model conditioned on PDE parameters (`cape`, `film`)."""

    n_params: int = spec(ge=1, help="PDE parameters per sample")
    base: str = spec(help="registered name of the base model, e.g. fno")
    base_config: dict[str, Any] = field(default_factory=dict)


def build_base(name: str, config: dict[str, Any] | None, in_channels: int, out_channels: int,
               key: PRNGKeyArray, dtype) -> eqx.Module:  # fmt: skip
    """The registered model `name` built from `config` (lists as tuples) for a wrapper."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in (config or {}).items()}
    return MODELS.build(name, in_channels=in_channels, out_channels=out_channels, key=key,
                        dtype=dtype, **kwargs)  # fmt: skip


@dataclass
class ParameterConditionedConfig(WrapperConfig):
    """`model=cape`: a base model from the registry with a CAPE module in front."""

    name: str = "cape"
    cape_modes: list[int] = spec(ge=1, help="Fourier modes of CAPE's spectral kernel")
    cape_width: int = spec(ge=1, help="channels of the CAPE kernels")
    kernel_size: int = spec(ge=1, help="size of CAPE's depthwise convolution (odd)")
    padding: str = spec(choices=("dirichlet", "periodic", "neumann"), help="boundary condition")
    auxiliary_weight: float = spec(
        ge=0, help="weight of the loss of CAPE's own estimate of the target (0: off)"
    )


@register("cape", ParameterConditionedConfig)
class ParameterConditioned(eqx.Module):
    """`base((u, CAPE(u, θ)))`: any registered model conditioned on PDE parameters θ.

    **Arguments:** `in_channels`, `out_channels`, `n_params`; `base` (a registered model name,
    default `"fno"`) and `base_config` (its keyword arguments); `cape_modes`, `cape_width`,
    `kernel_size`, `padding` (of the `layers.CAPE` module); `auxiliary_weight` (the paper's
    auxiliary loss: training adds this weight times the loss of `auxiliary(u, params)`, the
    CAPE module's own estimate of the target, to every loss term; 0.1 in the paper's code,
    `PrmEmb_coeff`; it needs `in_channels == out_channels`); `key`; `dtype`. The base model
    is built with `2 · in_channels` input channels.

    **Call:** `(u, params)`: `(in_channels, *spatial)`, `(n_params,)` →
    `(out_channels, *spatial)`. The paper's configurations wrap FNO, U-Net and MPNN on 1D/2D
    advection, Burgers and compressible Navier–Stokes with one to three parameters.
    """

    conditions: ClassVar[tuple[str, ...]] = ("params",)  # see jaxops.train.conditions
    cape: CAPE
    base: eqx.Module
    auxiliary_weight: float = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_params: int,
        base: str = "fno",
        base_config: dict[str, Any] | None = None,
        *,
        cape_modes: Sequence[int],
        cape_width: int = 16,
        kernel_size: int = 5,
        padding: str = "dirichlet",
        auxiliary_weight: float = 0.0,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        if not auxiliary_weight >= 0:
            raise ValueError(f"auxiliary_weight must be >= 0, got {auxiliary_weight}")
        if auxiliary_weight and in_channels != out_channels:
            raise ValueError(
                f"CAPE's auxiliary estimate has the input's {in_channels} channels but the "
                f"target has {out_channels} (several input states?): set auxiliary_weight=0 "
                "(model.auxiliary_weight=0)"
            )
        self.auxiliary_weight = float(auxiliary_weight)
        key_cape, key_base = jr.split(key)
        self.cape = CAPE(
            in_channels,
            n_params,
            cape_modes,
            cape_width,
            kernel_size=kernel_size,
            padding=padding,
            key=key_cape,
            dtype=dtype,
        )
        self.base = build_base(base, base_config, 2 * in_channels, out_channels, key_base, dtype)

    def __call__(
        self, u: Float[Array, " in *spatial"], params: Float[Array, " p"]
    ) -> Float[Array, " out *spatial"]:
        return self.base(jnp.concatenate([u, self.cape(u, params)]))

    def auxiliary(
        self, u: Float[Array, " in *spatial"], params: Float[Array, " p"]
    ) -> Float[Array, " in *spatial"]:
        """The CAPE module's own estimate of the target, `CAPE(u, θ)`, which the paper trains
        towards it alongside the prediction (`auxiliary_weight`)."""
        return self.cape(u, params)


@dataclass
class TimeConditionedFNOConfig(FNOConfig):
    """`model=time_fno`: the FNO arguments; the norms add no options."""

    name: str = "time_fno"


@register("time_fno", TimeConditionedFNOConfig)
class TimeConditionedFNO(eqx.Module):
    """FNO with a time-conditioned layer norm after every Fourier layer:
    `v ← σ(α_i(t)·norm(K_i v + W_i v) + β_i(t))`.

    **Arguments:** those of `FNO` (`in_channels`, `out_channels`, `modes`, `width`, `depth`,
    `projection_width`, `grid`, `domain_padding`, `key`, `dtype`).

    **Call:** `(u, t)`: `(in_channels, *spatial)` and a scalar lead time →
    `(out_channels, *spatial)`.
    """

    conditions: ClassVar[tuple[str, ...]] = ("lead_time",)  # see jaxops.train.conditions
    fno: FNO
    norms: tuple[TimeConditionedNorm, ...]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        width: int = 32,
        depth: int = 4,
        **kwargs: Any,
    ):
        positive_ints(width=width, depth=depth)
        self.fno = FNO(in_channels, out_channels, modes, width, depth, **kwargs)
        dtype = kwargs.get("dtype", jnp.float32)
        self.norms = tuple(TimeConditionedNorm(width, dtype=dtype) for _ in range(depth))

    def __call__(self, u: Float[Array, " in *spatial"], t: Float[Array, ""]) -> Array:
        return self.fno.apply(u, lambda i, v: self.norms[i](v, t))
