"""`sweep`: K models trained side by side in one compiled program per epoch, on the engine's
own epoch loop (`engine.train_members`: evaluation, early stopping, checkpoints and resume).

Members share the architecture, the training data and the normalisers; they differ by
initialisation seed and/or continuous hyperparameters (learning rate, weight decay: anything
the optimiser reads from `hparams`). The epoch program (`epoch.make_epoch` or the host loop
over `epoch.make_step`) is vmapped over the members' parameters, optimiser states,
hyperparameters and shuffling keys, while the data, items and normalisers are passed once
(`in_axes=None`, never copied K times); evaluation is vmapped likewise. A member whose loss
becomes NaN or infinite is marked diverged at that epoch and keeps its last finite parameters;
a member stops early after `patience` evaluations without improvement; the others train on.

**Equivalence with single runs.** Member i with seed `s` (or key `k`) uses
`model_key, train_key = member_keys(s)`: its run equals
`engine.train(model_fn(model_key), objective, key=train_key, hparams={name: hparams[name][i]},
...)` (and `fit_sweep` equals `loop.fit` likewise), up to float32 rounding: vmapped matrix
products and FFTs are batched kernels that may sum in another order (last bits only).
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Key, PRNGKeyArray

from ..data.normalize import Normalized, Normalizer, NormalizerKind
from . import engine
from .conditions import declared
from .engine import Objective, Settings
from .loop import Pairs, pair_setup
from .members import SweepResult
from .optim import OptimConfig, make_optimizer

__all__ = ["SweepResult", "fit_sweep", "member_keys", "optimizer_from_config", "sweep"]

DEFAULT_OPTIM = OptimConfig("adam", 1e-3, 0.0, "constant", 1, 1.0, 0)
"""Adam at a constant rate 1e-3, no weight decay: `fit_sweep`'s default `optim_config`."""


def member_keys(seed: int | PRNGKeyArray) -> tuple[PRNGKeyArray, PRNGKeyArray]:
    """`(model_key, train_key)` of the member with this seed (an int or a `jax.random.key`):
    `model_fn(model_key)` builds its model and `train_key` drives its shuffling, exactly as
    `engine.train(..., key=train_key)` uses it."""
    key = jr.key(seed) if isinstance(seed, int | np.integer) else seed
    model_key, train_key = jr.split(key)
    return model_key, train_key


def optimizer_from_config(
    config: OptimConfig, steps_per_epoch: int, epochs: int
) -> tuple[Callable[[dict], optax.GradientTransformation], Callable[[dict], optax.Schedule]]:
    """`(optimizer_fn, schedule_fn)`: functions of `hparams = {"lr", "weight_decay"}` (traced
    scalars allowed) building `make_optimizer(config, ...)` and its schedule with those
    overrides. Pass `optimizer_fn` as `optimizer=` of `engine.train`, `loop.fit` or `sweep`."""

    def build(hparams):
        return make_optimizer(
            config, steps_per_epoch, epochs, lr=hparams["lr"], weight_decay=hparams["weight_decay"]
        )

    return (lambda h: build(h)[0]), (lambda h: build(h)[1])


def _members(
    seeds: int | Sequence[int] | PRNGKeyArray, hparams: dict[str, ArrayLike | Sequence[float]]
) -> tuple[int, list[int | None], Key[Array, " K"], dict[str, jax.Array]]:
    """Broadcast seeds and hyperparameters (scalars or length-1 to K); validate lengths."""
    if isinstance(seeds, jax.Array) and jnp.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        keys = seeds.reshape(-1) if seeds.ndim else seeds[None]
        labels: list[int | None] = [None] * len(keys)
    else:
        labels = [int(s) for s in np.atleast_1d(np.asarray(seeds)).reshape(-1)]
        if not labels:
            raise ValueError("seeds is empty: a sweep needs at least one member")
        keys = jnp.stack([jr.key(s) for s in labels])
    values = {name: np.asarray(v, np.float32) for name, v in hparams.items()}
    lengths = {"seeds": len(labels)}
    for name, v in values.items():
        if v.ndim > 1:
            raise ValueError(f"hparams[{name!r}] must be a scalar or 1-D, got shape {v.shape}")
        lengths[f"hparams[{name!r}]"] = v.size if v.ndim else 1
    k = max(lengths.values())
    wrong = {name: n for name, n in lengths.items() if n not in (1, k)}
    if wrong or 0 in lengths.values():
        raise ValueError(
            f"sweep members disagree: lengths {lengths}; every one must have {k} entries "
            "(one per member) or a single one (shared by all members)"
        )
    if len(labels) == 1:
        labels, keys = labels * k, keys[jnp.zeros(k, jnp.int32)]
    stacked = {name: jnp.broadcast_to(jnp.asarray(v), (k,)) for name, v in values.items()}
    return k, labels, keys, stacked


