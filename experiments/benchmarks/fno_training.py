"""FNO-2D throughput on this machine: a full training step (forward, backward, Adam update)
and inference, batch 20 at 64×64, width 32, 12 modes per direction, 4 layers, plus compile
times. It tracks jaxops alone; it is not a comparison with another library.

    python -m experiments.benchmarks fno_training
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxops import models
from jaxops.train import count_parameters
from jaxops.train.losses import relative_l2

from ._timing import interleaved, machine

BATCH, SIZE, REPEATS = 20, 64, 10


def main() -> None:
    key_model, key_x, key_y = jax.random.split(jax.random.key(0), 3)
    model = models.FNO(1, 1, (12, 12), width=32, depth=4, key=key_model)
    x = jax.random.normal(key_x, (BATCH, 1, SIZE, SIZE))
    y = jax.random.normal(key_y, (BATCH, 1, SIZE, SIZE))
    optimizer = optax.adam(1e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(params, x, y):
        net = eqx.combine(params, static)
        return jnp.mean(jax.vmap(lambda a, b: relative_l2(net(a), b))(x, y))

    def step(params, opt_state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = [params, optimizer.init(params)]
    tic = time.perf_counter()
    train_step = jax.jit(step).lower(*state, x, y).compile()
    compile_train = time.perf_counter() - tic
    tic = time.perf_counter()
    infer = jax.jit(lambda p, x: jax.vmap(eqx.combine(p, static))(x)).lower(params, x).compile()
    compile_infer = time.perf_counter() - tic

    def run_train():
        state[0], state[1], value = train_step(state[0], state[1], x, y)
        return value

    seconds = interleaved({"train": run_train, "infer": lambda: infer(state[0], x)}, REPEATS)
    print(f"\nFNO-2D training and inference — {machine()}")
    print(f"  {count_parameters(model):,} parameters, batch {BATCH}, {SIZE}x{SIZE}")
    print(
        f"  training step: {seconds['train'] * 1e3:8.1f} ms  ({BATCH / seconds['train']:7.1f} "
        f"samples/s), compile {compile_train:.1f} s"
    )
    print(
        f"  inference:     {seconds['infer'] * 1e3:8.1f} ms  ({BATCH / seconds['infer']:7.1f} "
        f"samples/s), compile {compile_infer:.1f} s"
    )
    print(f"  (median of {REPEATS} interleaved repeats after warm-up)")


if __name__ == "__main__":
    main()
