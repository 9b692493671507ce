"""U-Net convolution blocks, n-dimensional, single sample, channels first.

Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
MICCAI 2015 (arXiv:1505.04597), in the form of its PyTorch re-implementations that the PDE
literature uses (the LSM code of Wu et al., ICML 2023; PDEArena of Gupta & Brandstetter 2022):
"same"-padded 3×3 convolutions, so skip connections need no cropping.

- `ConvBlock`: (3×3 conv → GroupNorm → activation) × 2.
- `Down`: 2× max-pool, then a `ConvBlock`.
- `Up`: 2× multilinear upsampling of the coarse features onto the skip connection's grid,
  concatenation `[skip, upsampled]`, then a `ConvBlock`.

Deviations from those codes: GroupNorm replaces their BatchNorm, because batch statistics do
not fit the single-sample convention (every sample is normalised on its own, identically in
training and evaluation, and `vmap` over a batch equals a loop). Pooling is in "ceil mode" and
upsampling returns to the skip's exact size, so any grid size works, odd ones included, not only
powers of two. Upsampling uses half-pixel centres (`jax.image.resize`), aligned with the 2×2
pooling, where those codes use `align_corners=True`.
"""

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .conv import Conv


def max_pool(x: Float[Array, " C *spatial"]) -> Float[Array, " C *coarse"]:
    """2× max-pooling over every spatial axis in ceil mode: `(C, *n)` → `(C, *ceil(n/2))`.

    An axis of odd size is padded at its end with −∞, so its last node is pooled alone (its
    value is kept); coarse node `j` covers fine nodes `2j` and `2j + 1`.
    """
    spatial = x.shape[1:]
    x = jnp.pad(x, [(0, 0)] + [(0, n % 2) for n in spatial], constant_values=-jnp.inf)
    pairs = [x.shape[0]]
    for n in x.shape[1:]:
        pairs += [n // 2, 2]
    return x.reshape(pairs).max(axis=tuple(range(2, 2 * len(spatial) + 1, 2)))


def upsample(x: Float[Array, " C *coarse"], size: Sequence[int]) -> Float[Array, " C *size"]:
    """2× multilinear upsampling from the ceil-mode coarse grid `coarse = ceil(size/2)` onto
    `size` points per axis.

    `jax.image.resize` to `2·coarse` points (half-pixel centres: coarse node `j` lies midway
    between fine nodes `2j` and `2j + 1`, the two `max_pool` took it from; values are held
    constant beyond the end nodes), then cropped to `size` (an odd axis drops the node that
    pooling padded). So the geometry is exact for odd sizes too.
    """
    size, coarse = tuple(size), x.shape[1:]
    expected = tuple(-(-n // 2) for n in size)
    if coarse != expected:
        raise ValueError(
            f"upsample onto {size} expects the coarse grid ceil(size/2) = {expected}, "
            f"got input shape {x.shape}"
        )
    fine = jax.image.resize(x, (x.shape[0], *(2 * n for n in coarse)), method="linear")
    return fine[(slice(None), *(slice(0, n) for n in size))]


def norm_groups_for(channels: int, norm_groups: int) -> int:
    """Groups of the GroupNorm over `channels`: `gcd(channels, norm_groups)`, so any channel
    count works (1 group normalises over all channels, like LayerNorm)."""
    return math.gcd(channels, norm_groups)


class ConvBlock(eqx.Module):
    """Two 3×3 ("same") convolutions, each followed by GroupNorm and an activation.

    **Arguments:**

    - `dims`: number of spatial axes (1, 2, 3, ...).
    - `in_channels`, `out_channels`: channels of the input and the output.
    - `mid_channels`: channels between the two convolutions (default `out_channels`).
    - `padding_mode`: boundary padding of the convolutions, `"zeros"`, `"circular"`,
        `"reflect"`, `"replicate"` or a boundary condition (see `layers.conv.padding_for`).
    - `norm_groups`: GroupNorm groups, `gcd(channels, norm_groups)` per norm (default 8).
        GroupNorm replaces the BatchNorm of the U-Net and LSM codes (single-sample convention).
    - `activation`: default `jax.nn.relu`, as in those codes.
    - `key`, `dtype`.

    Convolutions have no bias (the norm's shift replaces it), as in the LSM code.

    **Call:** `(in_channels, *spatial)` → `(out_channels, *spatial)`.
    """

    convs: tuple[Conv, Conv]
    norms: tuple[eqx.nn.GroupNorm, eqx.nn.GroupNorm]
    activation: Callable[[Array], Array]

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        *,
        padding_mode: str = "zeros",
        norm_groups: int = 8,
        activation: Callable[[Array], Array] | None = None,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        mid_channels = out_channels if mid_channels is None else mid_channels
        positive_ints(
            in_channels=in_channels,
            out_channels=out_channels,
            mid_channels=mid_channels,
            norm_groups=norm_groups,
        )
        key_1, key_2 = jr.split(key)
        conv = lambda c_in, c_out, k: Conv(
            dims, c_in, c_out, 3, padding_mode=padding_mode, use_bias=False, key=k, dtype=dtype
        )
        norm = lambda c: eqx.nn.GroupNorm(norm_groups_for(c, norm_groups), c, dtype=dtype)
        self.convs = (
            conv(in_channels, mid_channels, key_1),
            conv(mid_channels, out_channels, key_2),
        )
        self.norms = (norm(mid_channels), norm(out_channels))
        self.activation = jax.nn.relu if activation is None else activation

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = self.activation(norm(conv(x)))
        return x


class Down(eqx.Module):
    """2× max-pooling (ceil mode, see `max_pool`) followed by a `ConvBlock`.

    **Arguments:** as `ConvBlock` (`dims`, `in_channels`, `out_channels`, `padding_mode`,
    `norm_groups`, `activation`, `key`, `dtype`).

    **Call:** `(in_channels, *n)` → `(out_channels, *ceil(n/2))`.
    """

    block: ConvBlock

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int,
        *,
        padding_mode: str = "zeros",
        norm_groups: int = 8,
        activation: Callable[[Array], Array] | None = None,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        self.block = ConvBlock(
            dims,
            in_channels,
            out_channels,
            padding_mode=padding_mode,
            norm_groups=norm_groups,
            activation=activation,
            key=key,
            dtype=dtype,
        )

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *coarse"]:
        return self.block(max_pool(x))


class Up(eqx.Module):
    """Upsample 2× onto the skip connection's grid, concatenate `[skip, upsampled]`, `ConvBlock`.

    **Arguments:**

    - `dims`: number of spatial axes.
    - `in_channels`: channels of the coarse input; `skip_channels`: of the skip connection.
    - `out_channels`; `mid_channels` (default `out_channels`) of the `ConvBlock`, whose input
        has `skip_channels + in_channels` channels.
    - `padding_mode`, `norm_groups`, `activation`, `key`, `dtype`: as `ConvBlock`.

    **Call:** `(x, skip)` with `x` of shape `(in_channels, *coarse)` and `skip` of shape
    `(skip_channels, *fine)`, `coarse = ceil(fine/2)` (what `Down` makes of `fine`) →
    `(out_channels, *fine)`; odd `fine` sizes work (see `upsample`).
    """

    block: ConvBlock
    in_channels: int = eqx.field(static=True)
    skip_channels: int = eqx.field(static=True)

    def __init__(
        self,
        dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        *,
        padding_mode: str = "zeros",
        norm_groups: int = 8,
        activation: Callable[[Array], Array] | None = None,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(in_channels=in_channels, skip_channels=skip_channels)
        self.block = ConvBlock(
            dims,
            skip_channels + in_channels,
            out_channels,
            mid_channels,
            padding_mode=padding_mode,
            norm_groups=norm_groups,
            activation=activation,
            key=key,
            dtype=dtype,
        )
        self.in_channels = in_channels
        self.skip_channels = skip_channels

    def __call__(
        self, x: Float[Array, " in *coarse"], skip: Float[Array, " skip *fine"]
    ) -> Float[Array, " out *fine"]:
        if x.ndim != skip.ndim or x.shape[0] != self.in_channels:
            raise ValueError(
                f"Up expects x of shape ({self.in_channels}, *coarse) and skip of shape "
                f"({self.skip_channels}, *fine) with as many axes, got {x.shape} and {skip.shape}"
            )
        if skip.shape[0] != self.skip_channels:
            raise ValueError(
                f"Up expects a skip connection with {self.skip_channels} channels, "
                f"got shape {skip.shape}"
            )
        return self.block(jnp.concatenate([skip, upsample(x, skip.shape[1:])]))
