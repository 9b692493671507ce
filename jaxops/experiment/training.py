"""`jaxops.experiment.run(config, run_dir)`: what `jaxops train` runs. Generate or load the
dataset, fit the model with the recipe the data call for (pairs, a vmapped sweep or
trajectories), write the run directory and return the summary.

Run directory: `config.yaml` (resolved), `metrics.jsonl` (one line per epoch),
`summary.json`, `checkpoint/` (load with `jaxops.train.load(run_dir)`), `state/` (the
resumable training state: `resume=true` continues a killed run), `predictions.png` (test
samples: input, truth, prediction, error), `history.png` (training curves) and `.lock`
(held while a `jaxops train` runs in it: `run_lock`).
"""

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

import jax
from omegaconf import OmegaConf
from rich.console import Console

from .. import models
from .._config import ConfigError
from .._progress import make_console
from ..data.store import read_shapes
from ..parallel import is_primary, process_zero_value
from ..train import checkpoint
from ..train.loop import count_parameters
from ..train.metrics import write_json
from .assemble import (
    check_model_fits_data,
    counted,
    ensure_dataset,
    load_splits,
    physics_options,
)
from .devices import parallel_setup
from .pairs import fit_pair_data
from .run_dir import resolve_run_dir
from .run_lock import holding_run_lock
from .schema import Config, check_training
from .summary import print_summary
from .sweeps import fit_pair_sweep
from .trajectories import fit_trajectory_data


def run(config: Config, run_dir: str | Path, console: Console | None = None) -> dict[str, Any]:
    """Train `config`'s model on its dataset (pairs or trajectories); write and return the
    summary."""
    config = counted(config)
    check_training(config)
    check_model_fits_data(config)
    physics = physics_options(config)
    primary = is_primary()
    console = console or make_console(quiet=not primary)
    start = time.perf_counter()
    config, par = parallel_setup(config, console)
    run_dir = resolve_run_dir(config, Path(run_dir))
    if process_zero_value(str(run_dir.absolute())) != str(run_dir.absolute()):
        raise ConfigError(
            f"process {jax.process_index()} would write to {run_dir}, process 0 elsewhere: "
            "give every process the same hydra.run.dir (e.g. runs/<name>/$SLURM_JOB_ID)"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    with holding_run_lock(run_dir) if primary else contextlib.nullcontext():
        return _train(config, run_dir, par, physics, console, start)


def _train(config, run_dir: Path, par, physics, console: Console, start: float) -> dict:
    """`run` in its locked run directory: fit, write the checkpoint and the summary."""
    primary = is_primary()
    if not config.resume and primary:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(config)))
    path = ensure_dataset(config, console)
    trajectories = "trajectories" in read_shapes(path)
    stream = config.data.stream_chunk is not None
    if (config.sweep.active or stream) and trajectories:
        raise ConfigError(
            "sweep.* and data.stream_chunk work on pair datasets only; use -m for trajectory "
            "sweeps and load trajectories into memory"
        )
    if physics and trajectories:
        raise ConfigError(
            f"trainer.physics needs a pair dataset, but {path} holds trajectories; set "
            "trainer.physics.weight=0"
        )
    # Several processes: each reads only the training rows its devices hold (pair datasets).
    lazy = (
        jax.process_count() > 1
        and not trajectories
        and not stream
        and config.data.test_params is None  # test rows anywhere: every process reads all
    )
    splits = load_splits(config, path, stream=stream, lazy=lazy)
    fit_data = (
        fit_trajectory_data
        if trajectories
        else fit_pair_sweep
        if config.sweep.active
        else functools.partial(fit_pair_data, physics=physics)
    )
    model, summary, figures, channels = fit_data(config, path, splits, run_dir, console, start, par)
    checkpoint.save(  # every process takes part in a multi-process write
        run_dir / checkpoint.CHECKPOINT_DIR,
        model if jax.process_count() == 1 else par.replicate(model),
        name=config.model.name,
        kwargs=models.config_kwargs(config.model),
        in_channels=channels[0],
        out_channels=channels[1],
    )
    if not primary:
        return {}
    summary = {
        "experiment": config.name,
        "model": config.model.name,
        **summary,
        "n_params": count_parameters(model.model),
        "n_train": len(splits[0]),
        "n_test": len(splits[2]),
        "epochs": config.trainer.epochs,
        "total_seconds": time.perf_counter() - start,
        "dataset": str(path.resolve()),
        "device": str(jax.devices()[0]),
        "devices": jax.device_count(),
        "processes": jax.process_count(),
        "mesh": dict(par.mesh.shape) if par is not None else {"data": 1, "space": 1},
        "global_batch_size": config.trainer.batch_size,
        "lr": config.optim.lr,
        "jax_version": jax.__version__,
        "figures": [str(f) for f in figures],
    }
    write_json(run_dir / "summary.json", summary)
    print_summary(console, summary, run_dir)
    return summary
