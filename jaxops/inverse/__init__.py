"""Inverse problems: recover an unknown input (a coefficient, an initial condition) from
noisy, sparse observations by gradient-based optimisation through a numerical solver or a
trained surrogate, with Tikhonov, total-variation or learned (RED) regularisers.

    obs = inverse.Observations.of(key, u_true, inverse.grid_points(u_true.shape, 2), 0.01)
    result = inverse.recover(lambda a: pde.solve_darcy(a[0])[None], obs, a0,
                             regularizer=inverse.TotalVariation(), weight=1e-3,
                             parametrization=inverse.Bounded(3.0, 12.0), steps=300)
"""

from .observations import Observations as Observations
from .observations import grid_points as grid_points
from .observations import random_points as random_points
from .parametrizations import AbstractParametrization as AbstractParametrization
from .parametrizations import Bounded as Bounded
from .parametrizations import Identity as Identity
from .recover import Recovery as Recovery
from .recover import objective as objective
from .recover import recover as recover
from .regularizers import RED as RED
from .regularizers import Tikhonov as Tikhonov
from .regularizers import TotalVariation as TotalVariation
