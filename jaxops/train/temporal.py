"""`fit_trajectories`: train an autoregressive or time-conditioned operator on trajectories.

Trajectories `(N, T, C, *spatial)` are trained with the item losses of `train.rollout`:
one-step pairs (teacher forcing), k-step unrolled training, the pushforward trick, the CAPE
curriculum from teacher forcing to autoregression, or Poseidon's all-to-all pairs for a
time-conditioned model `model(u, dt)`. The test set is scored by full autoregressive rollouts
(`test_rollout_rel_l2`: the error averaged over rollout steps, monitored) or, all-to-all, by
direct predictions at every lead time from the first state (`test_lead_rel_l2`).
States are normalised per channel with statistics of all training states; an autoregressive
model reading `history` states gets those statistics repeated for each.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._config import spec
from ..data.normalize import Normalizer, NormalizerKind
from . import auxiliary, conditions, engine, rollout
from .conditions import bind, takes_lead_time
from .engine import FitResult
from .losses import get_loss, relative_l2

MODES = ("one_step", "unrolled", "pushforward", "curriculum", "all_to_all")


@dataclass
class RolloutConfig:
    """`trainer.rollout`: how trajectory datasets are trained (ignored for pair datasets)."""

    mode: str = spec(
        "one_step",
        choices=MODES,
        help="one_step (teacher forcing), unrolled (k-step BPTT), pushforward, curriculum "
        "(CAPE tanh schedule), all_to_all (time-conditioned models, Poseidon)",
    )
    history: int = spec(1, ge=1, help="input states stacked as channels (FNO paper NS: 10)")
    steps: int = spec(1, ge=1, help="k: predicted states per window (unrolled modes)")
    center: float = spec(0.5, ge=0.0, le=1.0, help="curriculum: progress at the tanh midpoint")
    width: float = spec(0.2, gt=0.0, help="curriculum: tanh width in units of training")


def window_length(mode: str, history: int, steps: int) -> int:
    """States one item reads: `history + 1` (one_step), `history + steps` (unrolled modes),
    1 for all-to-all (a pair of any two states)."""
    if mode == "all_to_all":
        return 1
    return history + (1 if mode == "one_step" else steps)


def trajectory_items(mode: str, n_traj: int, n_times: int, history: int, steps: int):
    """`(M, k)` training items of `mode`: all-to-all pairs, or windows of `window_length`."""
    if mode == "all_to_all":
        return rollout.all_to_all_items(n_traj, n_times)
    return rollout.window_items(n_traj, n_times, window_length(mode, history, steps))


def trajectory_objective(
    trajectories: ArrayLike,
    times: ArrayLike,
    loss: Callable,
    *,
    mode: str,
    history: int,
    steps: int,
    center: float = 0.5,
    width: float = 0.2,
    conditions: tuple[Array, ...] = (),
) -> engine.Objective:
    """The training items and the per-item loss of `mode` (see the module docstring).
    `conditions`: per-trajectory arrays `(N, ...)` the model takes after the state (its
    declared per-sample conditions, `train.conditions`), bound for each item's trajectory."""
    items = trajectory_items(mode, *trajectories.shape[:2], history, steps)
    if mode == "all_to_all":

        def item_loss(model, data, item, progress, aux):
            return rollout.all_to_all_loss(model, data[0], data[1], item, loss)

    elif mode == "one_step":

        def item_loss(model, data, item, progress, aux):
            return rollout.one_step_loss(model, data[0], item, loss, history, auxiliary=aux)

    else:
        unrolled = partial(
            rollout.unrolled_loss, history=history, steps=steps, mode=mode,
            center=center, width=width,
        )  # fmt: skip

        def item_loss(model, data, item, progress, aux):
            return unrolled(model, data[0], item, loss, progress=progress, auxiliary=aux)

    def conditioned_loss(model, data, item, progress):
        values = tuple(values[item[0]] for values in data[2])
        aux = auxiliary.bound(model, values)  # a model's own estimate trained alongside
        return item_loss(bind(model, values), data, item, progress, aux)

    data = (jnp.asarray(trajectories), jnp.asarray(times), tuple(map(jnp.asarray, conditions)))
    return engine.Objective(data, items, conditioned_loss)


def check_model(model, mode: str) -> None:
    """All-to-all trains a model that takes a lead time; the other modes one that does not."""
    if takes_lead_time(model) != (mode == "all_to_all"):
        name = type(getattr(model, "model", model)).__name__
        raise ValueError(
            f"{name} takes a lead time: train it with rollout mode all_to_all"
            if mode != "all_to_all"
            else f"all_to_all predicts at a lead time, but {name} takes none (it declares no "
            "'lead_time' condition): use an autoregressive mode, or a time-conditioned model"
        )


def input_channels(mode: str, history: int, channels: int) -> int:
    """Channels of a model's input: `history` stacked states of `channels` each, or one
    state for all-to-all (whose lead time is an argument, not a channel)."""
    return channels if mode == "all_to_all" else history * channels


def check_input(model, mode: str, history: int, state: tuple, values: tuple = ()) -> None:
    """Apply `model` abstractly (nothing is compiled) to one training input: `history` stacked
    states of shape `state` `(C, *grid)` (one state for all-to-all, with a lead time) and the
    per-sample `values` `(N, ...)`; a `ValueError` in the caller's terms if it cannot take it."""
    channels, *grid = state
    stacked = input_channels(mode, history, channels)
    args = [jax.ShapeDtypeStruct(v.shape[1:], jnp.float32) for v in values]
    args += [jax.ShapeDtypeStruct((), jnp.float32)] if mode == "all_to_all" else []
    try:
        eqx.filter_eval_shape(model, jax.ShapeDtypeStruct((stacked, *grid), jnp.float32), *args)
    except (TypeError, ValueError) as error:
        given = (
            f"all_to_all feeds one {channels}-channel state"
            if mode == "all_to_all"
            else f"history={history} of a {channels}-channel state gives {stacked}"
        )
        raise ValueError(
            f"the model cannot take its training input ({stacked}, {', '.join(map(str, grid))}): "
            f"{given}; build it with in_channels={stacked} "
            f"(it said: {str(error).splitlines()[0]})"
        ) from None


