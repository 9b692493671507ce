"""The Multigrid Neural Operator (MgNO).

He, Liu, Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid", ICLR 2024
(arXiv:2310.19809).

No lifting and no projection network: `depth` layers `u ← σ(MgConv(u) + W u + b)`, each
MgConv a multichannel V-cycle (`layers.MgConv`) and `W, b` a pointwise affine map; the first
layer reads the input channels directly, and a final pointwise linear map without bias gives
the output channels. Paper configuration for Darcy flow (its released code, `MgNO_DC`):
4 layers, 24 channels, 6 levels with one pre-smoothing step per level and two on the
coarsest, zero padding (Dirichlet), GELU — 572,661 parameters for one input channel,
`configs/model/mgno.yaml`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from ..layers.conv import padding_for
from ..layers.multigrid import MgConv, check_smoothing
from ..layers.pointwise import PointwiseLinear, gelu
from .registry import ModelConfig, register


@dataclass
class MgNOConfig(ModelConfig):
    """`model=mgno`: the arguments of `MgNO` other than channels and key."""

    name: str = "mgno"
    dims: int = spec(2, ge=1, le=3, help="spatial dimension")
    width: int = spec(ge=1, help="channels of u in every layer")
    depth: int = spec(ge=1, help="number of MgConv layers")
    smoothing: list[list[int]] = spec(help="(pre, post) smoothing steps per level, finest first")
    padding: str = spec(
        choices=("dirichlet", "periodic", "neumann", "zeros", "circular", "reflect", "replicate"),
        help="boundary condition (or padding mode) of every convolution",
    )


@register("mgno", MgNOConfig)
class MgNO(eqx.Module):
    """Multigrid Neural Operator on `(in_channels, *spatial)` → `(out_channels, *spatial)`.

    **Arguments:**

    - `in_channels`, `out_channels`: channels of the input and output functions.
    - `width`: channels of every layer (default 24).
    - `depth`: number of layers (default 4).
    - `smoothing`: `(pre, post)` smoothing steps per level, finest first (default: the
        paper's Darcy cycle, 6 levels `[[1, 0]] * 5 + [[2, 0]]`).
    - `padding`: boundary condition or padding mode of the convolutions (default
        `"dirichlet"`: zeros; `"periodic"` makes the operator translation equivariant by
        multiples of `2^(levels−1)` points).
    - `dims`: spatial dimension (default 2); `key`; `dtype`.

    Any grid size works (coarse levels have `ceil(n/2)` points).
    """

    cycles: tuple[MgConv, ...]
    skips: tuple[PointwiseLinear, ...]
    output: PointwiseLinear

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 24,
        depth: int = 4,
        smoothing: Sequence[Sequence[int]] = ((1, 0),) * 5 + ((2, 0),),
        *,
        padding: str = "dirichlet",
        dims: int = 2,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(
            in_channels=in_channels, out_channels=out_channels, width=width, depth=depth, dims=dims
        )
        smoothing = check_smoothing(smoothing)
        padding_for(padding)
        keys = jr.split(key, 2 * depth + 1)
        channels = [in_channels] + [width] * (depth - 1)
        self.cycles = tuple(
            MgConv(dims, c, width, smoothing, padding=padding, key=k, dtype=dtype)
            for c, k in zip(channels, keys[:depth], strict=True)
        )
        self.skips = tuple(
            PointwiseLinear(c, width, key=k, dtype=dtype)
            for c, k in zip(channels, keys[depth:-1], strict=True)
        )
        self.output = PointwiseLinear(
            width, out_channels, key=keys[-1], use_bias=False, dtype=dtype
        )

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        for cycle, skip in zip(self.cycles, self.skips, strict=True):
            x = gelu(cycle(x) + skip(x))
        return self.output(x)
