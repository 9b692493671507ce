"""Operator layers (equinox modules), single sample, channels first: `(C, *spatial)`."""

from .pointwise import ChannelMLP as ChannelMLP
from .pointwise import PointwiseLinear as PointwiseLinear
from .pointwise import gelu as gelu
from .pointwise import grid_coordinates as grid_coordinates
from .spectral import SpectralConv as SpectralConv
