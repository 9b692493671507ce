"""Operator layers (equinox modules), single sample, channels first: `(C, *spatial)`."""

from .conditioning import CAPE as CAPE
from .conditioning import TimeConditionedNorm as TimeConditionedNorm
from .constraints import divergence as divergence
from .constraints import integral as integral
from .constraints import leray_projection as leray_projection
from .constraints import linear_projection as linear_projection
from .constraints import mass_projection as mass_projection
from .constraints import quadrature_weights as quadrature_weights
from .conv import Conv as Conv
from .conv import ConvTranspose as ConvTranspose
from .latent import NeuralSpectralBlock as NeuralSpectralBlock
from .multigrid import MgConv as MgConv
from .pointwise import ChannelMLP as ChannelMLP
from .pointwise import PointwiseLinear as PointwiseLinear
from .pointwise import gelu as gelu
from .pointwise import grid_coordinates as grid_coordinates
from .spectral import SpectralConv as SpectralConv
from .unet_blocks import ConvBlock as ConvBlock
from .unet_blocks import Down as Down
from .unet_blocks import Up as Up
