"""The engine's settings of a run, from its config: optimiser, schedule, loss, batches,
evaluation, early stopping, checkpointing, logging and the parallel layout."""

from pathlib import Path

import jax.random as jr
from rich.console import Console

from ..parallel import Parallel, is_primary
from ..train.checkpoint import STATE_DIR
from ..train.engine import Checkpointing
from ..train.metrics import MetricsLog
from ..train.optim import make_optimizer
from .schema import Config


def engine_options(
    config: Config, run_dir: Path, n_items: int, console: Console, par: Parallel | None = None
) -> dict:
    """Optimiser, schedule and the engine's settings from the trainer config; metrics are
    logged by process 0."""
    trainer = config.trainer
    optimizer, schedule = make_optimizer(
        config.optim, n_items // trainer.batch_size, trainer.epochs
    )
    return dict(
        optimizer=optimizer,
        schedule=schedule,
        loss=trainer.loss,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        key=jr.fold_in(jr.key(config.seed), 1),
        normalizer=trainer.normalizer,
        eval_batch_size=trainer.eval_batch_size,
        eval_every=trainer.eval_every,
        patience=trainer.patience,
        min_delta=trainer.min_delta,
        keep_best=trainer.keep_best,
        checkpointing=Checkpointing(
            run_dir / STATE_DIR, every=trainer.checkpoint_every, resume=config.resume
        ),
        log_every=trainer.log_every,
        epoch_program=trainer.epoch_program,
        on_epoch=MetricsLog(run_dir / "metrics.jsonl") if is_primary() else None,
        progress=trainer.progress,
        console=console,
        parallel=par,
    )