def check_mode(mode: str, history: int, steps: int, n_times: int) -> None:
    """Clear errors for settings the trajectories cannot serve."""
    if mode not in MODES:
        raise ValueError(f"rollout mode must be one of {MODES}, got {mode!r}")
    window = window_length(mode, history, steps)
    if mode == "all_to_all" and history != 1:
        raise ValueError("all_to_all trains model(u, dt) from one state: set history=1")
    if window > n_times:
        raise ValueError(
            f"a {mode} window needs history + steps = {window} states but the trajectories "
            f"hold {n_times}; lower the history or steps, or save more times"
        )


def fit_trajectories(
    model: Callable,
    train: ArrayLike | Mapping[str, ArrayLike],
    test: ArrayLike | Mapping[str, ArrayLike],
    *,
    times: ArrayLike,
    mode: str = "one_step",
    history: int = 1,
    steps: int = 1,
    center: float = 0.5,
    width: float = 0.2,
    loss: str | Callable = "rel_l2",
    lengths: float | tuple[float, ...] = 1.0,
    normalizer: NormalizerKind = "global",
    eval_batch_size: int = 16,
    settings: engine.Settings | None = None,
    trainable: Any = None,
    **engine_settings,
) -> FitResult:
    """Train `model` on trajectories `train` `(N, T, C, *spatial)`, test on `test`.

    **Arguments:**

    - `model`: autoregressive `(history·C, *spatial)` → `(C, *spatial)`, or for
        `mode="all_to_all"` time-conditioned `model(u, dt)` with `u` `(C, *spatial)`. A model
        that declares per-sample conditions (`train.conditions`, e.g. CAPE's `params`) is
        called `model(u, params_n)` for trajectory n.
    - `train`, `test`: trajectory arrays, or named arrays (a mapping such as
        `data.load(path).arrays`) holding `trajectories` and the model's conditions
        (`params` `(N, P)`).
    - `times` `(T,)`: the save times; `mode`, `history`, `steps`: see `MODES` and
        `train.rollout` (`steps` is k of the unrolled modes); `center`, `width`: the
        curriculum's tanh schedule.
    - `loss`, `lengths`, `normalizer`: as in `train.fit`.
    - `settings` and/or keywords: the engine's `Settings` (`optimizer`, `epochs`,
        `batch_size`, `key`, `schedule`, `eval_every`, `patience`, `keep_best`,
        `checkpointing`, ...; see `train.fit`); `trainable`: as in `train.fit`.

    **Returns:** a `FitResult` whose `evaluation` holds per-sample test errors and
    `extra["step_errors"]` the `(N_test, S)` errors per rollout step or lead time.
    """
    train, train_conditions = _named(model, train, "the training set")
    test, test_conditions = _named(model, test, "the test set")
    check_mode(mode, history, steps, train.shape[1])
    check_model(model, mode)
    check_input(model, mode, history, train.shape[2:], train_conditions)
    loss_fn = get_loss(loss, lengths=lengths) if isinstance(loss, str) else loss
    states = Normalizer.fit(train.reshape(-1, *train.shape[2:]), normalizer)
    names = conditions.per_sample(model)
    norms = (states.tiled(history), states,
             conditions.params_normalizer(names, train_conditions, normalizer))  # fmt: skip
    objective = trajectory_objective(
        train, times, loss_fn, mode=mode, history=history, steps=steps, center=center,
        width=width, conditions=train_conditions,
    )  # fmt: skip
    metric = "test_lead_rel_l2" if mode == "all_to_all" else "test_rollout_rel_l2"
    errors = partial(step_errors, mode=mode, history=history, batch_size=eval_batch_size)

    def evaluate(network, data):
        per_step = errors(network, *data)
        return {metric: per_step.mean(axis=1), "test_final_rel_l2": per_step[:, -1]}

    eval_data = (test, jnp.asarray(times), test_conditions)
    result = engine.train(
        model,
        objective,
        engine.Settings.of(settings, **engine_settings),
        norms=norms,
        evaluate=evaluate,
        eval_data=eval_data,
        monitor=metric,
        trainable=trainable,
    )
    result.extra["step_errors"] = np.asarray(errors(result.model, *eval_data))
    return result


def _named(model, arrays, what: str) -> tuple[Array, tuple[Array, ...]]:
    """The trajectories and the model's per-sample conditions of a set given as an array
    (no conditions) or as named arrays."""
    if isinstance(arrays, Mapping):
        values = conditions.select(model, arrays, what)
        return jnp.asarray(arrays["trajectories"]), tuple(map(jnp.asarray, values))
    return jnp.asarray(arrays), conditions.select(model, {}, what)


@eqx.filter_jit
def step_errors(model, trajectories, times, conditions=(), *, mode, history, batch_size):
    """`(N, S)` relative L2 errors: per rollout step, or per lead time for all-to-all;
    `conditions`: per-trajectory arrays the model takes after the state."""
    if mode == "all_to_all":
        return rollout.lead_time_errors(
            model, trajectories, times, relative_l2, batch_size, conditions
        )
    return rollout.rollout_errors(model, trajectories, history, relative_l2, batch_size, conditions)
