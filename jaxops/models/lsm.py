"""Latent Spectral Model (LSM), 2D, single sample, any grid size.

Wu, Hu, Luo, Wang, Long, "Solving High-Dimensional PDEs with Latent Spectral Models", ICML 2023
(arXiv:2301.12664); official code github.com/thuml/Latent-Spectral-Models (`LSM_2D.py`).

Architecture (the official `LSM2d`): append grid coordinates; lift pointwise to `width`;
zero-pad at the end of each axis so that every scale is divisible by the patch size; a U-Net
hierarchy of `levels` scales — a `ConvBlock` at the finest, then `levels − 1` `Down` stages with
channels `width · 2^i` at scale `i`, except the coarsest, which keeps the channels of the scale
above (the official code's bilinear `factor = 2`); a `NeuralSpectralBlock` at every scale on
the skip and bottleneck features (the hierarchical projection); `Up` stages back, each ending
at the channels of the next finer scale (`width` at the finest); a pointwise `width → width`
map; crop; project pointwise width → `projection_width` → out with GELU between.

Paper configuration for Darcy flow (85×85), as the official code sets it (`exp_darcy.py`,
`scripts/darcy_lsm.sh`; not checked against the paper's appendix): `width` (d_model) 64,
`num_basis` 12, `num_tokens` 4, `patch_size` (3, 3) (one version of the script uses (6, 6)),
`levels` 5, `heads` 8, projection 128; the official padding 85 → 96 is what the automatic
padding chooses — `configs/model/lsm.yaml` (19,187,457 parameters, 1 → 1 channels).

Deviations from the official code: GroupNorm instead of BatchNorm (single-sample convention);
padding computed from the input size instead of a fixed `padding` argument; ×2 multilinear
upsampling with half-pixel centres instead of `align_corners=True` (see `layers.unet_blocks`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import ConfigError, spec
from ..layers.conv import padding_for
from ..layers.latent import NeuralSpectralBlock, check_patch_size
from ..layers.pointwise import ChannelMLP, PointwiseLinear, grid_coordinates
from ..layers.unet_blocks import ConvBlock, Down, Up
from .registry import ModelConfig, register
from .unet import PADDING_CHOICES


@dataclass
class LSMConfig(ModelConfig):
    """`model=lsm`: the arguments of `LSM` other than channels and key."""

    name: str = "lsm"
    width: int = spec(ge=1, help="channels at the finest scale (d_model)")
    levels: int = spec(ge=1, help="number of scales (the finest included)")
    patch_size: list[int] = spec(ge=1, help="points per patch along each axis")
    num_basis: int = spec(ge=1, help="basis functions of the spectral transition")
    num_tokens: int = spec(ge=1, help="latent tokens per head")
    heads: int = spec(ge=1, help="attention heads (must divide width)")
    projection_width: int = spec(ge=1, help="hidden channels of the projection")
    grid: str | None = spec(choices=("nodal", "periodic"), help="coordinates appended")
    padding_mode: str = spec(choices=PADDING_CHOICES, help="convolution boundary padding")
    norm_groups: int = spec(ge=1, help="GroupNorm groups (gcd with the channels)")

    def check(self, key: str) -> None:
        if len(self.patch_size) != 2:
            raise ConfigError(
                f"{key}.patch_size={list(self.patch_size)} must give two sizes, [rows, columns]"
            )
        if self.width % self.heads:
            raise ConfigError(
                f"{key}.width={self.width} must be divisible by {key}.heads={self.heads}"
            )


def padded_size(n: int, patch: int, levels: int) -> int:
    """The smallest `m >= n` such that every scale `m, ceil(m/2), …` (`levels` of them) is a
    multiple of `patch` (for `patch > 1`: the next multiple of `patch · 2^(levels−1)`)."""
    m = n
    while True:
        sizes = [m]
        for _ in range(levels - 1):
            sizes.append(-(-sizes[-1] // 2))
        if all(s % patch == 0 for s in sizes):
            return m
        m += 1


def scale_channels(width: int, levels: int) -> list[int]:
    """Channels of the `levels` scales: `width · 2^i`, the coarsest equal to the one above."""
    channels = [width * 2**i for i in range(levels)]
    if levels > 1:
        channels[-1] = channels[-2]
    return channels


@register("lsm", LSMConfig)
class LSM(eqx.Module):
    """Latent Spectral Model on `(in_channels, H, W)` → `(out_channels, H, W)`.

    **Arguments:**

    - `in_channels`, `out_channels`: channels of the input and output functions.
    - `width`: channels at the finest scale, `d_model` (default 64); divisible by `heads`.
    - `levels`: number of scales, the finest included (default 5, as the official code).
    - `patch_size`: points per patch along each axis, int or `(p, q)` (default (3, 3)).
    - `num_basis`, `num_tokens`, `heads`: of the `NeuralSpectralBlock`s (default 12, 4, 8).
    - `projection_width`: hidden channels of the pointwise projection (default 128).
    - `grid`: `"nodal"` (`i/(n-1)`, as the paper), `"periodic"` (`i/n`) or `None`.
    - `padding_mode`: convolution padding, a mode or boundary condition (`layers.conv`).
    - `norm_groups`: GroupNorm groups, `gcd(channels, norm_groups)` per norm (default 8).
    - `key`, `dtype`.

    Any resolution works: each axis is zero-padded at its end to `padded_size(n, p, levels)`
    after the lifting and cropped back before the projection.
    """

    lifting: PointwiseLinear
    inc: ConvBlock
    downs: tuple[Down, ...]
    spectral: tuple[NeuralSpectralBlock, ...]
    ups: tuple[Up, ...]
    out: PointwiseLinear
    projection: ChannelMLP
    in_channels: int = eqx.field(static=True)
    patch_size: tuple[int, int] = eqx.field(static=True)
    grid: str | None = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        levels: int = 5,
        patch_size: int | Sequence[int] = (3, 3),
        *,
        num_basis: int = 12,
        num_tokens: int = 4,
        heads: int = 8,
        projection_width: int = 128,
        grid: str | None = "nodal",
        padding_mode: str = "zeros",
        norm_groups: int = 8,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(
            in_channels=in_channels,
            out_channels=out_channels,
            width=width,
            levels=levels,
            num_basis=num_basis,
            num_tokens=num_tokens,
            heads=heads,
            projection_width=projection_width,
            norm_groups=norm_groups,
        )
        if width % heads:
            raise ValueError(f"width={width} must be divisible by heads={heads}; change one")
        if grid not in ("nodal", "periodic", None):
            raise ValueError(f"grid must be 'nodal', 'periodic' or None, got {grid!r}")
        self.patch_size = check_patch_size(patch_size)
        padding_mode = padding_for(padding_mode)
        keys = jr.split(key, 3 * levels + 2)
        common = dict(padding_mode=padding_mode, norm_groups=norm_groups, dtype=dtype)
        channels = scale_channels(width, levels)
        lifted = in_channels + (2 if grid else 0)
        self.lifting = PointwiseLinear(lifted, width, key=keys[0], dtype=dtype)
        self.inc = ConvBlock(2, width, width, key=keys[1], **common)
        self.downs = tuple(
            Down(2, channels[i], channels[i + 1], key=keys[2 + i], **common)
            for i in range(levels - 1)
        )
        self.spectral = tuple(
            NeuralSpectralBlock(
                c, self.patch_size, num_basis, num_tokens, heads, key=k, dtype=dtype
            )
            for c, k in zip(channels, keys[levels + 1 : 2 * levels + 1], strict=True)
        )
        self.ups = tuple(
            Up(
                2,
                channels[i],
                channels[i],
                channels[i - 1] if i > 0 else width,
                channels[i],
                key=keys[2 * levels + 1 + i],
                **common,
            )
            for i in reversed(range(levels - 1))
        )
        self.out = PointwiseLinear(width, width, key=keys[-2], dtype=dtype)
        self.projection = ChannelMLP(
            width, projection_width, out_channels, key=keys[-1], dtype=dtype
        )
        self.in_channels = in_channels
        self.grid = grid

    @property
    def levels(self) -> int:
        return len(self.spectral)

    def padded_shape(self, spatial: Sequence[int]) -> tuple[int, int]:
        """The grid the hierarchy runs on for an input grid `spatial` (see `padded_size`)."""
        return tuple(
            padded_size(n, p, self.levels) for n, p in zip(spatial, self.patch_size, strict=True)
        )

    def __call__(self, x: Float[Array, " in H W"]) -> Float[Array, " out H W"]:
        if x.ndim != 3 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"LSM expects one 2D sample ({self.in_channels}, H, W), got shape {x.shape}; "
                "use jax.vmap for batches"
            )
        spatial = x.shape[1:]
        if self.grid is not None:
            x = jnp.concatenate([x, grid_coordinates(spatial, self.grid, x.dtype)])
        v = self.lifting(x)
        pad = [m - n for m, n in zip(self.padded_shape(spatial), spatial, strict=True)]
        v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pad])
        features = [self.inc(v)]
        for down in self.downs:
            features.append(down(features[-1]))
        features = [block(f) for block, f in zip(self.spectral, features, strict=True)]
        v = features[-1]
        for up, skip in zip(self.ups, reversed(features[:-1]), strict=True):
            v = up(v, skip)
        v = self.out(v)[:, : spatial[0], : spatial[1]]
        return self.projection(v)
