"""Hybrids of numerical solvers and neural operators: a coarse solver step with a learned
correction trained through unrolled steps (`CorrectedStep`, Um et al. NeurIPS 2020, Kochkov
et al. PNAS 2021), and neural ODEs whose vector field is a neural operator (`NeuralODE`,
Chen et al. NeurIPS 2018); reference data from fine-grid solves (`reference_trajectories`).
"""

from .corrected import CorrectedStep as CorrectedStep
from .neural_ode import NeuralODE as NeuralODE
from .neural_ode import NeuralODEStep as NeuralODEStep
from .reference import reference_trajectories as reference_trajectories
from .reference import resample as resample
from .training import fit_hybrid as fit_hybrid
