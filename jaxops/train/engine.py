"""The training engine behind every `fit`: one compiled program per epoch, evaluation,
best-model tracking, early stopping, divergence guard, resumable checkpoints.

What is trained is an `Objective`: the training data (a pytree of device arrays), the
*items* of an epoch (integer rows, e.g. a sample index, or (trajectory, start) of a rollout
window) and the loss of one item. Each epoch shuffles the items with an explicit key and
runs `lax.scan` over minibatches (vmapped item losses, gradient, optimiser update) inside one
compiled program. Evaluation is a second compiled program run every `eval_every` epochs.

The optimiser is built inside the epoch from `hparams` (a dict of scalars such as the
learning rate), so `sweep` can vmap the very same epoch over ensemble members.
"""

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import PRNGKeyArray
from rich.console import Console

from .._progress import make_console, progress_bar
from ..data.normalize import Normalized, Normalizer
from ..parallel import Parallel, to_host
from . import checkpoint
from .finetune import trainable_mask


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class Objective:
    """What one epoch iterates over.

    - `data`: pytree of training arrays, sample axis first (kept on device).
    - `items`: `(M, k)` integer rows, one per training item, shuffled every epoch.
    - `item_loss(model, data, item, progress)`: scalar loss of one item for the normalised
        model; `progress` ∈ [0, 1) is the fraction of training done (for curricula).
    """

    data: Any
    items: np.ndarray
    item_loss: Callable[..., jax.Array]


@dataclass(frozen=True)
class ChunkedObjective:
    """An objective too large for memory: `source.chunks(order)` yields the arrays of one
    chunk of samples (`data.stream.ChunkedArrays`, read with prefetch) and `make(chunk)` is the
    in-memory `Objective` of that chunk. Each epoch visits the chunks in a shuffled order and
    shuffles the items inside each chunk."""

    source: Any
    make: Callable[[tuple], Objective]

    @property
    def n_items(self) -> int:
        return len(self.source)


