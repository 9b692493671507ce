"""The sweep recipe (`sweep.*`): K members of one model, trained side by side on the engine's
loop with the run's settings (evaluation, early stopping, `keep_best`, the resumable state);
the best member is the run's model and every member's final metrics go to `sweep.csv`."""

import dataclasses
import time

import numpy as np

from .. import models
from ..data.store import domain_lengths
from ..parallel import is_primary
from ..train.metrics import mean_prediction_error, write_csv
from ..train.report import plot_history
from ..train.sweep import fit_sweep
from .devices import local_copy
from .options import engine_settings, objective_options
from .summary import error_summary


def fit_pair_sweep(config, path, splits, run_dir, console, start, par=None):
    """`sweep.*`: K members in one vmapped program; the best member is the run's model, every
    member's final metrics go to `sweep.csv` and the summary, each epoch's records of every
    member to `metrics.jsonl` (with a `member` field)."""
    train_set, val_set, test_set = splits
    data_seconds = time.perf_counter() - start
    channels = train_set.inputs.shape[1], train_set.outputs.shape[1]
    kwargs = models.config_kwargs(config.model)
    build = lambda key: models.build(
        config.model.name, in_channels=channels[0], out_channels=channels[1], key=key, **kwargs
    )
    settings = engine_settings(config, run_dir, len(train_set.inputs), console, par)
    log = settings.on_epoch
    on_epoch = None if log is None else lambda member, record: log({"member": member, **record})
    result = fit_sweep(
        build,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        dataclasses.replace(settings, optimizer=None, schedule=None, on_epoch=on_epoch),
        validation=None if val_set is None else (val_set.inputs, val_set.outputs),
        lrs=config.sweep.lrs or None,
        weight_decays=config.sweep.weight_decays or None,
        seeds=config.sweep.seeds or config.seed,
        optim_config=config.optim,
        lengths=domain_lengths(train_set),
        **objective_options(config),
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
            "best_epoch": result.best_epoch[i],
            "diverged_epoch": result.diverged.get(i),
            "stopped_epoch": result.stopped.get(i),
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
        "resumed_from_epoch": result.resumed_from,
        "compile_seconds": result.compile_seconds,
        "epoch_seconds_median": float(np.median(result.epoch_seconds or [np.nan])),
    }
    return model, summary, figures, channels
