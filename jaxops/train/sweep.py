"""`sweep`: K models trained side by side in one compiled program per epoch.

Members share the architecture, the training data and the normalisers; they differ by
initialisation seed and/or continuous hyperparameters (learning rate, weight decay: anything
the optimiser reads from `hparams`). The epoch of `engine.make_epoch` is vmapped over the
members' parameters, optimiser states, hyperparameters and shuffling keys, while the data,
items and normalisers are passed once (`in_axes=None`, never copied K times); evaluation is
vmapped likewise. A member whose loss becomes NaN or infinite is marked diverged at that epoch
and keeps its last finite parameters; the others train on unaffected.

**Equivalence with single runs.** Member i with seed `s` (or key `k`) uses
`model_key, train_key = member_keys(s)`: its run equals
`engine.train(model_fn(model_key), objective, key=train_key, hparams={name: hparams[name][i]},
...)` (and `fit_sweep` equals `loop.fit` likewise), up to float32 rounding: vmapped matrix
products and FFTs are batched kernels that may sum in another order (last bits only).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, PRNGKeyArray
from rich.console import Console
from rich.table import Table

from .._progress import make_console, progress_bar
from ..data.normalize import Normalized, Normalizer, NormalizerKind
from ..parallel import Parallel, to_host
from . import engine
from .conditions import declared
from .engine import Objective
from .loop import pair_setup
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


@dataclass
class SweepResult:
    """K trained members.

    - `params`, `static`, `norms`: stacked trainable arrays (leading axis K), the shared
        non-trainable part and the shared normalisers; `member(i)` is a `Normalized` model.
    - `seeds`: per-member seed (the int given, or `None` where a key was given);
        `hparams`: name → `(K,)` values.
    - `history[i]`: member i's records per epoch (`epoch`, `train_loss`, `lr`, metrics,
        `train_seconds` of the whole sweep's epoch); it ends before a divergence.
    - `evaluation`: metric → `(K, N)` per-sample errors of the final models; `test_errors`:
        the monitored one. A diverged member is evaluated with its last finite parameters.
    - `diverged`: member → epoch in which its loss became non-finite.
    - `compile_seconds`: compile time of the epoch and evaluation programs;
        `epoch_seconds`: wall time of each epoch's training program (all members).
    """

    params: Any
    static: Any
    norms: tuple[Normalizer, ...]
    seeds: list[int | None]
    hparams: dict[str, np.ndarray]
    history: list[list[dict[str, float]]]
    evaluation: dict[str, np.ndarray]
    test_errors: np.ndarray
    monitor: str
    diverged: dict[int, int]
    compile_seconds: float
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.seeds)

    def member(self, i: int) -> Normalized:
        """Member i as an ordinary model mapping physical inputs to physical outputs."""
        if not -self.size <= i < self.size:
            raise IndexError(f"member {i} out of range for a sweep of {self.size}")
        params = jax.tree.map(lambda x: x[i], self.params)
        return Normalized(eqx.combine(params, self.static), *self.norms)

    def final(self, metric: str | None = None) -> np.ndarray:
        """`(K,)` mean final error of each member for `metric` (default: the monitored one)."""
        return self.evaluation[metric or self.monitor].mean(axis=1)

    def best(self) -> int:
        """The member with the lowest final monitored error among those that did not diverge."""
        finals = self.final()
        healthy = [i for i in range(self.size) if i not in self.diverged]
        if not healthy:
            raise ValueError("every member of the sweep diverged")
        return min(healthy, key=lambda i: finals[i])

    def table(self) -> Table:
        """Member, seed, hyperparameters, final monitored error and status, as a rich table."""
        table = Table(title=f"sweep of {self.size} members")
        for name in ["member", "seed", *self.hparams, f"final {self.monitor}", "status"]:
            table.add_column(name, justify="left" if name == "status" else "right")
        finals = self.final()
        best = self.best() if len(self.diverged) < self.size else None
        for i in range(self.size):
            seed = "key" if self.seeds[i] is None else str(self.seeds[i])
            values = [f"{float(v[i]):.3g}" for v in self.hparams.values()]
            if i in self.diverged:
                status = f"diverged at epoch {self.diverged[i]}"
            else:
                status = "best" if i == best else "ok"
            table.add_row(str(i), seed, *values, f"{finals[i]:.4f}", status)
        return table


def _members(
    seeds: int | Sequence[int] | PRNGKeyArray, hparams: dict[str, ArrayLike]
) -> tuple[int, list[int | None], PRNGKeyArray, dict[str, jax.Array]]:
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
    *,
    norms: tuple[Normalizer, ...],
    optimizer: optax.GradientTransformation | Callable[[dict], optax.GradientTransformation],
    seeds: int | Sequence[int] | PRNGKeyArray,
    hparams: dict[str, ArrayLike] | None = None,
    epochs: int,
    batch_size: int,
    evaluate: Callable[[Normalized, Any], dict[str, jax.Array]],
    eval_data: Any,
    monitor: str,
    schedule: Callable[[dict], optax.Schedule] | None = None,
    eval_every: int = 1,
    log_every: int = 1,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    console: Console | None = None,
    parallel: Parallel | None = None,
) -> SweepResult:
    """Train K members of one architecture on `objective` in one vmapped program per epoch.

    **Arguments:**

    - `model_fn`: `key → model` (a single-sample equinox module); vmapped over the members'
        model keys, so every member has the same architecture.
    - `objective`, `norms`, `epochs`, `batch_size`, `evaluate`, `eval_data`, `monitor`,
        `eval_every`, `log_every`: as in `engine.train`; shared by all members.
    - `optimizer`: `hparams → optax transformation` (or one transformation for all);
        built inside the vmapped epoch, so its hyperparameters may differ per member.
    - `seeds`: one int / key per member, or a single one shared by all (`member_keys`).
    - `hparams`: name → `(K,)` values (or a scalar shared by all), e.g. `{"lr": [1e-3, 3e-3]}`.
        Seeds and every hyperparameter must have K entries or one; a mismatch raises
        `ValueError` before anything is compiled.
    - `schedule`: `hparams → (step → lr)`, only to log each member's `lr` per epoch.
    - `on_epoch(member, record)`: called with each member's record of every epoch.
    - `progress`: print a line per `log_every` epochs and the final table.
    - `parallel`: shard the shared data and every member's minibatches over a mesh, as in
        `engine.train` (`batch_size` is the global batch).

    **Returns:** a `SweepResult`. Member i equals the single run described in the module
    docstring. Members whose loss becomes non-finite are recorded in `result.diverged`; if
    all diverge, training stops there.
    """
    k, labels, keys, hparams = _members(seeds, hparams or {})
    if not 1 <= batch_size <= len(objective.items):
        raise ValueError(
            f"batch_size {batch_size} must be between 1 and the {len(objective.items)} "
            "training items"
        )
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"epochs ({epochs}) and eval_every ({eval_every}) must be >= 1")
    if parallel is not None:
        parallel.check_batch(batch_size)
    place = engine.Placement(parallel)
    optimizer_fn = engine.as_optimizer_fn(optimizer)
    model_keys, train_keys = jax.vmap(member_keys)(keys)
    models = eqx.filter_vmap(model_fn)(model_keys)
    params, static = eqx.partition(models, eqx.is_inexact_array)
    # Non-trainable arrays (integer buffers) do not depend on the key: keep one copy.
    static = jax.tree.map(lambda x: x[0] if eqx.is_array(x) else x, static)
    opt_state = jax.vmap(lambda p, h: optimizer_fn(h).init(p))(params, hparams)
    params, opt_state = place.params(params), place.params(opt_state)
    train_keys, hparams, norms = place.replicate((train_keys, hparams, norms))
    data, eval_data = place.samples(objective.data), place.eval_samples(eval_data)
    items = place.replicate(jnp.asarray(objective.items, jnp.int32))
    steps_per_epoch = len(items) // batch_size
    run_epoch = engine.make_epoch(
        objective.item_loss,
        optimizer_fn,
        static,
        n_items=len(items),
        batch_size=batch_size,
        epochs=epochs,
        parallel=parallel,
    )

    def member_epoch(params, opt_state, key, active, hparams, norms, data, items, epoch_index):
        key, shuffle_key = jr.split(key)  # as engine.train does each epoch
        new_params, new_state, losses = run_epoch(
            params, opt_state, norms, hparams, shuffle_key, data, items, epoch_index
        )
        ok = active & jnp.all(jnp.isfinite(losses))
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
        params = jax.tree.map(keep, new_params, params)
        opt_state = jax.tree.map(keep, new_state, opt_state)
        return params, opt_state, key, ok, losses

    def member_eval(params, norms, eval_data):
        return evaluate(place.spatial(Normalized(eqx.combine(params, static), *norms)), eval_data)

    active = place.replicate(jnp.ones(k, bool))
    start = time.perf_counter()
    epoch_fn = (
        jax.jit(
            jax.vmap(member_epoch, in_axes=(0, 0, 0, 0, 0, None, None, None, None)),
            donate_argnums=(0, 1),
        )
        .lower(params, opt_state, train_keys, active, hparams, norms, data, items, 0)
        .compile()
    )
    eval_fn = (
        jax.jit(jax.vmap(member_eval, in_axes=(0, None, None)), out_shardings=place.out_sharding)
        .lower(params, norms, eval_data)
        .compile()
    )
    compile_seconds = time.perf_counter() - start

    console = console or make_console()
    history: list[list[dict[str, float]]] = [[] for _ in range(k)]
    diverged: dict[int, int] = {}
    epoch_seconds: list[float] = []
    evaluation: dict[str, np.ndarray] = {}
    host_hparams = {name: np.asarray(v) for name, v in hparams.items()}
    member_hparams = [{n: jnp.asarray(v[i]) for n, v in host_hparams.items()} for i in range(k)]
    schedules = [schedule(h) if schedule is not None else None for h in member_hparams]
    keys = train_keys
    extra = "members {task.fields[alive]}  best " + monitor + " {task.fields[test]}"
    with progress_bar("epochs", console=console, extra=extra) as bar:
        task = bar.add_task("sweep", total=epochs, alive=k, test="--", visible=progress)
        for epoch in range(1, epochs + 1):
            was_active = to_host(active)
            tic = time.perf_counter()
            params, opt_state, keys, active, losses = epoch_fn(
                params, opt_state, keys, active, hparams, norms, data, items, epoch - 1
            )
            losses, alive = to_host((losses, active))
            toc = time.perf_counter()
            epoch_seconds.append(toc - tic)
            evaluated = epoch % eval_every == 0 or epoch == epochs or not alive.any()
            if evaluated:
                evaluation = {
                    name: np.asarray(v) for name, v in eval_fn(params, norms, eval_data).items()
                }
            for i in np.flatnonzero(was_active):
                if not alive[i]:
                    diverged[int(i)] = epoch
                    step = int(np.argmin(np.isfinite(losses[i])))
                    if progress:
                        bar.console.print(
                            f"member {i} diverged: training loss became {losses[i, step]} at "
                            f"epoch {epoch}, step {step + 1} of {steps_per_epoch}; it keeps the "
                            f"parameters of epoch {epoch - 1}"
                        )
                    continue
                record = {
                    "epoch": epoch,
                    "train_loss": float(losses[i].mean()),
                    **engine.learning_rate(
                        schedules[i], member_hparams[i], epoch * steps_per_epoch - 1
                    ),
                    "train_seconds": toc - tic,
                }
                if evaluated:
                    record.update({name: float(v[i].mean()) for name, v in evaluation.items()})
                history[i].append(record)
                if on_epoch is not None:
                    on_epoch(int(i), record)
            shown = _best_line(evaluation, monitor, alive) if evaluated else "--"
            bar.update(task, advance=1, alive=int(alive.sum()), test=shown)
            if progress and (epoch % log_every == 0 or epoch == epochs or not alive.any()):
                train_losses = losses[alive].mean(axis=1) if alive.any() else np.array([np.nan])
                bar.console.print(
                    f"epoch {epoch:>4}/{epochs}  {int(alive.sum())}/{k} members  train "
                    f"{train_losses.min():.4f}–{train_losses.max():.4f}  {monitor} {shown}  "
                    f"({toc - tic:.2f} s)"
                )
            if not alive.any():
                break
    result = SweepResult(
        params=params,
        static=static,
        norms=norms,
        seeds=labels,
        hparams=host_hparams,
        history=history,
        evaluation=evaluation,
        test_errors=evaluation[monitor],
        monitor=monitor,
        diverged=diverged,
        compile_seconds=compile_seconds,
        epoch_seconds=epoch_seconds,
    )
    if progress:
        console.print(result.table())
    return result


def _best_line(evaluation: dict[str, np.ndarray], monitor: str, alive: np.ndarray) -> str:
    if not alive.any():
        return "--"
    means = np.where(alive, evaluation[monitor].mean(axis=1), np.inf)
    best = int(np.argmin(means))
    return f"{means[best]:.4f} (member {best})"


def fit_sweep(
    model_fn: Callable[[PRNGKeyArray], Any],
    train: tuple[Array, Array],
    test: tuple[Array, Array],
    *,
    epochs: int,
    batch_size: int,
    lrs: float | Sequence[float] | None = None,
    weight_decays: float | Sequence[float] | None = None,
    seeds: int | Sequence[int] | PRNGKeyArray = 0,
    optim_config: OptimConfig = DEFAULT_OPTIM,
    normalizer: NormalizerKind = "global",
    loss: str | Callable = "rel_l2",
    lengths: float | tuple[float, ...] = 1.0,
    extra_test: dict[str, tuple[Array, Array]] | None = None,
    validation: tuple[Array, Array] | None = None,
    eval_batch_size: int = 64,
    eval_every: int = 1,
    log_every: int = 1,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    console: Console | None = None,
    parallel: Parallel | None = None,
) -> SweepResult:
    """`loop.fit` for K members at once: a sweep over learning rates, weight decays and seeds.

    **Arguments:**

    - `model_fn`: `key → model`, as for `sweep`.
    - `train`, `test`, `normalizer`, `loss`, `lengths`, `extra_test`, `validation`,
        `eval_batch_size`, `epochs`, `batch_size`, `eval_every`: as in `loop.fit`.
    - `lrs`, `weight_decays`, `seeds`: one value per member, or one shared by all (`None`:
        `optim_config.lr` / `.weight_decay`); every list must have K entries or one.
    - `optim_config`: the optimiser and schedule (`optim.make_optimizer`) whose `lr` and
        `weight_decay` are overridden per member.
    - `parallel`: as in `sweep`.

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
    names = declared(eqx.filter_eval_shape(model_fn, jr.key(0)))
    setup = pair_setup(train, test, normalizer, loss, lengths, extra_test, validation,
                       eval_batch_size, parallel, names=names)  # fmt: skip
    optimizer_fn, schedule_fn = optimizer_from_config(
        optim_config, len(setup.objective.items) // batch_size, epochs
    )
    return sweep(
        model_fn,
        setup.objective,
        norms=setup.norms,
        optimizer=optimizer_fn,
        seeds=seeds,
        hparams=hparams,
        epochs=epochs,
        batch_size=batch_size,
        evaluate=setup.evaluate,
        eval_data=setup.eval_data,
        monitor=setup.monitor,
        schedule=schedule_fn,
        eval_every=eval_every,
        log_every=log_every,
        on_epoch=on_epoch,
        progress=progress,
        console=console,
        parallel=parallel,
    )
