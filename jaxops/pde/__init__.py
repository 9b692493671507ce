"""Differentiable numerical PDE solvers and the problems that generate datasets.

Time-dependent equations (`equations`) are integrated by `simulate` through diffrax, with
exponential integrators (`solvers`) for stiff linear parts; elliptic problems (`elliptic`)
are solved by multigrid-preconditioned conjugate gradients (Darcy) or fast sine transforms
(Poisson, Helmholtz).
"""

from . import equations as equations
from . import grids as grids
from . import random_fields as random_fields
from . import solvers as solvers
from . import transforms as transforms
from .elliptic import DarcyFlow as DarcyFlow
from .elliptic import DarcyMultigrid as DarcyMultigrid
from .elliptic import pcg as pcg
from .elliptic import solve_darcy as solve_darcy
from .elliptic import solve_helmholtz as solve_helmholtz
from .elliptic import solve_poisson as solve_poisson
from .equations import Advection as Advection
from .equations import AdvectionDiffusion as AdvectionDiffusion
from .equations import AllenCahn as AllenCahn
from .equations import Burgers as Burgers
from .equations import Diffusion as Diffusion
from .equations import GrayScott as GrayScott
from .equations import KdV as KdV
from .equations import KuramotoSivashinsky as KuramotoSivashinsky
from .equations import NavierStokes2D as NavierStokes2D
from .integrate import simulate as simulate
from .problems import TrajectoryProblem as TrajectoryProblem
from .random_fields import fourier_series as fourier_series
from .random_fields import neumann_grf as neumann_grf
from .random_fields import periodic_grf as periodic_grf
from .registry import PROBLEMS as PROBLEMS
from .registry import ProblemConfig as ProblemConfig
from .registry import Sample as Sample
from .registry import TrajectorySample as TrajectorySample
from .registry import build as build
