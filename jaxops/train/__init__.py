"""Training: losses, optax optimisers from config, the fit loop, checkpoints, reports.

`load(run_dir)` returns a trained model ready to call.
"""

from . import losses as losses
from .checkpoint import load as load
from .checkpoint import save as save
from .engine import Checkpointing as Checkpointing
from .engine import FitResult as FitResult
from .engine import Objective as Objective
from .engine import TrainingDiverged as TrainingDiverged
from .loop import count_parameters as count_parameters
from .loop import evaluate_model as evaluate_model
from .loop import fit as fit
from .loop import predict as predict
from .optim import OptimConfig as OptimConfig
from .optim import make_optimizer as make_optimizer
