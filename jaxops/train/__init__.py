"""Training: one engine (`engine.train`) for pairs (`fit`), trajectories (`fit_trajectories`:
one-step, unrolled, pushforward, CAPE curriculum, all-to-all) and vmapped ensembles
(`fit_sweep`); losses, optax optimisers from config, resumable checkpoints, reports;
physics-informed losses (`physics`, `fit(..., physics=...)`) and Spectral-Refiner fine-tuning
(`refine_last_spectral_layer`).

`load(run_dir)` returns a trained model ready to call.
"""

from . import losses as losses
from . import physics as physics
from . import rollout as rollout
from .checkpoint import CheckpointError as CheckpointError
from .checkpoint import load as load
from .checkpoint import save as save
from .engine import Checkpointing as Checkpointing
from .engine import ChunkedObjective as ChunkedObjective
from .engine import FitResult as FitResult
from .engine import Objective as Objective
from .engine import Settings as Settings
from .engine import TrainingDiverged as TrainingDiverged
from .loop import count_parameters as count_parameters
from .loop import evaluate_model as evaluate_model
from .loop import fit as fit
from .loop import predict as predict
from .optim import OptimConfig as OptimConfig
from .optim import make_optimizer as make_optimizer
from .refiner import refine_last_spectral_layer as refine_last_spectral_layer
from .sweep import SweepResult as SweepResult
from .sweep import fit_sweep as fit_sweep
from .temporal import fit_trajectories as fit_trajectories
