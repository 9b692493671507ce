"""jaxops: differentiable PDE solvers and neural operators in JAX.

from jaxops import layers, models, pde, data, train, inverse, hybrid
"""

__version__ = "0.1.0"

from . import data as data
from . import hybrid as hybrid
from . import inverse as inverse
from . import layers as layers
from . import models as models
from . import pde as pde
from . import train as train
