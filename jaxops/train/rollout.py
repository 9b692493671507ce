"""Time-dependent training and evaluation: training items, autoregressive rollouts, losses.

A dataset of trajectories `(N, T, C, *spatial)` is trained on *items*: rows of a small int
array that name what one loss term reads.

- `window_items`: `(trajectory, start)` for every window of consecutive states. One-step
  training with `history` input states uses windows of `history + 1`; k-step unrolled
  training (`unrolled_loss`) windows of `history + k`.
- `all_to_all_items`: `(trajectory, i, j)` for every pair `i ≤ j`, the all2all training of
  Herde et al., "Poseidon: Efficient Foundation Models for PDEs", NeurIPS 2024, for a
  time-conditioned model `model(u, dt)` (`models.TimeConditionedFNO`).

A per-item loss has the form `item_loss(model, trajectories, item, progress)` once its
keyword arguments are bound (`functools.partial`): `trajectories` is the whole training array,
`item` one row of an item array (traced ints) and `progress ∈ [0, 1]` the fraction of
training done (a traced scalar). Everything here is a plain traceable function: gathers use
`lax.dynamic_slice`, time stepping `lax.scan`, and no Python branch reads a traced value, so
the losses can be vmapped over a batch of items, differentiated and jitted by the caller.

Autoregressive models read the last `history` states stacked along the channel axis
(`stack_history`), as in the recurrent Navier–Stokes setup of Li et al., "Fourier Neural
Operator for Parametric Partial Differential Equations", ICLR 2021 (10 input steps), and
return the next state `(C, *spatial)`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import positive_ints
from .auxiliary import Auxiliary, loss_term
from .conditions import bind

Loss = Callable[[Array, Array], Array]
MODES = ("unrolled", "pushforward", "curriculum")


# --------------------------------------------------------------------------------------------
# Item index sets


def window_items(n_traj: int, n_times: int, window: int) -> np.ndarray:
    """Every window of `window` consecutive states of every trajectory.

    **Arguments:** `n_traj` trajectories of `n_times` states each; `window` states per item
    (`history + 1` for one-step training, `history + k` for k-step unrolled training).

    **Returns:** int32 array `(n_traj · (n_times − window + 1), 2)` of rows
    `(trajectory, start)`, trajectory-major, starts ascending; the window is states
    `start, …, start + window − 1`.
    """
    positive_ints(n_traj=n_traj, n_times=n_times, window=window)
    if window > n_times:
        raise ValueError(f"window={window} is longer than the trajectories ({n_times} states)")
    traj, start = np.meshgrid(np.arange(n_traj), np.arange(n_times - window + 1), indexing="ij")
    return np.stack([traj.ravel(), start.ravel()], axis=1).astype(np.int32)


def all_to_all_items(n_traj: int, n_times: int) -> np.ndarray:
    """Every pair of states `(i, j)` with `i ≤ j` of every trajectory: Poseidon's all2all
    training (Herde et al., NeurIPS 2024), which maps `u_i` to `u_j` at lead time
    `t_j − t_i`; the pairs `i = j` (lead time 0, the identity) are included as in the paper.

    **Arguments:** `n_traj` trajectories of `n_times = K + 1` states each.

    **Returns:** int32 array `(n_traj · (K + 1)(K + 2) / 2, 3)` of rows `(trajectory, i, j)`,
    trajectory-major, then `i`, then `j` ascending.
    """
    positive_ints(n_traj=n_traj, n_times=n_times)
    i, j = np.triu_indices(n_times)
    pairs = np.stack([i, j], axis=1)
    traj = np.repeat(np.arange(n_traj), len(pairs))[:, None]
    return np.concatenate([traj, np.tile(pairs, (n_traj, 1))], axis=1).astype(np.int32)


# --------------------------------------------------------------------------------------------
# Rollouts


def stack_history(states: Float[ArrayLike, " h C *spatial"]) -> Float[Array, " hC *spatial"]:
    """The model input of `h` consecutive states: channels of the oldest state first, so
    channel `s · C + c` is channel `c` of state `s` (the FNO paper's 10 input steps as
    channels when `C = 1`)."""
    return jnp.reshape(states, (-1, *states.shape[2:]))


def rollout(
    model: Callable[[Array], Array],
    initial: Float[ArrayLike, " history C *spatial"],
    steps: int,
    history: int = 1,
) -> Float[Array, " steps C *spatial"]:
    """Autoregressive prediction with `lax.scan`.

    **Arguments:** `model` maps `stack_history` of the last `history` states
    `(history · C, *spatial)` to the next state `(C, *spatial)`; `initial` the first
    `history` states; `steps` the number of states to predict.

    **Returns:** the predicted states `(steps, C, *spatial)` that follow `initial`.
    """
    positive_ints(steps=steps, history=history)
    _check_history(initial, history)

    def step(window, _):
        pred = _predict(model, window)
        return _shift(window, pred), pred

    _, preds = lax.scan(step, initial, length=steps)
    return preds


def _check_history(states: ArrayLike, history: int) -> None:
    if states.ndim < 2 or states.shape[0] != history:
        raise ValueError(
            f"expected {history} initial states shaped (history, C, *spatial), got {states.shape}"
        )


def _predict(model: Callable[[Array], Array], window: ArrayLike) -> Array:
    pred = model(stack_history(window))
    if pred.shape != window.shape[1:]:
        stacked = (window.shape[0] * window.shape[1], *window.shape[2:])
        raise ValueError(
            f"the model maps {stacked} to {pred.shape}; expected the next state {window.shape[1:]}"
        )
    return pred.astype(window.dtype)


def _shift(window: ArrayLike, new: ArrayLike) -> Array:
    """Drop the oldest state of `window`, append `new`."""
    return jnp.concatenate([window[1:], new[None]], axis=0)


def _window(trajectories: ArrayLike, traj: ArrayLike, start: ArrayLike, length: int) -> Array:
    """States `start, …, start + length − 1` of trajectory `traj`, gathered by traced ints."""
    zeros = (0,) * (trajectories.ndim - 2)
    index = (traj, start, *zeros)
    return lax.dynamic_slice(trajectories, index, (1, length, *trajectories.shape[2:]))[0]


def _check_trajectories(trajectories: ArrayLike) -> None:
    if trajectories.ndim < 4:
        raise ValueError(
            "trajectories must be shaped (N, T, C, *spatial) with at least one spatial axis, "
            f"got {trajectories.shape}"
        )


# --------------------------------------------------------------------------------------------
# Per-item training losses


def one_step_loss(
    model: Callable[[Array], Array],
    trajectories: Float[ArrayLike, " N T C *spatial"],
    item: Int[Array, " 2"],
    loss: Loss,
    history: int = 1,
    auxiliary: Auxiliary | None = None,
) -> Float[Array, ""]:
    """Teacher-forced one-step loss of the item `(trajectory, start)`: the model reads states
    `start, …, start + history − 1` and is compared with state `start + history`.

    **Arguments:** `model` (as in `rollout`); `trajectories` the training array; `item` a row
    of `window_items(N, T, history + 1)` (a start past the last full window is clamped by
    `lax.dynamic_slice`, not reported); `loss(pred, target)` a single-sample loss; `history`
    the number of input states; `auxiliary` an optional `(estimate, weight)`: the loss adds
    `weight · loss(estimate(input), target)` (`train.auxiliary`).

    **Returns:** the scalar loss.
    """
    positive_ints(history=history)
    _check_trajectories(trajectories)
    states = _window(trajectories, item[0], item[1], history + 1)
    window, target = states[:history], states[history]
    return loss(_predict(model, window), target) + loss_term(
        auxiliary, loss, window, target, _predict
    )


def curriculum_fraction(
    progress: Float[ArrayLike, ""] | float, center: float = 0.5, width: float = 0.2
) -> Float[Array, ""]:
    """Fraction of the unrolled steps that feed back the model's own prediction, a tanh
    schedule over training progress `p` (clipped to `[0, 1]`):

        r(p) = (tanh((p − center)/width) − tanh(−center/width))
               / (tanh((1 − center)/width) − tanh(−center/width)),

    so `r(0) = 0` (pure teacher forcing), `r(center)` = the midpoint of the tanh's range
    (`1/2` when `center = 1/2`), `r(1) = 1` (fully autoregressive), increasing in between.
    The defaults `center = 0.5, width = 0.2` are those of the CAPE code (Takamoto, Alesiani,
    Niepert, ICML 2023), whose schedule `(1 + tanh((p − 0.5)/0.2))/2` is this one without the
    normalisation to exactly 0 and 1 at the ends (they differ by at most 0.0067).
    """
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    p = jnp.clip(jnp.asarray(progress, dtype=float), 0.0, 1.0)
    low = jnp.tanh(-center / width)
    high = jnp.tanh((1.0 - center) / width)
    r = (jnp.tanh((p - center) / width) - low) / (high - low)
    # Pin the ends exactly, whatever rounding the compiled expression does.
    return jnp.where(p >= 1.0, 1.0, jnp.where(p <= 0.0, 0.0, jnp.clip(r, 0.0, 1.0)))


def unrolled_loss(
    model: Callable[[Array], Array],
    trajectories: Float[ArrayLike, " N T C *spatial"],
    item: Int[Array, " 2"],
    loss: Loss,
    history: int = 1,
    steps: int = 2,
    mode: str = "unrolled",
    progress: Float[ArrayLike, ""] | float = 0.0,
    *,
    center: float = 0.5,
    width: float = 0.2,
    auxiliary: Auxiliary | None = None,
) -> Float[Array, ""]:
    """Multi-step loss on the window of `history + steps` states that starts at the item
    `(trajectory, start)`: the model reads the first `history` states and predicts the next
    `k = steps`.

    **Arguments:** `model` (as in `rollout`); `trajectories` the training array; `item` a row
    of `window_items(N, T, history + steps)`; `loss(pred, target)` a single-sample loss;
    `history` the number of input states; `steps` the number `k` of predicted states;
    `progress ∈ [0, 1]` the fraction of training done (used by `"curriculum"`); `center`,
    `width` the curriculum's schedule (`curriculum_fraction`); `auxiliary` an optional
    `(estimate, weight)` whose weighted loss from each step's input is added to that step's
    (`train.auxiliary`; CAPE's code adds it at every step). `mode`:

    - `"unrolled"`: k-step autoregressive rollout with backpropagation through time; the loss
      is the mean over the k predicted states.
    - `"pushforward"`: the pushforward trick of Brandstetter, Worrall, Welling, "Message
      Passing Neural PDE Solvers", ICLR 2022: the model is rolled out on its own predictions,
      but each step's input goes through `lax.stop_gradient`, so every loss term trains one
      step from the distribution of states the model itself produces. The paper draws the
      number of gradient-free steps at random (0 … k−1); here the loss is the mean over all k
      of them, the expectation of that draw (deterministic, and it contains the one-step loss
      that lets training start from an untrained model).
    - `"curriculum"`: the curriculum of CAPE (Takamoto, Alesiani, Niepert, "Learning Neural PDE
      Solvers with Parameter-Guided Channel Attention", ICML 2023), a mix of autoregression
      and teacher forcing: with `r = curriculum_fraction(progress)`, the first
      `n_ar = floor(r · k)` predicted states are fed back as inputs of the following steps and
      every later step is fed the true state instead; the loss is the mean over the k steps
      with gradient through every step. As in CAPE's code the autoregressive steps come first
      in the window and the teacher-forced ones after them. `r = 0` is the mean of k
      teacher-forced one-step losses, `r = 1` equals `"unrolled"`. Differences from that
      code: it unrolls whole trajectories and counts `int(r · T)` over absolute time indices
      (input states included), where here `r` is a fraction of the k steps of a window; it
      sums rather than averages the step losses; and it adds N(0, 0.001²) noise to the
      inputs, which is left to the caller here.

    **Returns:** the scalar loss.
    """
    positive_ints(history=history, steps=steps)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    _check_trajectories(trajectories)
    states = _window(trajectories, item[0], item[1], history + steps)
    initial, targets = states[:history], states[history:]

    if mode == "curriculum":  # the leading steps whose prediction is fed back
        n_ar = jnp.floor(curriculum_fraction(progress, center, width) * steps)

    def step(window, inputs):
        index, target = inputs
        window_in = lax.stop_gradient(window) if mode == "pushforward" else window
        pred = _predict(model, window_in)
        fed = jnp.where(index < n_ar, pred, target) if mode == "curriculum" else pred
        value = loss(pred, target) + loss_term(auxiliary, loss, window_in, target, _predict)
        return _shift(window, fed), value

    # Unrolled: no XLA loop around the steps. On the CPU a convolution's gradient inside a
    # loop runs many times slower (a CAPE curriculum epoch: 18.5 s looped, 11.7 s unrolled);
    # compile time grows with `steps`, a few per window.
    _, losses = lax.scan(step, initial, (jnp.arange(steps), targets), unroll=True)
    return jnp.mean(losses)


def all_to_all_loss(
    model: Callable[[Array, Array], Array],
    trajectories: Float[ArrayLike, " N T C *spatial"],
    times: Float[ArrayLike, " T"],
    item: Int[Array, " 3"],
    loss: Loss,
) -> Float[Array, ""]:
    """Poseidon's all2all loss of the item `(trajectory, i, j)`: `model(u_i, t_j − t_i)`
    compared with `u_j`, for a time-conditioned model `model(u, dt)` (`(C, *spatial)`,
    scalar lead time → `(C, *spatial)`).

    **Arguments:** `model`; `trajectories` the training array; `times` `(T,)` the times of the
    states; `item` a row of `all_to_all_items(N, T)`; `loss(pred, target)`.

    **Returns:** the scalar loss.
    """
    _check_trajectories(trajectories)
    traj, i, j = item[0], item[1], item[2]
    u_i = _window(trajectories, traj, i, 1)[0]
    u_j = _window(trajectories, traj, j, 1)[0]
    times = jnp.asarray(times)
    return loss(model(u_i, times[j] - times[i]), u_j)


# --------------------------------------------------------------------------------------------
# Evaluation


def rollout_errors(
    model: Callable[..., Array],
    trajectories: Float[ArrayLike, " N T C *spatial"],
    history: int,
    loss: Loss,
    batch_size: int | None = None,
    conditions: tuple[Array, ...] = (),
) -> Float[Array, " N steps"]:
    """Errors of the full autoregressive rollout of every trajectory from its first
    `history` states.

    **Arguments:** `model` (as in `rollout`); `trajectories` the test array; `history` the
    number of input states; `loss(pred, target)` the per-state error (e.g.
    `losses.relative_l2`); `batch_size` trajectories rolled out at once (`lax.map`'s
    `batch_size`; `None`: one at a time); `conditions` per-trajectory arrays `(N, ...)` passed
    after the state, `model(u, *conditions[n])` (e.g. the PDE parameters, for CAPE).

    **Returns:** `(N, T − history)`: entry `(n, s)` is the error of the predicted state
    `history + s` of trajectory `n`.
    """
    positive_ints(history=history)
    _check_trajectories(trajectories)
    n_times = trajectories.shape[1]
    if history >= n_times:
        raise ValueError(f"history={history} leaves no state to predict of {n_times}")

    def errors(sample):
        trajectory, values = sample
        preds = rollout(bind(model, values), trajectory[:history], n_times - history, history)
        return jax.vmap(loss)(preds, trajectory[history:])

    return lax.map(errors, (trajectories, tuple(conditions)), batch_size=batch_size)


def lead_time_errors(
    model: Callable[..., Array],
    trajectories: Float[ArrayLike, " N T C *spatial"],
    times: Float[ArrayLike, " T"],
    loss: Loss,
    batch_size: int | None = None,
    conditions: tuple[Array, ...] = (),
) -> Float[Array, " N leads"]:
    """Errors of a time-conditioned model predicting each state directly from the first:
    `model(u_0, t_j − t_0)` against `u_j`.

    **Arguments:** `model(u, dt)`; `trajectories` the test array; `times` `(T,)`;
    `loss(pred, target)`; `batch_size`, `conditions` (as in `rollout_errors`; the model is
    then `model(u, *conditions[n], dt)`).

    **Returns:** `(N, T − 1)`: entry `(n, j − 1)` is the error at lead time `t_j − t_0`.
    """
    _check_trajectories(trajectories)
    times = jnp.asarray(times)
    if times.shape != trajectories.shape[1:2]:
        raise ValueError(f"times {times.shape} do not match trajectories {trajectories.shape}")
    lead = times[1:] - times[0]

    def errors(sample):
        trajectory, values = sample
        preds = jax.vmap(bind(model, values), in_axes=(None, 0))(trajectory[0], lead)
        return jax.vmap(loss)(preds, trajectory[1:])

    return lax.map(errors, (trajectories, tuple(conditions)), batch_size=batch_size)
