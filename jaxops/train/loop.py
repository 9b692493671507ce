"""`fit`: train a single-sample operator on in-memory (input, target) pairs with optax.

Inputs and outputs are normalised with statistics of the training set; the loss is computed
in physical units, and the returned model includes the normalisers (`data.Normalized`), so it
maps physical inputs to physical outputs. The engine (`train.engine`) compiles each epoch as
one program and adds evaluation at several resolutions, best-model tracking, early stopping
and resumable checkpoints.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ..data.normalize import Normalizer, NormalizerKind
from ..data.stream import ChunkedArrays, fit_normalizers
from ..parallel import Parallel
from . import auxiliary, engine
from .conditions import declared, params_normalizer
from .engine import ChunkedObjective, FitResult, Objective, TrainingDiverged
from .losses import get_loss, relative_l2

__all__ = ["FitResult", "TrainingDiverged", "fit", "count_parameters", "sample_errors"]


def count_parameters(model: Any) -> int:
    """Number of real scalars in the model's floating-point arrays, complex ones counted twice;
    also for shape structs (`eqx.filter_eval_shape(FNO, ...)` counts without allocating)."""
    inexact = lambda x: (
        isinstance(x, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.inexact)
    )
    leaves = jax.tree.leaves(eqx.filter(model, inexact))
    return sum(x.size * (2 if jnp.issubdtype(x.dtype, jnp.complexfloating) else 1) for x in leaves)


Pairs = tuple[ArrayLike, ArrayLike] | Mapping[str, ArrayLike]
"""A data set of pairs: `(inputs, targets)` arrays `(N, C, *spatial)`, or named arrays
(`inputs`, `outputs` and the conditions the model takes, e.g. `params`)."""


def check_targets(**sets: ArrayLike) -> None:
    """Relative errors are undefined for an all-zero target: name the first one."""
    for name, targets in sets.items():
        flat = np.asarray(targets).reshape(len(targets), -1)
        _refuse_zero_targets(name, np.all(flat == 0, axis=1))


def _refuse_zero_targets(name: str, zero: np.ndarray) -> None:
    if zero.any():
        raise ValueError(
            f"{name} target {np.flatnonzero(zero)[0]} is identically zero, so its relative "
            "error is undefined; check how the data were generated"
        )


def _placed_training_set(train, normalizer, parallel: Parallel):
    """The training pairs (and conditions) split over `parallel`'s devices (each process reads
    only the rows its devices hold), checked and normalised on the devices; the sample
    count."""
    n = len(train[0])
    x_train, y_train, values = parallel.samples(tuple(train))
    zero = jax.jit(lambda y: jnp.all(y[:n].reshape(n, -1) == 0, axis=1),
                   out_shardings=parallel.replicated)(y_train)  # fmt: skip
    _refuse_zero_targets("training", np.asarray(zero))
    norms = (Normalizer.fit(x_train[:n], normalizer), Normalizer.fit(y_train[:n], normalizer))
    return x_train, y_train, values, norms, n


def named_pairs(arrays, names: tuple[str, ...], what: str) -> tuple:
    """`(inputs, targets, conditions)` of a set given as `(inputs, targets)` (no conditions)
    or as named arrays (a mapping with `inputs`, `outputs` and the conditions `names`, such
    as `data.load(path).arrays`); `conditions` is a tuple of arrays in call order."""
    if isinstance(arrays, Mapping):
        missing = [name for name in names if arrays.get(name) is None]
        if missing:
            raise ValueError(
                f"the model takes {', '.join(names)} per sample, but {what} has no "
                f"{', '.join(missing)}"
            )
        return arrays["inputs"], arrays["outputs"], tuple(arrays[name] for name in names)
    if names:
        raise ValueError(
            f"the model takes {', '.join(names)} per sample: pass {what} as named arrays, "
            "e.g. {'inputs': x, 'outputs': y, 'params': p} (data.load(path).arrays)"
        )
    inputs, targets = arrays
    return inputs, targets, ()


class Physics(NamedTuple):
    """A physics-informed term of the pair loss: `loss(x, pred)` in physical units (see
    `train.physics`), and the weights of it and of the data loss."""

    loss: Callable[[Array, Array], Array]
    weight: float = 1.0
    data_weight: float = 1.0


def pair_objective(
    inputs: ArrayLike,
    targets: ArrayLike,
    loss: Callable,
    n: int | None = None,
    physics: Physics | None = None,
    conditions: tuple[ArrayLike, ...] = (),
) -> Objective:
    """Items are the indices of the first `n` (default: all) samples; the loss of item i is
    `loss(model(x_i, *c_i), y_i)` with `c_i` the sample's `conditions` (if any), or with
    `physics` `data_weight · loss(pred, y_i) + weight · physics.loss(x_i, pred)` (the data
    term is skipped at `data_weight=0`). A model's auxiliary estimate adds its weighted loss
    (`train.auxiliary`; not with physics). The engine's model is `data.Normalized`, so `x_i`
    and the prediction are physical."""

    def item_loss(model, data, item, progress):
        x, y = data[0][item[0]], data[1][item[0]]
        conditions = tuple(values[item[0]] for values in data[2])
        pred = model(x, *conditions)
        if physics is None:
            aux = auxiliary.bound(model, conditions)  # a model's own estimate, if it has one
            return loss(pred, y) + auxiliary.loss_term(aux, loss, x, y)
        value = physics.weight * physics.loss(x, pred)
        return value if physics.data_weight == 0 else value + physics.data_weight * loss(pred, y)

    items = np.arange(len(inputs) if n is None else n, dtype=np.int32)[:, None]
    data = (jnp.asarray(inputs), jnp.asarray(targets), tuple(map(jnp.asarray, conditions)))
    return Objective(data, items, item_loss)


class PairSetup(NamedTuple):
    """What `fit` and `sweep.fit_sweep` hand to the engine for (input, target) pairs."""

    objective: Objective
    norms: tuple[Normalizer | None, ...]
    evaluate: Callable
    eval_data: dict[str, tuple[Array, Array]]
    monitor: str


def pair_setup(
    train,
    test,
    normalizer,
    loss,
    lengths,
    extra_test,
    validation,
    eval_batch_size,
    parallel=None,
    physics: Physics | None = None,
    names: tuple[str, ...] = (),
) -> PairSetup:
    """Checked data, normalisers fitted on the training set, the training objective (with the
    `physics` term, if any), and the evaluation sets: `test_rel_l2`, `test_rel_l2@<name>` per
    extra test set and `val_rel_l2` (monitored when given, else `test_rel_l2`). With
    `parallel`, the training set is placed on its devices first. `names`: the conditions the
    model takes (`train.conditions`), read per sample from every set's named arrays (for
    pairs a lead time is data too)."""
    loss_fn = get_loss(loss, lengths=lengths) if isinstance(loss, str) else loss
    test = named_pairs(test, names, "the test set")
    check_targets(test=test[1])
    if isinstance(train, ChunkedArrays):
        if names:
            raise ValueError(
                f"the model takes {', '.join(names)} per sample, which streamed training does "
                "not read yet; load the training set into memory"
            )
        norms = fit_normalizers(train, normalizer)

        def make(chunk):
            check_targets(training=chunk[1])
            return pair_objective(chunk[0], chunk[1], loss_fn, physics=physics)

        objective = ChunkedObjective(train, make)
    elif parallel is not None:
        train = named_pairs(train, names, "the training set")
        x_train, y_train, values, norms, n = _placed_training_set(train, normalizer, parallel)
        norms = (*norms, params_normalizer(names, values, normalizer, n))
        objective = pair_objective(x_train, y_train, loss_fn, n, physics, values)
    else:
        x_train, y_train, values = jax.tree.map(
            jnp.asarray, named_pairs(train, names, "the training set")
        )
        check_targets(training=y_train)
        norms = (Normalizer.fit(x_train, normalizer), Normalizer.fit(y_train, normalizer),
                 params_normalizer(names, values, normalizer))  # fmt: skip
        objective = pair_objective(x_train, y_train, loss_fn, physics=physics, conditions=values)
    placed = lambda arrays: jax.tree.map(jnp.asarray, arrays)
    eval_data = {"test_rel_l2": placed(test)}
    for name, arrays in (extra_test or {}).items():
        arrays = named_pairs(arrays, names, f"test set {name}")
        check_targets(**{f"test set {name}": arrays[1]})
        eval_data[f"test_rel_l2@{name}"] = placed(arrays)
    if validation is not None:
        validation = named_pairs(validation, names, "the validation set")
        check_targets(validation=validation[1])
        eval_data["val_rel_l2"] = placed(validation)

    def evaluate(network, eval_data):
        return {
            k: sample_errors(network, x, y, eval_batch_size, values)
            for k, (x, y, values) in eval_data.items()
        }

    monitor = "val_rel_l2" if validation is not None else "test_rel_l2"
    return PairSetup(objective, norms, evaluate, eval_data, monitor)


def fit(
    model: Callable,
    train: Pairs | ChunkedArrays,
    test: Pairs,
    settings: engine.Settings | None = None,
    *,
    normalizer: NormalizerKind = "global",
    loss: str | Callable = "rel_l2",
    lengths: float | tuple[float, ...] = 1.0,
    extra_test: dict[str, Pairs] | None = None,
    validation: Pairs | None = None,
    eval_batch_size: int = 64,
    physics: Callable[[Array, Array], Array] | None = None,
    physics_weight: float = 1.0,
    data_weight: float = 1.0,
    trainable: Any = None,
    **engine_settings,
) -> FitResult:
    """Train `model` on `(inputs, targets)` pairs shaped `(N, C, *spatial)`.

    **Arguments:**

    - `model`: an equinox module mapping one sample `(C_in, *spatial)` → `(C_out, *spatial)`.
    - `train`, `test`: `(inputs, targets)` arrays; the test set gives `test_rel_l2`, the
        monitored metric. `train` may be a `data.stream.ChunkedArrays` of `inputs` and
        `outputs` instead, for data larger than memory: it is read chunk by chunk with
        prefetch and the normalisers are fitted in one streaming pass.
    - `extra_test`: more test sets by name (e.g. other resolutions, `{"63x63": (x, y)}` →
        `test_rel_l2@63x63`), evaluated in the same program.
    - `validation`: if given, `val_rel_l2` is monitored instead of `test_rel_l2`.
    - `settings` and/or keywords: the engine's `Settings` (`optimizer`, `epochs`,
        `batch_size`, `key` required; `schedule`, `hparams`, `eval_every`, `patience`,
        `min_delta`, `keep_best`, `checkpointing`, `log_every`, `on_epoch`, `progress`,
        `console`, `parallel`, `epoch_program`); keywords replace fields of `settings`.
        `on_epoch` is called with each epoch's record (`epoch`, `train_loss`,
        `test_rel_l2`, `lr`, `train_seconds`, `eval_seconds`); with `parallel`,
        `batch_size` is the global batch.
    - `loss`: a name of `losses.LOSSES` (`rel_l2`, `rel_h1`, ...) or `loss(pred, target)`;
        `lengths` are the domain side(s) for Sobolev losses.
    - `normalizer`: `"global"`, `"pointwise"` or `"none"` (see `data.normalize`).
    - `physics`: a physics-informed loss `physics(input, prediction) -> scalar` on one sample
        in physical units (e.g. `train.physics.darcy_physics()`); the training loss becomes
        `data_weight · loss + physics_weight · physics` (PINO, Li et al. 2024).
        `data_weight=0` trains without solutions: the training targets then only fit the
        output normaliser (with `normalizer="none"`, any nonzero placeholder will do).
    - `trainable`: the arrays that train, as a filter spec (`train.finetune.trainable_mask`
        freezes named parts); default all floating-point arrays outside the parts the model
        declares `frozen`.

    **Returns:** a `FitResult`. Raises `TrainingDiverged` naming the epoch and step if the
    loss becomes non-finite.
    """
    if physics is None and data_weight != 1.0:
        raise ValueError(f"data_weight={data_weight} needs a physics loss: pass physics=...")
    if physics is not None and (physics_weight < 0 or data_weight < 0):
        raise ValueError(
            f"physics_weight ({physics_weight}) and data_weight ({data_weight}) must be >= 0"
        )
    settings = engine.Settings.of(settings, **engine_settings)
    term = None if physics is None else Physics(physics, physics_weight, data_weight)
    setup = pair_setup(train, test, normalizer, loss, lengths, extra_test, validation,
                       eval_batch_size, settings.parallel, term, declared(model))  # fmt: skip
    result = engine.train(
        model,
        setup.objective,
        settings,
        norms=setup.norms,
        evaluate=setup.evaluate,
        eval_data=setup.eval_data,
        monitor=setup.monitor,
        trainable=trainable,
    )
    result.test_errors = result.evaluation["test_rel_l2"]
    return result


def sample_errors(
    model: Callable,
    inputs: ArrayLike,
    targets: ArrayLike,
    batch_size: int = 64,
    conditions: tuple = (),
) -> Array:
    """Relative L2 error of each sample, `(N,)`, evaluated `batch_size` samples at a time;
    `conditions`: per-sample arrays `(N, ...)` passed after the input, `model(x_n, *c_n)`."""
    return lax.map(
        lambda abc: relative_l2(model(abc[0], *abc[2]), abc[1]),
        (inputs, targets, tuple(conditions)),
        batch_size=min(batch_size, len(inputs)),
    )


@eqx.filter_jit
def evaluate_model(
    model: Callable,
    inputs: ArrayLike,
    targets: ArrayLike,
    batch_size: int = 64,
    conditions: tuple = (),
) -> Array:
    """Compiled `sample_errors`: relative L2 error of each sample, `(N,)`."""
    values = tuple(map(jnp.asarray, conditions))
    return sample_errors(model, jnp.asarray(inputs), jnp.asarray(targets), batch_size, values)


@eqx.filter_jit
def predict(
    model: Callable, inputs: ArrayLike, batch_size: int = 64, conditions: tuple = ()
) -> Array:
    """The model applied to each sample of `inputs` `(N, C, *spatial)` (and its `conditions`,
    per-sample arrays `(N, ...)`), compiled."""
    values = tuple(map(jnp.asarray, conditions))
    return lax.map(lambda xc: model(xc[0], *xc[1]), (jnp.asarray(inputs), values),
                   batch_size=min(batch_size, len(inputs)))  # fmt: skip