def sweep(
    model_fn: Callable[[PRNGKeyArray], Any],
    objective: Objective,
    settings: Settings | None = None,
    *,
    seeds: int | Sequence[int] | PRNGKeyArray,
    hparams: dict[str, ArrayLike | Sequence[float]] | None = None,
    norms: tuple[Normalizer | None, ...],
    evaluate: Callable[[Normalized, Any], dict[str, jax.Array]],
    eval_data: Any,
    monitor: str,
    **fields,
) -> SweepResult:
    """Train K members of one architecture on `objective`, side by side on the engine's
    epoch loop (`engine.train_members`).

    **Arguments:**

    - `model_fn`: `key → model` (a single-sample equinox module); vmapped over the members'
        model keys, so every member has the same architecture.
    - `settings` and/or keywords: the engine's `Settings`, shared by all members (epochs,
        batch, evaluation, `patience` and `keep_best` per member, checkpointing and resume,
        logging, devices, epoch program). `optimizer` is `hparams → optax transformation` (or
        one transformation for all), built inside the vmapped epoch so its hyperparameters
        may differ per member; `schedule` is `hparams → schedule`, only to log each member's
        `lr`; `on_epoch(member, record)` is called with each member's record of every epoch.
        The members' shuffling keys come from `seeds` and their `hparams` from `hparams`.
    - `seeds`: one int / key per member, or a single one shared by all (`member_keys`).
    - `hparams`: name → `(K,)` values (or a scalar shared by all), e.g. `{"lr": [1e-3, 3e-3]}`.
        Seeds and every hyperparameter must have K entries or one; a mismatch raises
        `ValueError` before anything is built.
    - `norms`, `evaluate`, `eval_data`, `monitor`: as in `engine.train`; shared by all.

    **Returns:** a `SweepResult`. Member i equals the single run described in the module
    docstring. A member whose loss becomes non-finite is recorded in `result.diverged` and
    keeps its last finite parameters; one that stops early in `result.stopped`; training
    ends when every member has diverged or stopped.
    """
    k, labels, keys, hparams = _members(seeds, hparams or {})
    clash = sorted({"key", "hparams"} & set(fields))
    if clash:
        raise TypeError(f"a sweep takes its members' {clash} from seeds= and hparams=")
    schedule = fields.pop("schedule", None)
    model_keys, train_keys = jax.vmap(member_keys)(keys)
    settings = Settings.of(settings, **fields, key=train_keys, hparams=hparams, schedule=None)
    return engine.train_members(
        eqx.filter_vmap(model_fn)(model_keys),
        objective,
        settings,
        norms=norms,
        evaluate=evaluate,
        eval_data=eval_data,
        monitor=monitor,
        schedule=schedule,
        seeds=labels,
    )


def fit_sweep(
    model_fn: Callable[[PRNGKeyArray], Any],
    train: Pairs,
    test: Pairs,
    settings: Settings | None = None,
    *,
    lrs: float | Sequence[float] | None = None,
    weight_decays: float | Sequence[float] | None = None,
    seeds: int | Sequence[int] | PRNGKeyArray = 0,
    optim_config: OptimConfig = DEFAULT_OPTIM,
    normalizer: NormalizerKind = "global",
    loss: str | Callable = "rel_l2",
    lengths: float | tuple[float, ...] = 1.0,
    extra_test: dict[str, Pairs] | None = None,
    validation: Pairs | None = None,
    eval_batch_size: int = 64,
    **fields,
) -> SweepResult:
    """`loop.fit` for K members at once: a sweep over learning rates, weight decays and seeds.

    **Arguments:**

    - `model_fn`: `key → model`, as for `sweep`.
    - `train`, `test`, `normalizer`, `loss`, `lengths`, `extra_test`, `validation`,
        `eval_batch_size`: as in `loop.fit`.
    - `settings` and/or keywords: the engine's `Settings` as for `sweep` (`epochs` and
        `batch_size` required), except the optimiser and its schedule, which are built from
        `optim_config` for each member.
    - `lrs`, `weight_decays`, `seeds`: one value per member, or one shared by all (`None`:
        `optim_config.lr` / `.weight_decay`); every list must have K entries or one.
    - `optim_config`: the optimiser and schedule (`optim.make_optimizer`) whose `lr` and
        `weight_decay` are overridden per member.

    **Returns:** a `SweepResult`; member i equals `loop.fit(model_fn(model_key), train, test,
    optimizer=optimizer_fn, hparams={"lr": lrs[i], "weight_decay": weight_decays[i]},
    key=train_key, ...)` with `model_key, train_key = member_keys(seeds[i])` and
    `optimizer_fn, _ = optimizer_from_config(optim_config, len(train[0]) // batch_size,
    epochs)`.
    """
    hparams = {
        "lr": optim_config.lr if lrs is None else lrs,
        "weight_decay": optim_config.weight_decay if weight_decays is None else weight_decays,
    }
    _members(seeds, hparams)  # fail on mismatched lengths before touching the data
    if {"optimizer", "schedule"} & set(fields):
        raise TypeError(
            "fit_sweep builds each member's optimizer and schedule from optim_config; "
            "call train.sweep.sweep for another optimizer"
        )
    settings = Settings.of(settings, **{"optimizer": None, "key": None, **fields})
    names = declared(eqx.filter_eval_shape(model_fn, jr.key(0)))
    setup = pair_setup(train, test, normalizer, loss, lengths, extra_test, validation,
                       eval_batch_size, settings.parallel, names=names)  # fmt: skip
    optimizer_fn, schedule_fn = optimizer_from_config(
        optim_config, len(setup.objective.items) // settings.batch_size, settings.epochs
    )
    return sweep(
        model_fn,
        setup.objective,
        dataclasses.replace(settings, optimizer=optimizer_fn),
        seeds=seeds,
        hparams=hparams,
        schedule=schedule_fn,
        norms=setup.norms,
        evaluate=setup.evaluate,
        eval_data=setup.eval_data,
        monitor=setup.monitor,
    )
