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
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from rich.console import Console

from .._progress import make_console, progress_bar
from ..data.normalize import Normalized, Normalizer
from ..parallel import Parallel, to_host
from . import checkpoint
from .epoch import HostLoopEpoch, as_optimizer_fn, choose_program, make_epoch, make_step
from .finetune import trainable_mask
from .members import SweepResult
from .state import MemberAxis, TrainingState


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
    """Where and how often the full training state is written (`None` directory: never):
    after every `every`-th epoch once `min_seconds` have passed since the last write, and
    always after the last epoch. An orbax write costs about 65 ms however small the model, so
    the time floor keeps short epochs from spending most of their time writing; a kill loses
    at most `min_seconds` of training (0: write every `every` epochs). With `resume`,
    training continues from the latest state in `directory`."""

    directory: str | os.PathLike | None = None
    every: int = 1
    min_seconds: float = 10.0
    resume: bool = False

    def __post_init__(self):
        if self.directory is not None:
            object.__setattr__(self, "directory", Path(self.directory))

    def due(self, epoch: int, last: bool, since: float) -> bool:
        """Write the state after `epoch` (`last`: training ends), `since` seconds after the
        last write? Several processes take process 0's decision (their clocks differ, and
        the write is collective)."""
        if last:
            return True
        if epoch % self.every:
            return False
        if self.min_seconds <= 0:
            return True
        due = since >= self.min_seconds
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            due = bool(multihost_utils.broadcast_one_to_all(np.asarray(due)))
        return due


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


