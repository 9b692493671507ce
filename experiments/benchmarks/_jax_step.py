"""The JAX side of the model benchmarks: a compiled training step (relative L2, Adam) and a
compiled inference call for one batch, with their compile times."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxops.train.losses import relative_l2


@dataclass
class CompiledStep:
    """`train()` runs one step (forward, backward, Adam update) and returns the loss;
    `infer()` applies the current model to the batch."""

    train: Callable[[], jax.Array]
    infer: Callable[[], jax.Array]
    compile_train: float
    compile_infer: float


def compile_step(model: eqx.Module, x: jax.Array, y: jax.Array, lr: float = 1e-3) -> CompiledStep:
    optimizer = optax.adam(lr)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(params, x, y):
        net = eqx.combine(params, static)
        return jnp.mean(jax.vmap(lambda a, b: relative_l2(net(a), b))(x, y))

    def step(params, opt_state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = [params, optimizer.init(params)]
    tic = time.perf_counter()
    train_step = jax.jit(step, donate_argnums=(0, 1)).lower(*state, x, y).compile()
    compile_train = time.perf_counter() - tic
    tic = time.perf_counter()
    infer = jax.jit(lambda p, x: jax.vmap(eqx.combine(p, static))(x)).lower(params, x).compile()
    compile_infer = time.perf_counter() - tic

    def train():
        state[0], state[1], value = train_step(state[0], state[1], x, y)
        return value

    return CompiledStep(train, lambda: infer(state[0], x), compile_train, compile_infer)
