"""Differentiable numerical PDE solvers and the problems that generate datasets."""

from . import random_fields as random_fields
from .elliptic import DarcyFlow as DarcyFlow
from .elliptic import pcg as pcg
from .elliptic import solve_darcy as solve_darcy
from .random_fields import neumann_grf as neumann_grf
from .registry import PROBLEMS as PROBLEMS
from .registry import ProblemConfig as ProblemConfig
from .registry import Sample as Sample
from .registry import TrajectorySample as TrajectorySample
from .registry import build as build
