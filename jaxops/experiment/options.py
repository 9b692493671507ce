"""The engine's `Settings` of a run, from its config: optimiser, schedule, batches,
evaluation, early stopping, checkpointing, logging and the parallel layout."""

from pathlib import Path

import jax.random as jr
from rich.console import Console

from ..parallel import Parallel, is_primary
from ..train.checkpoint import STATE_DIR
from ..train.engine import Checkpointing, Settings
from ..train.metrics import MetricsLog
from ..train.optim import make_optimizer
from .schema import Config


def engine_settings(
    config: Config, run_dir: Path, n_items: int, console: Console, par: Parallel | None = None
) -> Settings:
    """The engine's `Settings` of a run, built once from the trainer and optimiser configs:
    optimiser and schedule for `n_items` training items per epoch, the run's key, evaluation,
    early stopping, the resumable state in `run_dir/state`, metrics logged by process 0."""
    trainer = config.trainer
    optimizer, schedule = make_optimizer(
        config.optim, n_items // trainer.batch_size, trainer.epochs
    )
    return Settings(
        optimizer=optimizer,
        schedule=schedule,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        key=jr.fold_in(jr.key(config.seed), 1),
        eval_every=trainer.eval_every,
        patience=trainer.patience,
        min_delta=trainer.min_delta,
        keep_best=trainer.keep_best,
        checkpointing=Checkpointing(
            run_dir / STATE_DIR,
            every=trainer.checkpoint_every,
            min_seconds=trainer.checkpoint_seconds,
            resume=config.resume,
        ),
        log_every=trainer.log_every,
        epoch_program=trainer.epoch_program,
        on_epoch=MetricsLog(run_dir / "metrics.jsonl") if is_primary() else None,
        progress=trainer.progress,
        console=console,
        parallel=par,
    )


def objective_options(config: Config) -> dict:
    """What the trainer config sets of a recipe's objective, beside the engine's settings:
    the loss, the normaliser and the evaluation batch (keywords of `train.fit` and
    `train.fit_trajectories`)."""
    trainer = config.trainer
    return dict(
        loss=trainer.loss, normalizer=trainer.normalizer, eval_batch_size=trainer.eval_batch_size
    )
