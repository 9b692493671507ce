"""The sweep recipe (`sweep.*`): K members of one model, trained as one vmapped program; the
best member is the run's model and every member's final metrics go to `sweep.csv`."""

import time

import numpy as np

from .. import models
from ..data.store import domain_lengths
from ..parallel import is_primary
from ..train.metrics import MetricsLog, mean_prediction_error, write_csv
from ..train.report import plot_history
from ..train.sweep import fit_sweep
from .devices import local_copy
from .summary import error_summary


def fit_pair_sweep(config, path, splits, run_dir, console, start, par=None):
    """`sweep.*`: K members in one vmapped program; the best member is the run's model, every
    member's final metrics go to `sweep.csv` and the summary."""
    train_set, val_set, test_set = splits
    data_seconds = time.perf_counter() - start
    channels = train_set.inputs.shape[1], train_set.outputs.shape[1]
    kwargs = models.config_kwargs(config.model)
    build = lambda key: models.build(
        config.model.name, in_channels=channels[0], out_channels=channels[1], key=key, **kwargs
    )
    sweep_config, trainer = config.sweep, config.trainer
    log = MetricsLog(run_dir / "metrics.jsonl") if is_primary() else lambda record: None
    result = fit_sweep(
        build,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        validation=None if val_set is None else (val_set.inputs, val_set.outputs),
        lrs=sweep_config.lrs or None,
        weight_decays=sweep_config.weight_decays or None,
        seeds=sweep_config.seeds or config.seed,
        optim_config=config.optim,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        normalizer=trainer.normalizer,
        loss=trainer.loss,
        lengths=domain_lengths(train_set),
        eval_batch_size=trainer.eval_batch_size,
        eval_every=trainer.eval_every,
        log_every=trainer.log_every,
        on_epoch=lambda member, record: log({"member": member, **record}),
        progress=trainer.progress,
        console=console,
        parallel=par,
    )
    best = result.best()
    model = local_copy(result.member(best))
    if not is_primary():
        return model, {}, [], channels
    members = [
        {
            "member": i,
            "seed": result.seeds[i],
            **{name: float(f"{values[i]:.7g}") for name, values in result.hparams.items()},
            **{k: float(v[i].mean()) for k, v in result.evaluation.items()},
            "diverged_epoch": result.diverged.get(i),
        }
        for i in range(result.size)
    ]
    write_csv(run_dir / "sweep.csv", list(members[0]), [list(m.values()) for m in members])
    errors = result.evaluation["test_rel_l2"][best]
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    figures = [plot_history(run_dir / "history.png", result.history[best], baseline)]
    summary = {
        **error_summary(errors, baseline),
        "train_grid": list(train_set.inputs.shape[2:]),
        "data_seconds": data_seconds,
        "best_member": best,
        "members": members,
        "compile_seconds": result.compile_seconds,
        "epoch_seconds_median": float(np.median(result.epoch_seconds)),
    }
    return model, summary, figures, channels
