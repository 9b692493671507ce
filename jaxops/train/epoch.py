"""The compiled programs of one epoch: a step (`make_step`), a shuffled pass over the items as
one scanned program (`make_epoch`) or as a host loop over the compiled step (`HostLoopEpoch`),
and the rule that picks between them (`choose_program`).

Every program takes `members`: with it, the parameters, optimiser state, hyperparameters and
shuffling key carry a leading member axis (K models of one architecture trained side by side,
`train.sweep`), and the program is `jax.vmap`ped over it while the data, items and
normalisers are shared (`in_axes=None`, never copied K times).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import optax

from ..data.normalize import Normalized
from ..parallel import Parallel

EPOCH_PROGRAMS = ("auto", "scan", "steps")

EPOCH_AXES = (0, 0, None, 0, 0, None, None, None)
"""Member axes of an epoch's arguments `(params, opt_state, norms, hparams, key, data, items,
epoch_index)`."""

STEP_AXES = (0, 0, None, 0, None, 0, 0)
"""Member axes of a step's arguments `(params, opt_state, norms, hparams, data, batch,
progress)`: every member draws its own minibatches."""


def as_optimizer_fn(optimizer) -> Callable[[dict], optax.GradientTransformation]:
    """An optax transformation, or a function of the hyperparameters returning one."""
    if isinstance(optimizer, optax.GradientTransformation):
        return lambda hparams: optimizer
    return optimizer


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
    members: bool = False,
) -> Callable:
    """`epoch(params, opt_state, norms, hparams, key, data, items, epoch_index, share=1.0)` →
    `(params, opt_state, losses (steps,))`: one shuffled pass over the items, which make up
    `share` of the epoch (a chunk of a streamed dataset) starting at `epoch_index` epochs:
    `lax.scan` of `make_step` over `epoch_batches`. With `members`, vmapped over the member
    axis (`EPOCH_AXES`; losses `(K, steps)`).

    Pure and traceable: `jit` it.
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

    return jax.vmap(run_epoch, in_axes=EPOCH_AXES) if members else run_epoch


class HostLoopEpoch:
    """The epoch as a host loop over one compiled step (and a compiled shuffle), called like
    the compiled `make_epoch` program. XLA's CPU backend runs convolutions inside a compiled
    loop about 2.5× slower than as a program of their own (measured by
    `python -m experiments.benchmarks epoch_program`), so convolutional models train this
    way on CPU."""

    def __init__(self, step: Callable, args: tuple, *, n_items, batch_size, epochs, members=False):
        """`step`: `make_step`'s function; `args`: an epoch call's arguments, to compile for.
        With `members`, both programs are vmapped over the member axis and the step does not
        donate its inputs (the engine keeps a diverged member's previous parameters)."""
        params, opt_state, norms, hparams, key, data, items, epoch_index, *share = args
        shuffle = partial(epoch_batches, **dict(n_items=n_items, batch_size=batch_size,
                                                epochs=epochs))  # fmt: skip
        if members:  # minibatches (steps, K, batch, k): the host loop runs over steps
            shuffle = jax.vmap(shuffle, in_axes=(0, None, None), out_axes=1)
            step = jax.vmap(step, in_axes=STEP_AXES)
        self.batches = jax.jit(shuffle).lower(key, items, epoch_index, *share).compile()
        batches, progress = self.batches(key, items, epoch_index, *share)
        self.step = (
            jax.jit(step, donate_argnums=() if members else (0, 1))
            .lower(params, opt_state, norms, hparams, data, batches[0], progress[0])
            .compile()
        )

    def __call__(self, params, opt_state, norms, hparams, key, data, items, epoch_index, *share):
        batches, progress = self.batches(key, items, epoch_index, *share)
        losses = []
        for batch, p in zip(batches, progress, strict=True):
            params, opt_state, loss = self.step(params, opt_state, norms, hparams, data, batch, p)
            losses.append(loss)
        return params, opt_state, jnp.stack(losses, axis=-1)

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