def train(
    model: Any,
    objective: Objective | ChunkedObjective,
    settings: Settings,
    *,
    norms: tuple[Normalizer | None, ...],
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
    task = _Task(objective, norms, evaluate, eval_data, monitor)
    run = _run(model, task, settings, MemberAxis(), [settings.schedule], trainable)
    return FitResult(
        model=Normalized(eqx.combine(run.params, run.static), *run.norms),
        history=run.state.history[0],
        evaluation={k: v[0] for k, v in run.evaluation.items()},
        test_errors=run.evaluation[monitor][0],
        compile_seconds=run.compile_seconds,
        best_epoch=run.state.best_epoch[0],
        stopped_epoch=run.state.epoch,
        resumed_from=run.resumed_from,
    )


def train_members(
    models: Any,
    objective: Objective,
    settings: Settings,
    *,
    norms: tuple[Normalizer | None, ...],
    evaluate: Callable[[Normalized, Any], dict[str, jax.Array]],
    eval_data: Any,
    monitor: str,
    schedule: Callable[[dict], optax.Schedule] | None = None,
    seeds: list[int | None] | None = None,
) -> SweepResult:
    """Train K members of one architecture side by side: `train` with a member axis, on the
    same epoch loop (evaluation, early stopping, `keep_best`, checkpoints and resume, per
    member), the epoch program vmapped over the members.

    - `models`: the members stacked (`eqx.filter_vmap(model_fn)(keys)`); their floating-point
        arrays train, any other array is shared (taken from member 0).
    - `settings`: as for `train`, but `key` is `(K,)` shuffling keys and every `hparams`
        value is `(K,)`, so `optimizer` (a function of `hparams`) may differ per member.
    - `schedule`: `hparams -> schedule` of one member, to log its `lr`.
    - `seeds`: labels of the members in the result.

    A member whose loss becomes non-finite stops there and keeps the parameters of the epoch
    before (`SweepResult.diverged`); a member stops early after `patience` evaluations
    without improvement (`SweepResult.stopped`); the others train on. Member i equals
    `train` of member i alone, up to float rounding of batched kernels.
    """
    k = len(settings.key)
    hparams = {name: np.asarray(v) for name, v in (settings.hparams or {}).items()}
    each = [{name: jnp.asarray(v[i]) for name, v in hparams.items()} for i in range(k)]
    schedules = [None if schedule is None else schedule(h) for h in each]
    task = _Task(objective, norms, evaluate, eval_data, monitor)
    result = _sweep_result(_run(models, task, settings, MemberAxis(k), schedules, None), seeds,
                           hparams)  # fmt: skip
    if settings.progress:
        (settings.console or make_console()).print(result.table())
    return result


def _sweep_result(run: "_Run", seeds, hparams) -> SweepResult:
    state = run.state
    return SweepResult(
        params=run.params,
        static=run.static,
        norms=run.norms,
        seeds=list(seeds) if seeds is not None else [None] * len(state.history),
        hparams=hparams,
        history=state.history,
        evaluation=run.evaluation,
        test_errors=run.evaluation[run.monitor],
        monitor=run.monitor,
        diverged={i: e for i, e in enumerate(state.diverged) if e is not None},
        stopped={i: h[-1]["epoch"] for i, h in enumerate(state.history) if state.stopped[i]},
        best_epoch=list(state.best_epoch),
        compile_seconds=run.compile_seconds,
        epoch_seconds=run.epoch_seconds,
        resumed_from=run.resumed_from,
    )


@dataclass(frozen=True)
class _Task:
    """What is trained and how it is scored (the keywords of `train`)."""

    objective: Any
    norms: tuple
    evaluate: Callable
    eval_data: Any
    monitor: str


@dataclass
class _Run:
    """The outcome of the epoch loop: final arrays, state, evaluation (metric → `(K, N)`)."""

    params: Any
    static: Any
    norms: tuple
    state: TrainingState
    evaluation: dict[str, np.ndarray]
    monitor: str
    compile_seconds: float
    epoch_seconds: list[float]
    resumed_from: int


def _run(model, task: _Task, settings: Settings, axis: MemberAxis, schedules, trainable) -> _Run:
    """The one epoch loop of `train` and `train_members`."""
    s = settings
    objective, monitor, members = task.objective, task.monitor, axis.size is not None
    chunked = isinstance(objective, ChunkedObjective)
    if chunked and members:
        raise ValueError("members train on data in memory: pass an Objective, not chunks")
    first = objective.make(objective.source.read(0)) if chunked else objective
    if not 1 <= s.batch_size <= len(first.items):
        where = "the first chunk's" if chunked else "the"
        raise ValueError(
            f"batch_size {s.batch_size} must be between 1 and {where} {len(first.items)} "
            "training items"
        )
    if s.epochs < 1 or s.eval_every < 1:
        raise ValueError(f"epochs ({s.epochs}) and eval_every ({s.eval_every}) must be >= 1")
    if s.parallel is not None:
        s.parallel.check_batch(s.batch_size)
    place = Placement(s.parallel)
    checkpointing = s.checkpointing or Checkpointing()
    hparams = {k: jnp.asarray(v, jnp.float32) for k, v in (s.hparams or {}).items()}
    hparams = place.replicate(hparams)
    host_hparams = [{n: v[i] if members else v for n, v in hparams.items()}
                    for i in range(axis.count)]  # fmt: skip
    optimizer_fn = as_optimizer_fn(s.optimizer)
    params, static = eqx.partition(model, trainable_mask(model) if trainable is None else trainable)
    if members:  # arrays that do not train are the same for every member: keep one copy
        static = jax.tree.map(lambda x: x[0] if eqx.is_array(x) else x, static)
        opt_state = jax.vmap(lambda p, h: optimizer_fn(h).init(p))(params, hparams)
    else:
        params = _copy(params)  # epochs donate their buffers
        opt_state = optimizer_fn(hparams).init(params)
    params, opt_state = place.params(params), place.params(opt_state)
    norms, key = place.replicate(task.norms), place.replicate(s.key)
    eval_data = place.eval_samples(task.eval_data)
    n_items = objective.n_items if chunked else len(first.items)
    first_data = place.samples(first.data)
    first_items = place.replicate(jnp.asarray(first.items, jnp.int32))
    epoch_programs: dict[int, Callable] = {}

    step_fn = make_step(first.item_loss, optimizer_fn, static, parallel=s.parallel)
    batch = jax.ShapeDtypeStruct((s.batch_size, *first_items.shape[1:]), first_items.dtype)
    drop = int(members)  # one member's step, traced from shapes
    step_args = (_shapes(params, drop), _shapes(opt_state, drop), norms, _shapes(hparams, drop),
                 first_data, batch, jnp.float32(0.0))  # fmt: skip
    program = choose_program(s.epoch_program, step_fn, step_args)

    def compiled_epoch(args: tuple) -> Callable:
        """The epoch over `len(args[6])` items (one program per distinct chunk size), compiled
        ahead of time for `args` on first use: one scanned program, or a host loop over a
        compiled step. With members, no input is donated: a member that diverges keeps its
        parameters of the epoch before."""
        n = len(args[6])
        if n not in epoch_programs:
            shape = dict(n_items=n, batch_size=s.batch_size, epochs=s.epochs, members=members)
            if program == "steps":
                epoch_programs[n] = HostLoopEpoch(step_fn, args, **shape)
            else:
                run = make_epoch(first.item_loss, optimizer_fn, static, **shape,
                                 parallel=s.parallel)  # fmt: skip
                donate = () if members else (0, 1)
                epoch_programs[n] = jax.jit(run, donate_argnums=donate).lower(*args).compile()
        return epoch_programs[n]

    def call_epoch(*args):
        return compiled_epoch(args)(*args)

    sizes = objective.source.chunk_sizes if chunked else [n_items]
    steps_per_epoch = sum(size // s.batch_size for size in sizes)

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
            if len(part.items) < s.batch_size:  # a short last chunk: no whole minibatch
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
        model = Normalized(eqx.combine(params, static), *norms)
        return task.evaluate(place.spatial(model), eval_data)

    best = _copy(params) if s.keep_best else None  # params get donated
    state = TrainingState.start(params, opt_state, key, best, axis.count)
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
    start = saved = time.perf_counter()
    example = (params, opt_state, norms, hparams, key, first_data, first_items, 0.0)
    memory = _memory_line(compiled_epoch(example + ((1.0,) if chunked else ())))
    eval_member = jax.vmap(run_eval, in_axes=(0, None, None)) if members else run_eval
    eval_fn = jax.jit(eval_member, out_shardings=place.out_sharding)
    eval_fn = eval_fn.lower(params, norms, eval_data).compile()
    compile_seconds = time.perf_counter() - start

    def evaluation_of(params) -> dict[str, np.ndarray]:
        return {k: axis.rows(v) for k, v in eval_fn(params, norms, eval_data).items()}

    resumed_from = state.epoch
    if s.on_epoch is not None:  # replayed in the order they were first seen: epoch by epoch
        seen = [(r["epoch"], i, r) for i, history in enumerate(state.history) for r in history]
        for _, i, record in sorted(seen, key=lambda t: t[:2]):
            s.on_epoch(*((i,) if members else ()), record)

    console = s.console or make_console()
    report = _Report(axis, monitor, s.epochs, steps_per_epoch)
    evaluation: dict[str, np.ndarray] = {}
    epoch_seconds: list[float] = []
    with progress_bar("epochs", console=console, extra=report.extra) as bar:
        task_id = bar.add_task("train", total=s.epochs, completed=state.epoch,
                               status="--", visible=s.progress)  # fmt: skip
        if s.parallel is not None and s.progress and memory:
            bar.console.print(memory)
        if resumed_from and s.progress:
            bar.console.print(f"resumed from the checkpoint of epoch {resumed_from}")
        while state.epoch < s.epochs and state.active.any():
            epoch, was_active = state.epoch + 1, state.active
            key, shuffle_key = axis.split(state.key)
            tic = time.perf_counter()
            params, opt_state, losses = run_epoch(
                state.params, state.opt_state, shuffle_key, epoch - 1
            )
            losses = axis.rows(to_host(losses))
            toc = time.perf_counter()
            epoch_seconds.append(toc - tic)
            finite = np.isfinite(losses).all(axis=1)
            if not members and not finite[0]:
                kept = None if saver is None else saver.manager.latest_step()
                raise TrainingDiverged(report.diverged(losses[0], epoch, kept, saver))
            for i in np.flatnonzero(was_active & ~finite):
                state.diverged[i] = epoch
                if s.progress:
                    bar.console.print(f"member {i} " + report.diverged(losses[i], epoch))
            trained = was_active & finite
            if members:  # the others keep their parameters and optimiser state
                params = axis.select(trained, params, state.params)
                opt_state = axis.select(trained, opt_state, state.opt_state)
            state = state.advanced(params, opt_state, key)
            records = {
                i: {
                    "epoch": epoch,
                    "train_loss": float(losses[i].mean()),
                    **learning_rate(schedules[i], host_hparams[i], epoch * steps_per_epoch - 1),
                    "train_seconds": toc - tic,
                }
                for i in np.flatnonzero(trained)
            }
            if epoch % s.eval_every == 0 or epoch == s.epochs or not trained.any():
                evaluation = evaluation_of(params)
                for i, record in records.items():
                    record.update({k: float(v[i].mean()) for k, v in evaluation.items()})
                    record["eval_seconds"] = time.perf_counter() - toc
                metric = evaluation[monitor].mean(axis=1)
                improved = state.evaluated(metric, trained, s.min_delta, s.patience)
                if s.keep_best and improved.any():
                    state.best = axis.select(improved, _copy(params), state.best)
            for i, record in records.items():
                state.history[i].append(record)
            last = epoch == s.epochs or not state.active.any()
            if saver is not None and checkpointing.due(epoch, last, time.perf_counter() - saved):
                saver.save(state)
                saved = time.perf_counter()
            if s.on_epoch is not None:
                for i, record in records.items():
                    s.on_epoch(*((int(i),) if members else ()), record)
            status = report.status(losses, records, evaluation, state)
            bar.update(task_id, advance=1, status=status)
            if s.progress and (
                epoch % s.log_every == 0 or epoch == s.epochs or not state.active.any()
            ):
                bar.console.print(report.line(epoch, status, toc - tic, state))
    use_best = np.array([s.keep_best and 0 < b != state.epoch for b in state.best_epoch])
    if state.best is not None and use_best.any():
        params = axis.select(use_best, state.best, state.params)
        evaluation = evaluation_of(params)
    else:
        params = state.params
        if not evaluation:  # resumed after the last epoch: evaluate the restored model
            evaluation = evaluation_of(params)
    return _Run(params, static, norms, state, evaluation, monitor, compile_seconds,
                epoch_seconds, resumed_from)  # fmt: skip


class _Report:
    """The progress bar's status and the printed lines, for one model or K members."""

    extra = "{task.fields[status]}"

    def __init__(self, axis: MemberAxis, monitor: str, epochs: int, steps_per_epoch: int):
        self.axis, self.monitor, self.epochs, self.steps = axis, monitor, epochs, steps_per_epoch

    def diverged(self, losses: np.ndarray, epoch: int, kept: int | None = None, saver=None):
        """Where a loss became non-finite and what to do; `kept`: the epoch of the last state
        written (None: none yet)."""
        step = int(np.argmin(np.isfinite(losses)))
        where = (f"training loss became {losses[step]} at epoch {epoch}, step {step + 1} of "
                 f"{self.steps}")  # fmt: skip
        if self.axis.size is not None:
            return f"diverged: {where}; it keeps the parameters of epoch {epoch - 1}"
        intact = (
            "" if saver is None
            else "; no training state was written yet" if kept is None
            else f"; the checkpoint of epoch {kept} is intact"
        )  # fmt: skip
        return (f"{where}{intact}; lower optim.lr, clip gradients (optim.clip_norm) or check "
                "the data for NaNs")  # fmt: skip

    def status(self, losses, records, evaluation, state) -> str:
        if self.axis.size is None:
            record = records.get(0, {})
            shown = record.get(self.monitor, math.nan)
            return f"train {record.get('train_loss', math.nan):.4f}  {self.monitor} {shown:.4f}"
        alive = state.active
        if not records:
            return f"members {int(alive.sum())}  {self.monitor} --"
        trained = np.array(list(records))
        train = losses[trained].mean(axis=1)
        best = "--"
        if evaluation and self.monitor in records[trained[0]]:
            means = {i: records[i][self.monitor] for i in trained}
            i = min(means, key=means.get)
            best = f"{means[i]:.4f} (member {i})"
        return (f"{len(trained)}/{self.axis.size} members  train {train.min():.4f}–"
                f"{train.max():.4f}  {self.monitor} {best}")  # fmt: skip

    def line(self, epoch: int, status: str, seconds: float, state: TrainingState) -> str:
        stop = "  early stop" if self.axis.size is None and state.stopped[0] else ""
        return f"epoch {epoch:>4}/{self.epochs}  {status}  ({seconds:.2f} s){stop}"


def _shapes(tree, drop: int = 0):
    """The shapes and dtypes of the arrays of `tree` without their first `drop` axes."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[drop:], x.dtype), tree)


def _copy(tree):
    """A copy of every array of `tree` in new buffers (a device-to-device copy: no program
    to compile per leaf shape, as `jnp.copy` would)."""
    return jax.tree.map(lambda x: jax.device_put(x, may_alias=False), tree)


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
