"""`fit`: train a single-sample operator on in-memory data with optax.

Each epoch is one compiled program: a key-driven shuffle, then `lax.scan` over the minibatches
(forward, relative-L2 loss in physical units, backward, optimiser update). The test set is
evaluated after every epoch in a second compiled program. Inputs and outputs are normalised
with statistics of the training set; the returned model includes the normalisers
(`data.Normalized`), so it maps physical inputs to physical outputs.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray
from rich.console import Console

from .._progress import make_console, progress_bar
from ..data.normalize import Normalized, Normalizer, NormalizerKind
from .losses import relative_l2


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass
class FitResult:
    """The trained model (with normalisers), per-epoch history, the final per-sample test
    errors `(N_test,)` and the compile time in seconds."""

    model: Normalized
    history: list[dict[str, float]]
    test_errors: np.ndarray
    compile_seconds: float


def count_parameters(model: Any) -> int:
    """Number of real scalars in the model's floating-point arrays, complex ones counted twice;
    also for shape structs (`eqx.filter_eval_shape(FNO, ...)` counts without allocating)."""
    inexact = lambda x: (
        isinstance(x, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.inexact)
    )
    leaves = jax.tree.leaves(eqx.filter(model, inexact))
    return sum(x.size * (2 if jnp.issubdtype(x.dtype, jnp.complexfloating) else 1) for x in leaves)


def fit(
    model: Callable,
    train: tuple[Array, Array],
    test: tuple[Array, Array],
    *,
    optimizer: optax.GradientTransformation,
    epochs: int,
    batch_size: int,
    key: PRNGKeyArray,
    normalizer: NormalizerKind = "global",
    schedule: optax.Schedule | None = None,
    eval_batch_size: int = 64,
    log_every: int = 1,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> FitResult:
    """Train `model` on `(inputs, targets)` pairs shaped `(N, C, *spatial)`.

    **Arguments:**

    - `model`: an equinox module mapping one sample `(C_in, *spatial)` → `(C_out, *spatial)`.
    - `train`, `test`: `(inputs, targets)` arrays.
    - `optimizer`: an optax transformation; `schedule` (optional) is logged as `lr`.
    - `epochs`, `batch_size`: the last incomplete batch of each shuffled epoch is dropped.
    - `key`: shuffling key; the same key gives the same run on CPU.
    - `normalizer`: `"global"`, `"pointwise"` or `"none"` (see `data.normalize`).
    - `on_epoch`: called with each epoch's record (`epoch`, `train_loss`, `test_rel_l2`, `lr`,
        `train_seconds`, `eval_seconds`).

    **Returns:** a `FitResult`. Raises `TrainingDiverged` naming the epoch if the loss
    becomes non-finite.
    """
    x_train, y_train = (jnp.asarray(a) for a in train)
    x_test, y_test = (jnp.asarray(a) for a in test)
    if not 1 <= batch_size <= len(x_train):
        raise ValueError(
            f"batch_size {batch_size} must be between 1 and the {len(x_train)} training samples"
        )
    for name, targets in (("training", y_train), ("test", y_test)):
        zero = np.flatnonzero(np.all(np.asarray(targets).reshape(len(targets), -1) == 0, axis=1))
        if zero.size:
            raise ValueError(
                f"{name} target {zero[0]} is identically zero, so its relative L2 "
                "error is undefined; check how the data were generated"
            )
    norms = (Normalizer.fit(x_train, normalizer), Normalizer.fit(y_train, normalizer))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    params = jax.tree.map(jnp.copy, params)  # epochs donate their buffers; keep the caller's
    opt_state = optimizer.init(params)
    steps_per_epoch = len(x_train) // batch_size

    def network(params, norms):
        return Normalized(eqx.combine(params, static), *norms)

    def batch_loss(params, norms, x, y):
        net = network(params, norms)
        return jnp.mean(jax.vmap(lambda a, b: relative_l2(net(a), b))(x, y))

    def run_epoch(params, opt_state, norms, key, x, y):
        order = jr.permutation(key, len(x))[: steps_per_epoch * batch_size]

        def step(carry, batch):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(batch_loss)(params, norms, x[batch], y[batch])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        batches = order.reshape(steps_per_epoch, batch_size)
        (params, opt_state), losses = lax.scan(step, (params, opt_state), batches)
        return params, opt_state, losses

    def evaluate(params, norms, x, y):
        return sample_errors(network(params, norms), x, y, eval_batch_size)

    start = time.perf_counter()
    epoch_fn = (
        jax.jit(run_epoch, donate_argnums=(0, 1))
        .lower(params, opt_state, norms, key, x_train, y_train)
        .compile()
    )
    eval_fn = jax.jit(evaluate).lower(params, norms, x_test, y_test).compile()
    compile_seconds = time.perf_counter() - start
    history: list[dict[str, float]] = []

    console = console or make_console()
    extra = "loss {task.fields[loss]}  test {task.fields[test]}"
    with progress_bar("epochs", console=console, extra=extra) as bar:
        task = bar.add_task("train", total=epochs, loss="--", test="--", visible=progress)
        for epoch in range(1, epochs + 1):
            key, shuffle_key = jr.split(key)
            tic = time.perf_counter()
            params, opt_state, losses = epoch_fn(
                params, opt_state, norms, shuffle_key, x_train, y_train
            )
            losses = np.asarray(losses)
            toc = time.perf_counter()
            errors = np.asarray(eval_fn(params, norms, x_test, y_test))
            record = {
                "epoch": epoch,
                "train_loss": float(losses.mean()),
                "test_rel_l2": float(errors.mean()),
                "lr": float(schedule(epoch * steps_per_epoch - 1)) if schedule else math.nan,
                "train_seconds": toc - tic,
                "eval_seconds": time.perf_counter() - toc,
            }
            if not np.isfinite(losses).all():
                step = int(np.argmin(np.isfinite(losses)))
                raise TrainingDiverged(
                    f"training loss became {losses[step]} at epoch {epoch}, step {step + 1} "
                    f"of {steps_per_epoch}; lower optim.lr or check the data for NaNs"
                )
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            bar.update(
                task,
                advance=1,
                loss=f"{record['train_loss']:.4f}",
                test=f"{record['test_rel_l2']:.4f}",
            )
            if progress and (epoch % log_every == 0 or epoch == epochs):
                bar.console.print(
                    f"epoch {epoch:>4}/{epochs}  train {record['train_loss']:.4f}  "
                    f"test rel L2 {record['test_rel_l2']:.4f}  ({toc - tic:.2f} s)"
                )
    return FitResult(network(params, norms), history, errors, compile_seconds)


def sample_errors(model: Callable, inputs: Array, targets: Array, batch_size: int = 64) -> Array:
    """Relative L2 error of each sample, `(N,)`, evaluated `batch_size` samples at a time."""
    return lax.map(
        lambda ab: relative_l2(model(ab[0]), ab[1]),
        (inputs, targets),
        batch_size=min(batch_size, len(inputs)),
    )


@eqx.filter_jit
def evaluate_model(model: Callable, inputs: Array, targets: Array, batch_size: int = 64) -> Array:
    """Compiled `sample_errors`: relative L2 error of each sample, `(N,)`."""
    return sample_errors(model, jnp.asarray(inputs), jnp.asarray(targets), batch_size)


@eqx.filter_jit
def predict(model: Callable, inputs: Array, batch_size: int = 64) -> Array:
    """The model applied to each sample of `inputs` `(N, C, *spatial)`, compiled."""
    return lax.map(model, jnp.asarray(inputs), batch_size=min(batch_size, len(inputs)))