@dataclass
class FitResult:
    """The trained model (with normalisers), per-epoch history, the final per-sample errors
    of each evaluation metric, the monitored metric's per-sample errors `test_errors`, the
    compile time in seconds, and the epochs where the best model was seen and training
    stopped."""

    model: Normalized
    history: list[dict[str, float]]
    evaluation: dict[str, np.ndarray]
    test_errors: np.ndarray
    compile_seconds: float
    best_epoch: int
    stopped_epoch: int
    resumed_from: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often the full training state is written (`None` directory: never).
    With `resume`, training continues from the latest state in `directory`."""

    directory: Path | None = None
    every: int = 1
    resume: bool = False


@dataclass(frozen=True)
class Settings:
    """How the engine trains, whatever the objective: one object, built once (from a config:
    `jaxops.experiment.options`) and passed down instead of relayed keyword by keyword.
    `train.fit` and `fit_trajectories` take it as `settings=` or its fields as keywords.

    - `optimizer`: an optax transformation, or `hparams -> transformation`, `hparams` its
        scalar hyperparameters (arrays, so that a sweep can vmap them); `schedule`
        (optional) is logged as `lr`.
    - `epochs`, `batch_size` (the global batch; the last incomplete batch of each shuffled
        epoch is dropped), `key` (shuffling; the same key gives the same run on CPU).
    - `eval_every`, `patience`, `min_delta`, `keep_best`: evaluation and early stopping on
        the monitored metric (see `train`).
    - `checkpointing`: where and how often the training state is written; resume or not.
    - `log_every`, `on_epoch` (called with each epoch's record), `progress`, `console`.
    - `parallel`: a `jaxops.parallel.Parallel` sharding data, minibatches and parameters over
        its mesh; None: the default device.
    - `epoch_program`: `"auto"`, `"scan"` or `"steps"` (see `train`).
    """

    optimizer: Any
    epochs: int
    batch_size: int
    key: Any
    hparams: dict | None = None
    schedule: optax.Schedule | None = None
    eval_every: int = 1
    patience: int | None = None
    min_delta: float = 0.0
    keep_best: bool = False
    checkpointing: Checkpointing | None = None
    log_every: int = 1
    on_epoch: Callable[[dict[str, float]], None] | None = None
    progress: bool = True
    console: Console | None = None
    parallel: Parallel | None = None
    epoch_program: str = "auto"

    @classmethod
    def of(cls, settings: "Settings | None" = None, **fields) -> "Settings":
        """`settings` with `fields` replaced, or new `Settings` from `fields`; a `TypeError`
        names an unknown field or a missing required one."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(fields) - set(names))
        if unknown:
            raise TypeError(f"unknown training setting(s) {unknown}; the settings are {names}")
        if settings is not None:
            return dataclasses.replace(settings, **fields)
        missing = [n for n in ("optimizer", "epochs", "batch_size", "key") if n not in fields]
        if missing:
            raise TypeError(
                f"missing training setting(s) {missing}: pass them as keywords or settings="
            )
        return cls(**fields)


def as_optimizer_fn(optimizer) -> Callable[[dict], optax.GradientTransformation]:
    """An optax transformation, or a function of the hyperparameters returning one."""
    if isinstance(optimizer, optax.GradientTransformation):
        return lambda hparams: optimizer
    return optimizer


EPOCH_PROGRAMS = ("auto", "scan", "steps")


def make_step(
    item_loss: Callable,
    optimizer_fn: Callable[[dict], optax.GradientTransformation],
    static: Any,
    *,
    parallel: Parallel | None = None,
) -> Callable:
    """`step(params, opt_state, norms, hparams, data, batch, progress)` →
    `(params, opt_state, loss)`: one optimiser update on the mean loss of a minibatch of items
    `(batch_size, k)` at training progress `progress`. The body of every epoch program.
    With `parallel`, the minibatch is split over the mesh's `data` axis (and each sample over
    `space`); the arithmetic is that of one device."""
    constrain = parallel.constrain_batch if parallel is not None else lambda x: x
    spatial = parallel.spatial if parallel is not None else lambda m: m
    spmd_axis = "data" if parallel is not None and parallel.space_size > 1 else None

    def step(params, opt_state, norms, hparams, data, batch, progress):
        optimizer = optimizer_fn(hparams)

        def batch_loss(params):
            model = spatial(Normalized(eqx.combine(params, static), *norms))
            losses = jax.vmap(lambda item: item_loss(model, data, item, progress),
                              spmd_axis_name=spmd_axis)(constrain(batch))  # fmt: skip
            return jnp.mean(losses)

        loss, grads = jax.value_and_grad(batch_loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def epoch_batches(key, items, epoch_index, share=1.0, *, n_items, batch_size, epochs):
    """The minibatches `(steps, batch_size, k)` of one shuffled pass over `items` and the
    training progress at each step; the last incomplete minibatch is dropped."""
    steps = n_items // batch_size
    order = jr.permutation(key, n_items)[: steps * batch_size]
    progress = (epoch_index + share * jnp.arange(steps) / steps) / epochs
    return items[order].reshape(steps, batch_size, -1), progress


def make_epoch(
    item_loss: Callable,
    optimizer_fn: Callable[[dict], optax.GradientTransformation],
    static: Any,
    *,
    n_items: int,
    batch_size: int,
    epochs: int,
    parallel: Parallel | None = None,
) -> Callable:
    """`epoch(params, opt_state, norms, hparams, key, data, items, epoch_index, share=1.0)` →
    `(params, opt_state, losses (steps,))`: one shuffled pass over the items, which make up
    `share` of the epoch (a chunk of a streamed dataset) starting at `epoch_index` epochs:
    `lax.scan` of `make_step` over `epoch_batches`.

    Pure and traceable: `jit` it for one run, `vmap` it over members for a sweep.
    """
    step = make_step(item_loss, optimizer_fn, static, parallel=parallel)
    shape = dict(n_items=n_items, batch_size=batch_size, epochs=epochs)

    def run_epoch(params, opt_state, norms, hparams, key, data, items, epoch_index, share=1.0):
        batches, progress = epoch_batches(key, items, epoch_index, share, **shape)

        def body(carry, xs):
            params, opt_state, loss = step(*carry, norms, hparams, data, *xs)
            return (params, opt_state), loss

        (params, opt_state), losses = lax.scan(body, (params, opt_state), (batches, progress))
        return params, opt_state, losses

    return run_epoch


class HostLoopEpoch:
    """The epoch as a host loop over one compiled step (and a compiled shuffle), called like
    the compiled `make_epoch` program. XLA's CPU backend runs convolutions inside a compiled
    loop about 2.5× slower than as a program of their own (measured by
    `python -m experiments.benchmarks epoch_program`), so convolutional models train this
    way on CPU."""

    def __init__(self, step: Callable, args: tuple, *, n_items, batch_size, epochs):
        """`step`: `make_step`'s function; `args`: an epoch call's arguments, to compile for."""
        params, opt_state, norms, hparams, key, data, items, epoch_index, *share = args
        shape = dict(n_items=n_items, batch_size=batch_size, epochs=epochs)
        self.batches = (
            jax.jit(partial(epoch_batches, **shape))
            .lower(key, items, epoch_index, *share)
            .compile()
        )
        batches, progress = self.batches(key, items, epoch_index, *share)
        self.step = (
            jax.jit(step, donate_argnums=(0, 1))
            .lower(params, opt_state, norms, hparams, data, batches[0], progress[0])
            .compile()
        )

    def __call__(self, params, opt_state, norms, hparams, key, data, items, epoch_index, *share):
        batches, progress = self.batches(key, items, epoch_index, *share)
        losses = []
        for batch, p in zip(batches, progress, strict=True):
            params, opt_state, loss = self.step(params, opt_state, norms, hparams, data, batch, p)
            losses.append(loss)
        return params, opt_state, jnp.stack(losses)

    def memory_analysis(self):
        return self.step.memory_analysis()


def choose_program(setting: str, step: Callable, step_args: tuple) -> str:
    """`"scan"` or `"steps"` for `trainer.epoch_program=setting`: `auto` runs a host loop
    over the step on the CPU backend when the step contains a convolution, else one scanned
    program per epoch (the FNO's spectral layers gain from the scan: 93 against 130 ms a step
    on a 2-core CPU). Decided from the traced step, so the same run always takes the same
    program."""
    if setting not in EPOCH_PROGRAMS:
        raise ValueError(f"epoch_program must be one of {EPOCH_PROGRAMS}, got {setting!r}")
    if setting != "auto":
        return setting
    if jax.default_backend() != "cpu":
        return "scan"
    names = primitive_names(jax.make_jaxpr(step)(*step_args).jaxpr)
    return "steps" if "conv_general_dilated" in names else "scan"


def primitive_names(jaxpr) -> set[str]:
    """Names of the primitives of a jaxpr and of every jaxpr nested in its equations."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    names |= primitive_names(inner)
    return names


def train(
    model: Any,
    objective: Objective,
    settings: Settings,
    *,
    norms: tuple[Normalizer, ...],
    evaluate: Callable[[Normalized, Any], dict[str, jax.Array]],
    eval_data: Any,
    monitor: str,
    trainable: Any = None,
) -> FitResult:
    """Train `model` (a single-sample equinox module) on `objective` with `settings`.

    `evaluate(normalised_model, eval_data)` returns per-sample errors by metric name (lower is
    better); `monitor` names the one used for best-model tracking, early stopping (after
    `patience` evaluations without an improvement larger than `min_delta`) and the progress
    line. With `keep_best` the returned model is the best evaluated one, else the last.
    Raises `TrainingDiverged` naming the epoch and step if the loss becomes non-finite; the
    last checkpoint written before is left intact.

    `epoch_program`: `"scan"` (one compiled program per epoch), `"steps"` (a host loop over
    one compiled step) or `"auto"` (`choose_program`: steps for convolutional models on CPU).

    `trainable`: a filter spec of the arrays that train (`train.finetune.trainable_mask`;
    default: every floating-point array outside the parts the model declares `frozen`). The
    others are constants of the compiled epoch:
    they stay bit-identical and the optimiser (weight decay included) never sees them.

    With `parallel` (`jaxops.parallel.Parallel`), training data, minibatches, parameters and
    evaluation sets are sharded over its mesh; `batch_size` is the global batch. Shuffling
    and arithmetic do not depend on the number of devices, so the loss curve is that of one
    device up to float rounding, and a state checkpoint resumes on any device count.
    """
    optimizer, epochs, batch_size, key = (
        settings.optimizer,
        settings.epochs,
        settings.batch_size,
        settings.key,
    )
    hparams, schedule, eval_every = settings.hparams, settings.schedule, settings.eval_every
    patience, min_delta, keep_best = settings.patience, settings.min_delta, settings.keep_best
    checkpointing, log_every, on_epoch = (
        settings.checkpointing,
        settings.log_every,
        settings.on_epoch,
    )
    progress, console, parallel = settings.progress, settings.console, settings.parallel
    epoch_program = settings.epoch_program
    chunked = isinstance(objective, ChunkedObjective)
    first = objective.make(objective.source.read(0)) if chunked else objective
    if not 1 <= batch_size <= len(first.items):
        where = "the first chunk's" if chunked else "the"
        raise ValueError(
            f"batch_size {batch_size} must be between 1 and {where} {len(first.items)} "
            "training items"
        )
    if parallel is not None:
        parallel.check_batch(batch_size)
    place = Placement(parallel)
    checkpointing = checkpointing or Checkpointing()
    hparams = place.replicate({k: jnp.asarray(v, jnp.float32) for k, v in (hparams or {}).items()})
    optimizer_fn = as_optimizer_fn(optimizer)
    params, static = eqx.partition(model, trainable_mask(model) if trainable is None else trainable)
    params = place.params(jax.tree.map(jnp.copy, params))  # epochs donate their buffers
    opt_state = place.params(optimizer_fn(hparams).init(params))
    norms, key = place.replicate(norms), place.replicate(key)
    eval_data = place.eval_samples(eval_data)
    n_items = objective.n_items if chunked else len(first.items)
    first_data = place.samples(first.data)
    first_items = place.replicate(jnp.asarray(first.items, jnp.int32))
    epoch_programs: dict[int, Callable] = {}

    step_args = (params, opt_state, norms, hparams, first_data,
                 first_items[:batch_size], jnp.float32(0.0))  # fmt: skip
    step_fn = make_step(first.item_loss, optimizer_fn, static, parallel=parallel)
    program = choose_program(epoch_program, step_fn, step_args)

    def compiled_epoch(args: tuple) -> Callable:
        """The epoch over `len(args[6])` items (one program per distinct chunk size), compiled
        ahead of time for `args` on first use: one scanned program, or a host loop over a
        compiled step."""
        n = len(args[6])
        if n not in epoch_programs:
            shape = dict(n_items=n, batch_size=batch_size, epochs=epochs)
            if program == "steps":
                epoch_programs[n] = HostLoopEpoch(step_fn, args, **shape)
            else:
                run = make_epoch(first.item_loss, optimizer_fn, static, **shape, parallel=parallel)
                epoch_programs[n] = jax.jit(run, donate_argnums=(0, 1)).lower(*args).compile()
        return epoch_programs[n]

    def call_epoch(*args):
        return compiled_epoch(args)(*args)

    sizes = objective.source.chunk_sizes if chunked else [n_items]
    steps_per_epoch = sum(size // batch_size for size in sizes)

    def run_epoch(params, opt_state, shuffle_key, epoch_index):
        """One epoch: in memory, or chunk by chunk in a shuffled order."""
        if not chunked:
            return call_epoch(params, opt_state, norms, hparams, shuffle_key, first_data,
                              first_items, float(epoch_index))  # fmt: skip
        order = np.asarray(jr.permutation(jr.fold_in(shuffle_key, 0), objective.source.n_chunks))
        losses, done = [], 0.0
        for index, chunk in zip(order, objective.source.chunks(order), strict=True):
            part = objective.make(chunk)
            share = len(part.items) / n_items
            if len(part.items) < batch_size:  # a short last chunk: no whole minibatch
                done += share
                continue
            params, opt_state, part_losses = call_epoch(
                params, opt_state, norms, hparams, jr.fold_in(shuffle_key, int(index) + 1),
                place.samples(part.data), place.replicate(jnp.asarray(part.items, jnp.int32)),
                epoch_index + done, share,
            )  # fmt: skip
            losses.append(part_losses)
            done += share
        return params, opt_state, jnp.concatenate(losses)

    def run_eval(params, norms, eval_data):
        return evaluate(place.spatial(Normalized(eqx.combine(params, static), *norms)), eval_data)

    best = jax.tree.map(jnp.copy, params) if keep_best else None  # params get donated
    state = _State(params, opt_state, key, best=best)
    saver = (
        checkpoint.StateCheckpoints(checkpointing.directory) if checkpointing.directory else None
    )
    if saver is not None and checkpointing.resume:
        state = saver.restore(state) or state
    elif saver is not None and saver.manager.latest_step() is not None:
        raise ValueError(
            f"{checkpointing.directory} already holds a training state; resume it "
            "(Checkpointing(..., resume=True)) or write to another directory"
        )
    start = time.perf_counter()
    example = (params, opt_state, norms, hparams, key, first_data, first_items, 0.0)
    memory = _memory_line(compiled_epoch(example + ((1.0,) if chunked else ())))
    eval_fn = jax.jit(run_eval, out_shardings=place.out_sharding)
    eval_fn = eval_fn.lower(params, norms, eval_data).compile()
    compile_seconds = time.perf_counter() - start

    resumed_from = state.epoch
    if on_epoch is not None:
        for record in state.history:
            on_epoch(record)

    console = console or make_console()
    extra = "loss {task.fields[loss]}  " + monitor + " {task.fields[test]}"
    evaluation: dict[str, np.ndarray] = {}
    with progress_bar("epochs", console=console, extra=extra) as bar:
        task = bar.add_task(
            "train", total=epochs, completed=state.epoch, loss="--", test="--", visible=progress
        )
        if parallel is not None and progress and memory:
            bar.console.print(memory)
        if resumed_from and progress:
            bar.console.print(f"resumed from the checkpoint of epoch {resumed_from}")
        while state.epoch < epochs and not state.stopped:
            epoch = state.epoch + 1
            key, shuffle_key = jr.split(state.key)
            tic = time.perf_counter()
            params, opt_state, losses = run_epoch(
                state.params, state.opt_state, shuffle_key, epoch - 1
            )
            losses = to_host(losses)
            toc = time.perf_counter()
            if not np.isfinite(losses).all():
                step = int(np.argmin(np.isfinite(losses)))
                kept = f"; the checkpoint of epoch {state.epoch} is intact" if saver else ""
                raise TrainingDiverged(
                    f"training loss became {losses[step]} at epoch {epoch}, step {step + 1} "
                    f"of {steps_per_epoch}{kept}; lower optim.lr, clip gradients "
                    "(optim.clip_norm) or check the data for NaNs"
                )
            record = {
                "epoch": epoch,
                "train_loss": float(losses.mean()),
                **learning_rate(schedule, hparams, epoch * steps_per_epoch - 1),
                "train_seconds": toc - tic,
            }
            state = state.advanced(params, opt_state, key)
            if epoch % eval_every == 0 or epoch == epochs:
                evaluation = {
                    k: np.asarray(v) for k, v in eval_fn(params, norms, eval_data).items()
                }
                record.update({k: float(v.mean()) for k, v in evaluation.items()})
                record["eval_seconds"] = time.perf_counter() - toc
                state = state.evaluated(record[monitor], min_delta, patience, keep_best)
            state.history.append(record)
            if saver is not None and (
                epoch % checkpointing.every == 0 or epoch == epochs or state.stopped
            ):
                saver.save(state)
            if on_epoch is not None:
                on_epoch(record)
            shown = record.get(monitor, math.nan)
            bar.update(task, advance=1, loss=f"{record['train_loss']:.4f}", test=f"{shown:.4f}")
            if progress and (epoch % log_every == 0 or epoch == epochs or state.stopped):
                bar.console.print(
                    f"epoch {epoch:>4}/{epochs}  train {record['train_loss']:.4f}  "
                    f"{monitor} {shown:.4f}  ({toc - tic:.2f} s)"
                    + ("  early stop" if state.stopped else "")
                )
    if keep_best and state.best is not None and state.best_epoch != state.epoch:
        params = state.best
        evaluation = {k: np.asarray(v) for k, v in eval_fn(params, norms, eval_data).items()}
    else:
        params = state.params
        if not evaluation:  # resumed after the last epoch: evaluate the restored model
            evaluation = {k: np.asarray(v) for k, v in eval_fn(params, norms, eval_data).items()}
    return FitResult(
        model=Normalized(eqx.combine(params, static), *norms),
        history=state.history,
        evaluation=evaluation,
        test_errors=evaluation[monitor],
        compile_seconds=compile_seconds,
        best_epoch=state.best_epoch,
        stopped_epoch=state.epoch,
        resumed_from=resumed_from,
    )


def _memory_line(compiled) -> str:
    """Per-device memory of a compiled epoch, as XLA plans it (empty if not reported)."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend reports it
        return ""
    if stats is None:
        return ""
    mib = lambda b: f"{b / 2**20:.1f} MiB"
    return (
        f"per device: epoch program arguments {mib(stats.argument_size_in_bytes)} "
        f"(parameters, optimiser state, data shard), temporaries {mib(stats.temp_size_in_bytes)}"
    )


class Placement:
    """Where the engine puts its arrays: on the default device, or by `parallel`'s rules."""

    def __init__(self, parallel: Parallel | None):
        self.parallel = parallel
        self.out_sharding = None if parallel is None else parallel.replicated

    def _apply(self, rule: str, tree):
        return tree if self.parallel is None else getattr(self.parallel, rule)(tree)

    def params(self, tree):
        return self._apply("params", tree)

    def samples(self, tree):
        return self._apply("samples", tree)

    def eval_samples(self, tree):
        return self._apply("eval_samples", tree)

    def replicate(self, tree):
        return self._apply("replicate", tree)

    def spatial(self, model):
        return model if self.parallel is None else self.parallel.spatial(model)


def learning_rate(schedule, hparams: dict, step: int) -> dict[str, float]:
    """`{"lr": value}` at optimiser step `step`, from the schedule the optimiser was built
    with or a constant `hparams["lr"]`; `{}` when neither says it (never a NaN)."""
    if schedule is not None:
        return {"lr": float(schedule(step))}
    return {"lr": float(hparams["lr"])} if "lr" in hparams else {}


@dataclass
class _State:
    """Everything needed to continue training exactly: arrays and bookkeeping."""

    params: Any
    opt_state: Any
    key: PRNGKeyArray
    best: Any = None
    epoch: int = 0
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = math.inf
    bad_evals: int = 0
    stopped: bool = False

    def advanced(self, params, opt_state, key) -> "_State":
        self.params, self.opt_state, self.key = params, opt_state, key
        self.epoch += 1
        return self

    def evaluated(self, metric, min_delta, patience, keep_best) -> "_State":
        if metric < self.best_metric - min_delta:
            self.best_metric, self.best_epoch, self.bad_evals = metric, self.epoch, 0
            if keep_best:
                self.best = jax.tree.map(jnp.copy, self.params)
        else:
            self.bad_evals += 1
            self.stopped = patience is not None and self.bad_evals >= patience
        return self

    def arrays(self) -> dict:
        best = self.best if self.best is not None else {}
        key = jr.key_data(self.key)
        return {"params": self.params, "opt_state": self.opt_state, "key": key, "best": best}

    def meta(self) -> dict:
        names = ("epoch", "history", "best_epoch", "best_metric", "bad_evals", "stopped")
        return {name: getattr(self, name) for name in names}

    def restored(self, arrays: dict, meta: dict) -> "_State":
        state = _State(
            arrays["params"],
            arrays["opt_state"],
            jr.wrap_key_data(arrays["key"]),
            arrays["best"] if self.best is not None else None,
        )
        for name, value in meta.items():
            setattr(state, name, value)
        return state
