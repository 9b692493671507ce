"""The Fourier Neural Operator (FNO), n-dimensional, single sample.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier Neural
Operator for Parametric Partial Differential Equations", ICLR 2021 (arXiv:2010.08895).

Architecture (the paper's Section 4 and its ``fourier_2d.py``): append grid coordinates to the
input channels; lift pointwise to `width` channels (P); `depth` Fourier layers
``v ← σ(K v + W v)`` with K a `SpectralConv` over the lowest `modes` and W a pointwise linear
skip (no activation after the last layer); project pointwise width → `projection_width` → out
with GELU between (Q). Paper configuration for Darcy flow (85×85, 1000 training samples):
modes (12, 12), width 32, depth 4, projection 128 — `configs/model/fno.yaml`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from ..layers.pointwise import ChannelMLP, PointwiseLinear, gelu, grid_coordinates
from ..layers.spectral import SpectralConv, check_modes
from .registry import ModelConfig, register


@dataclass
class FNOConfig(ModelConfig):
    """`model=fno`: the arguments of `FNO` other than channels and key."""

    name: str = "fno"
    modes: list[int] = spec(ge=1, help="Fourier modes kept per spatial axis")
    width: int = spec(ge=1, help="channels of the Fourier layers")
    depth: int = spec(ge=1, help="number of Fourier layers")
    projection_width: int = spec(ge=1, help="hidden channels of the projection")
    grid: str | None = spec(choices=("nodal", "periodic"), help="coordinates appended")
    domain_padding: float = spec(ge=0.0, help="fraction of each axis zero-padded")
    rank: int | None = spec(None, ge=1, help="CP rank of factorised spectral weights (TFNO)")


@register("fno", FNOConfig)
class FNO(eqx.Module):
    """Fourier Neural Operator on `(in_channels, *spatial)` → `(out_channels, *spatial)`.

    **Arguments:**

    - `in_channels`, `out_channels`: channels of the input and output functions.
    - `modes`: Fourier modes per spatial axis, e.g. `(12, 12)`; its length is the dimension.
    - `width`: channels of the Fourier layers (default 32).
    - `depth`: number of Fourier layers (default 4).
    - `projection_width`: hidden channels of the pointwise projection (default 128).
    - `grid`: `"nodal"` (coordinates `i/(n-1)`, boundary included, as in the paper),
        `"periodic"` (`i/n`) or `None` (no coordinates appended).
    - `domain_padding`: fraction of each spatial axis zero-padded at its end before the
        Fourier layers and cropped after (helps non-periodic problems; scales with resolution).
    - `rank`: `None` for dense spectral weights, or the CP rank of factorised weights
        (`layers.SpectralConv`; the tensorised FNO of Kossaifi et al., TMLR 2024).
    - `key`: a `jax.random.key`.

    Works at any resolution the Fourier layers admit (`layers.spectral.check_resolution`:
    at least `2 m` points per axis, `2 (m − 1)` on the last, counted after padding).
    """

    lifting: PointwiseLinear
    spectral: tuple[SpectralConv, ...]
    skips: tuple[PointwiseLinear, ...]
    projection: ChannelMLP
    grid: str | None = eqx.field(static=True)
    domain_padding: float = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        width: int = 32,
        depth: int = 4,
        *,
        projection_width: int = 128,
        grid: str | None = "nodal",
        domain_padding: float = 0.0,
        rank: int | None = None,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(
            in_channels=in_channels,
            out_channels=out_channels,
            width=width,
            depth=depth,
            projection_width=projection_width,
        )
        modes = check_modes(modes)
        if grid not in ("nodal", "periodic", None):
            raise ValueError(f"grid must be 'nodal', 'periodic' or None, got {grid!r}")
        if domain_padding < 0:
            raise ValueError(f"domain_padding must be >= 0, got {domain_padding!r}")
        keys = jr.split(key, 2 * depth + 2)
        lifted = in_channels + (len(modes) if grid else 0)
        self.lifting = PointwiseLinear(lifted, width, key=keys[0], dtype=dtype)
        self.spectral = tuple(
            SpectralConv(width, width, modes, rank=rank, key=k, dtype=dtype)
            for k in keys[1 : depth + 1]
        )
        self.skips = tuple(
            PointwiseLinear(width, width, key=k, dtype=dtype) for k in keys[depth + 1 : -1]
        )
        self.projection = ChannelMLP(
            width, projection_width, out_channels, key=keys[-1], dtype=dtype
        )
        self.grid = grid
        self.domain_padding = float(domain_padding)

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        return self.apply(x)

    def apply(
        self,
        x: Float[Array, " in *spatial"],
        after_layer: Callable[[int, Array], Array] | None = None,
    ) -> Float[Array, " out *spatial"]:
        """The forward pass; `after_layer(i, v)`, if given, transforms the output `K v + W v`
        of Fourier layer `i` before its activation (e.g. a conditioned norm)."""
        spatial = x.shape[1:]
        if self.grid is not None:
            x = jnp.concatenate([x, grid_coordinates(spatial, self.grid, x.dtype)])
        v = self.lifting(x)
        pad = [round(self.domain_padding * n) for n in spatial]
        v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pad])
        for i, (kernel, skip) in enumerate(zip(self.spectral, self.skips, strict=True)):
            v = kernel(v) + skip(v)
            if after_layer is not None:
                v = after_layer(i, v)
            if i < len(self.spectral) - 1:
                v = gelu(v)
        v = v[(slice(None),) + tuple(slice(0, n) for n in spatial)]
        return self.projection(v)
