"""Exponential integrators for semilinear PDEs u_t = L u + N(t, u), as diffrax solvers."""

from .etdrk4 import ETDRK4 as ETDRK4
from .lawson import AbstractLawsonRK as AbstractLawsonRK
from .lawson import LawsonTsit5 as LawsonTsit5
from .phi import phi as phi
from .term import SemiLinearTerm as SemiLinearTerm
