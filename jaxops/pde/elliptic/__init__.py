"""Elliptic problems on the unit square: Darcy flow; matrix-free Krylov solvers."""

from .darcy import DarcyConfig as DarcyConfig
from .darcy import DarcyFlow as DarcyFlow
from .darcy import solve_darcy as solve_darcy
from .krylov import pcg as pcg
from .krylov import spd_solve as spd_solve
