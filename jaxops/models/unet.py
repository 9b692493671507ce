"""U-Net as a PDE surrogate, n-dimensional (1D, 2D, 3D), single sample, any grid size.

Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
MICCAI 2015 (arXiv:1505.04597), in the form used as a baseline by neural-operator papers
(Gupta & Brandstetter, "Towards Multi-spatiotemporal-scale Generalized PDE Modeling", 2022, the
PDEArena U-Net; the comparisons of LSM, Wu et al., ICML 2023, whose hierarchy `models.lsm`
builds from the same blocks): append grid coordinates; lift pointwise to `width`;
a `ConvBlock` at the finest scale; `levels` stages `Down` (2× max-pool, `ConvBlock`, channels
doubled: `width · 2^i` at scale `i`); `levels` stages `Up` back (2× multilinear upsampling onto
the skip's grid, concatenation with the skip, `ConvBlock` to the skip's channels); project
pointwise width → `projection_width` → out with GELU between (as FNO and LSM).

Paper configuration (Ronneberger et al.): channels 64 → 1024 over four poolings — `width` 64,
`levels` 4 — shipped in `configs/model/unet.yaml` (31,428,609 parameters, 1 → 1 channels).
Deviations: GroupNorm instead of BatchNorm (single-sample convention), "same" padding with a
selectable boundary mode instead of valid convolutions, bilinear upsampling instead of 2×2
up-convolutions, ceil-mode pooling so that odd grid sizes work (see `layers.unet_blocks`).
"""

from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from ..layers.conv import padding_for
from ..layers.pointwise import ChannelMLP, PointwiseLinear, grid_coordinates
from ..layers.unet_blocks import ConvBlock, Down, Up
from .registry import ModelConfig, register

PADDING_CHOICES = ("zeros", "circular", "reflect", "replicate", "dirichlet", "periodic", "neumann")


@dataclass
class UNetConfig(ModelConfig):
    """`model=unet`: the arguments of `UNet` other than channels and key."""

    name: str = "unet"
    dims: int = spec(ge=1, help="spatial dimension of the data")
    width: int = spec(ge=1, help="channels at the finest scale (doubled at each level)")
    levels: int = spec(ge=1, help="number of 2x poolings (Down stages) and Up stages")
    projection_width: int = spec(ge=1, help="hidden channels of the projection")
    grid: str | None = spec(choices=("nodal", "periodic"), help="coordinates appended")
    padding_mode: str = spec(choices=PADDING_CHOICES, help="convolution boundary padding")
    norm_groups: int = spec(ge=1, help="GroupNorm groups (gcd with the channels)")


@register("unet", UNetConfig)
class UNet(eqx.Module):
    """U-Net on `(in_channels, *spatial)` → `(out_channels, *spatial)`, `len(spatial) = dims`.

    **Arguments:**

    - `in_channels`, `out_channels`: channels of the input and output functions.
    - `dims`: number of spatial axes (default 2).
    - `width`: channels at the finest scale (default 64); scale `i` has `width · 2^i`.
    - `levels`: number of `Down` (and `Up`) stages, i.e. `levels + 1` scales (default 4).
    - `projection_width`: hidden channels of the pointwise projection (default 128).
    - `grid`: coordinates appended, `"nodal"` (`i/(n-1)`, the default, as FNO and LSM),
        `"periodic"` (`i/n`) or `None` (a plain U-Net).
    - `padding_mode`: convolution padding, a mode or boundary condition (`layers.conv`).
    - `norm_groups`: GroupNorm groups, `gcd(channels, norm_groups)` per norm (default 8).
    - `key`, `dtype`.

    Any grid size works: pooling is in ceil mode (`n → ceil(n/2)`) and upsampling returns to
    the skip connection's exact size.
    """

    lifting: PointwiseLinear
    inc: ConvBlock
    downs: tuple[Down, ...]
    ups: tuple[Up, ...]
    projection: ChannelMLP
    in_channels: int = eqx.field(static=True)
    dims: int = eqx.field(static=True)
    grid: str | None = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dims: int = 2,
        width: int = 64,
        levels: int = 4,
        *,
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
            dims=dims,
            width=width,
            levels=levels,
            projection_width=projection_width,
            norm_groups=norm_groups,
        )
        if grid not in ("nodal", "periodic", None):
            raise ValueError(f"grid must be 'nodal', 'periodic' or None, got {grid!r}")
        padding_mode = padding_for(padding_mode)
        keys = jr.split(key, 2 * levels + 3)
        common = dict(padding_mode=padding_mode, norm_groups=norm_groups, dtype=dtype)
        channels = [width * 2**i for i in range(levels + 1)]
        lifted = in_channels + (dims if grid else 0)
        self.lifting = PointwiseLinear(lifted, width, key=keys[0], dtype=dtype)
        self.inc = ConvBlock(dims, width, width, key=keys[1], **common)
        self.downs = tuple(
            Down(dims, channels[i], channels[i + 1], key=keys[2 + i], **common)
            for i in range(levels)
        )
        self.ups = tuple(
            Up(dims, channels[i + 1], channels[i], channels[i], key=keys[2 + levels + i], **common)
            for i in reversed(range(levels))
        )
        self.projection = ChannelMLP(
            width, projection_width, out_channels, key=keys[-1], dtype=dtype
        )
        self.in_channels = in_channels
        self.dims = dims
        self.grid = grid

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        if x.ndim != self.dims + 1 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"UNet expects one sample ({self.in_channels}, {self.dims} spatial axes), "
                f"got shape {x.shape}; use jax.vmap for batches"
            )
        if self.grid is not None:
            x = jnp.concatenate([x, grid_coordinates(x.shape[1:], self.grid, x.dtype)])
        v = self.inc(self.lifting(x))
        skips = []
        for down in self.downs:
            skips.append(v)
            v = down(v)
        for up, skip in zip(self.ups, reversed(skips), strict=True):
            v = up(v, skip)
        return self.projection(v)
