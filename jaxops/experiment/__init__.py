"""Experiments as library calls: exactly what the `jaxops` command runs, from Python.

    from jaxops import experiment

    config = experiment.compose(["experiment=darcy_fno", "trainer.epochs=5"])
    summary = experiment.run(config, "runs/mine")     # run directory, summary, figures
    experiment.evaluate("runs/mine", ["data.subsample=1"])

`compose` reads the Hydra configs of `configs/` (`Config` is their schema); `generate` writes
a config's dataset; `run` fits it with the recipe its data call for (pairs in `pairs`, a
vmapped sweep in `sweeps`, trajectories in `trajectories`); `evaluate` re-scores a run.
"""

from .composition import compose as compose
from .evaluation import evaluate as evaluate
from .generation import generate as generate
from .schema import Config as Config
from .training import run as run
