"""Flax linen front-ends of jaxops layers and models (the equinox code runs underneath).

Each module's fields are the equinox class's constructor arguments; inputs are batched and
channels-last, `(*batch, *spatial, channels)`. `variables_from(eqx_module)` gives the Flax
variables of an existing equinox layer, and the two then agree exactly.
"""

from collections.abc import Sequence

import jax.numpy as jnp
from jax.typing import DTypeLike
from jaxtyping import PRNGKeyArray

from .. import layers, models
from .bridge import EquinoxLayer


class SpectralConv(EquinoxLayer):
    """`jaxops.layers.SpectralConv` (FNO Fourier layer) as a Flax module."""

    in_channels: int
    out_channels: int
    modes: Sequence[int]
    rank: int | None = None
    dtype: DTypeLike = jnp.float32

    @property
    def spatial_dims(self) -> int:
        return len(self.modes)

    def build(self, key: PRNGKeyArray) -> layers.SpectralConv:
        return layers.SpectralConv(
            self.in_channels,
            self.out_channels,
            self.modes,
            rank=self.rank,
            key=key,
            dtype=self.dtype,
        )


class MgConv(EquinoxLayer):
    """`jaxops.layers.MgConv` (MgNO V-cycle) as a Flax module."""

    dims: int
    f_channels: int
    u_channels: int
    smoothing: Sequence[Sequence[int]]
    padding: str = "dirichlet"
    dtype: DTypeLike = jnp.float32

    @property
    def spatial_dims(self) -> int:
        return self.dims

    def build(self, key: PRNGKeyArray) -> layers.MgConv:
        return layers.MgConv(
            self.dims,
            self.f_channels,
            self.u_channels,
            self.smoothing,
            padding=self.padding,
            key=key,
            dtype=self.dtype,
        )


class NeuralSpectralBlock(EquinoxLayer):
    """`jaxops.layers.NeuralSpectralBlock` (LSM latent spectral block, 2D) as a Flax module."""

    channels: int
    patch_size: Sequence[int]
    num_basis: int = 12
    num_tokens: int = 4
    heads: int = 8
    dtype: DTypeLike = jnp.float32

    spatial_dims = 2

    def build(self, key: PRNGKeyArray) -> layers.NeuralSpectralBlock:
        return layers.NeuralSpectralBlock(
            self.channels,
            tuple(self.patch_size),
            self.num_basis,
            self.num_tokens,
            self.heads,
            key=key,
            dtype=self.dtype,
        )


class FNO(EquinoxLayer):
    """`jaxops.models.FNO` as a Flax module."""

    in_channels: int
    out_channels: int
    modes: Sequence[int]
    width: int = 32
    depth: int = 4
    projection_width: int = 128
    grid: str | None = "nodal"
    domain_padding: float = 0.0
    rank: int | None = None
    dtype: DTypeLike = jnp.float32

    @property
    def spatial_dims(self) -> int:
        return len(self.modes)

    def build(self, key: PRNGKeyArray) -> models.FNO:
        return models.FNO(
            self.in_channels,
            self.out_channels,
            self.modes,
            self.width,
            self.depth,
            projection_width=self.projection_width,
            grid=self.grid,
            domain_padding=self.domain_padding,
            rank=self.rank,
            key=key,
            dtype=self.dtype,
        )
