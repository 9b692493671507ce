"""Flax (linen) front-ends of the jaxops layers and models, numerically identical to the
equinox versions: `variables_from(eqx_module)` gives a front-end the same weights."""

from .bridge import EquinoxLayer as EquinoxLayer
from .bridge import variables_from as variables_from
from .modules import FNO as FNO
from .modules import MgConv as MgConv
from .modules import NeuralSpectralBlock as NeuralSpectralBlock
from .modules import SpectralConv as SpectralConv
