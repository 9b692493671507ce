"""Elliptic problems on the unit square: Darcy flow, Poisson and Helmholtz; matrix-free Krylov
solvers and a geometric multigrid preconditioner."""

from .darcy import DarcyConfig as DarcyConfig
from .darcy import DarcyFlow as DarcyFlow
from .darcy import darcy_pcg as darcy_pcg
from .darcy import solve_darcy as solve_darcy
from .krylov import pcg as pcg
from .krylov import spd_solve as spd_solve
from .multigrid import DarcyMultigrid as DarcyMultigrid
from .poisson import solve_helmholtz as solve_helmholtz
from .poisson import solve_poisson as solve_poisson
