"""Time-dependent equations u_t = L u + N(t, u), one per file (see `base.py`)."""

from .advection import Advection as Advection
from .advection_diffusion import AdvectionDiffusion as AdvectionDiffusion
from .allen_cahn import AllenCahn as AllenCahn
from .base import AbstractEquation as AbstractEquation
from .burgers import Burgers as Burgers
from .diffusion import Diffusion as Diffusion
from .gray_scott import GrayScott as GrayScott
from .kdv import KdV as KdV
from .kuramoto_sivashinsky import KuramotoSivashinsky as KuramotoSivashinsky
from .navier_stokes import NavierStokes2D as NavierStokes2D
