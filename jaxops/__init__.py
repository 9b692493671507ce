"""jaxops: differentiable PDE solvers and neural operators in JAX.

from jaxops import layers, models, pde, data, train
"""

__version__ = "0.1.0"

from . import data as data
from . import layers as layers
from . import models as models
from . import pde as pde
from . import train as train
