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

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._config import spec
from ..data.normalize import Normalizer, NormalizerKind
from . import engine, rollout
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
    trajectories: Array,
    times: Array,
    loss: Callable,
    *,
    mode: str,
    history: int,
    steps: int,
    center: float = 0.5,
    width: float = 0.2,
) -> engine.Objective:
    """The training items and the per-item loss of `mode` (see the module docstring)."""
    items = trajectory_items(mode, *trajectories.shape[:2], history, steps)
    if mode == "all_to_all":

        def item_loss(model, data, item, progress):
            return rollout.all_to_all_loss(model, data[0], data[1], item, loss)

    elif mode == "one_step":

        def item_loss(model, data, item, progress):
            return rollout.one_step_loss(model, data[0], item, loss, history)

    else:
        unrolled = partial(
            rollout.unrolled_loss, history=history, steps=steps, mode=mode,
            center=center, width=width,
        )  # fmt: skip

        def item_loss(model, data, item, progress):
            return unrolled(model, data[0], item, loss, progress=progress)

    return engine.Objective((jnp.asarray(trajectories), jnp.asarray(times)), items, item_loss)


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
    train: Array,
    test: Array,
    *,
    times: Array,
    mode: str = "one_step",
    history: int = 1,
    steps: int = 1,
    center: float = 0.5,
    width: float = 0.2,
    loss: str | Callable = "rel_l2",
    lengths: float | tuple[float, ...] = 1.0,
    normalizer: NormalizerKind = "global",
    eval_batch_size: int = 16,
    **options,
) -> FitResult:
    """Train `model` on trajectories `train` `(N, T, C, *spatial)`, test on `test`.

    **Arguments:**

    - `model`: autoregressive `(history·C, *spatial)` → `(C, *spatial)`, or for
        `mode="all_to_all"` time-conditioned `model(u, dt)` with `u` `(C, *spatial)`.
    - `times` `(T,)`: the save times; `mode`, `history`, `steps`: see `MODES` and
        `train.rollout` (`steps` is k of the unrolled modes); `center`, `width`: the
        curriculum's tanh schedule.
    - `loss`, `lengths`, `normalizer`: as in `train.fit`.
    - `options`: passed to `engine.train` (`optimizer`, `epochs`, `batch_size`, `key`,
        `hparams`, `schedule`, `eval_every`, `patience`, `keep_best`, `checkpointing`, ...).

    **Returns:** a `FitResult` whose `evaluation` holds per-sample test errors and
    `extra["step_errors"]` the `(N_test, S)` errors per rollout step or lead time.
    """
    train, test = jnp.asarray(train), jnp.asarray(test)
    check_mode(mode, history, steps, train.shape[1])
    loss_fn = get_loss(loss, lengths=lengths) if isinstance(loss, str) else loss
    states = Normalizer.fit(train.reshape(-1, *train.shape[2:]), normalizer)
    norms = (states.tiled(history), states)
    objective = trajectory_objective(
        train, times, loss_fn, mode=mode, history=history, steps=steps, center=center, width=width
    )
    metric = "test_lead_rel_l2" if mode == "all_to_all" else "test_rollout_rel_l2"
    errors = partial(step_errors, mode=mode, history=history, batch_size=eval_batch_size)

    def evaluate(network, data):
        per_step = errors(network, *data)
        return {metric: per_step.mean(axis=1), "test_final_rel_l2": per_step[:, -1]}

    result = engine.train(
        model,
        objective,
        norms=norms,
        evaluate=evaluate,
        eval_data=(test, jnp.asarray(times)),
        monitor=metric,
        **options,
    )
    result.extra["step_errors"] = np.asarray(errors(result.model, test, jnp.asarray(times)))
    return result


@eqx.filter_jit
def step_errors(model, trajectories, times, *, mode, history, batch_size):
    """`(N, S)` relative L2 errors: per rollout step, or per lead time for all-to-all."""
    if mode == "all_to_all":
        return rollout.lead_time_errors(model, trajectories, times, relative_l2, batch_size)
    return rollout.rollout_errors(model, trajectories, history, relative_l2, batch_size)
