"""The engine's epoch against a bare host loop over one jitted step, for every registered
model with its shipped configuration (`configs/model/`), 64×64, batch 10, Adam.

`train.fit` (what `jaxops train` runs) compiles an epoch either as one scanned program or as
a host loop over a compiled step (`trainer.epoch_program`; `auto` chooses). The bare loop is
independent of the engine: `jax.jit` of value-and-grad of the mean relative L2 plus an Adam
update, called on fixed minibatches. Rounds alternate engine (auto), engine (the other
program) and bare loop; each time is the median per step over the epochs after the first.

    python -m experiments.benchmarks epoch_program          # every registered model
    python -m experiments.benchmarks.epoch_program mgno fno # some
"""

import statistics
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxops import experiment, models, train
from jaxops.data.normalize import Normalizer
from jaxops.train import conditions
from jaxops.train.epoch import choose_program, make_step
from jaxops.train.losses import relative_l2

from ._timing import machine

N, SIZE, BATCH, EPOCHS, ROUNDS = 40, 64, 10, 4, 2


def shipped(name: str):
    """The model of `configs/model/<name>.yaml` for one input and one output channel."""
    config = experiment.compose(["experiment=darcy", f"model={name}"]).model
    kwargs = models.config_kwargs(config)
    return models.build(name, in_channels=1, out_channels=1, key=jax.random.key(0), **kwargs)


def arrays(model) -> dict[str, np.ndarray]:
    """Random fields and, for the model's conditions, parameters or lead times."""
    rng = np.random.default_rng(0)
    out = {
        "inputs": rng.standard_normal((N, 1, SIZE, SIZE)).astype(np.float32),
        "outputs": rng.standard_normal((N, 1, SIZE, SIZE)).astype(np.float32),
    }
    for name in conditions.declared(model):
        shape = (N,) if name == "lead_time" else (N, getattr(model, "n_params", 1))
        out[name] = rng.uniform(0.1, 1.0, shape).astype(np.float32)
    return out


def engine_seconds(model, data, program: str) -> float:
    """Median seconds per step of `train.fit`'s epochs after the first."""
    result = train.fit(model, data, data, optimizer=optax.adam(1e-3), epochs=EPOCHS,
                       batch_size=BATCH, key=jax.random.key(1), progress=False,
                       epoch_program=program)  # fmt: skip
    return statistics.median(h["train_seconds"] for h in result.history[1:]) / (N // BATCH)


def bare_seconds(model, data) -> float:
    """Median seconds per step of a host loop over one jitted Adam step on fixed batches."""
    names = conditions.declared(model)
    optimizer = optax.adam(1e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    batches = [
        tuple(jnp.asarray(data[k][i : i + BATCH]) for k in ("inputs", "outputs", *names))
        for i in range(0, N, BATCH)
    ]

    def loss(params, x, y, *c):
        net = eqx.combine(params, static)
        return jnp.mean(jax.vmap(lambda a, b, *cc: relative_l2(net(a, *cc), b))(x, y, *c))

    @jax.jit
    def step(params, state, batch):
        value, grads = jax.value_and_grad(loss)(params, *batch)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    state = optimizer.init(params)
    times = []
    for _ in range(EPOCHS):
        tic = time.perf_counter()
        for batch in batches:
            params, state, value = step(params, state, batch)
        jax.block_until_ready(value)
        times.append((time.perf_counter() - tic) / len(batches))
    return statistics.median(times[1:])


def auto_program(model, data) -> str:
    optimizer = optax.adam(1e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    names = conditions.declared(model)
    arrays_ = (jnp.asarray(data["inputs"]), jnp.asarray(data["outputs"]),
               tuple(jnp.asarray(data[n]) for n in names))  # fmt: skip

    def item_loss(model, data, item, progress):
        values = tuple(v[item[0]] for v in data[2])
        return relative_l2(model(data[0][item[0]], *values), data[1][item[0]])

    step = make_step(item_loss, lambda h: optimizer, static)
    norms = (Normalizer.fit(arrays_[0]), Normalizer.fit(arrays_[1]), None)
    items = jnp.arange(BATCH, dtype=jnp.int32)[:, None]
    args = (params, optimizer.init(params), norms, {}, arrays_, items, jnp.float32(0.0))
    return choose_program("auto", step, args)


def main(names: list[str] | None = None) -> None:
    names = names or models.MODELS.names()
    print(f"\nEpoch program vs a bare host loop over one jitted step — {machine()}")
    print(f"  {N} samples {SIZE}x{SIZE}, batch {BATCH}, Adam; ms per step, median of epochs "
          f"2-{EPOCHS} over {ROUNDS} alternating rounds")  # fmt: skip
    print(f"  {'model':<10}{'auto':>6}{'engine':>10}{'other':>10}{'bare':>10}"
          f"{'engine/bare':>13}{'other/bare':>12}")  # fmt: skip
    for name in names:
        model = shipped(name)
        data = arrays(model)
        program = auto_program(model, data)
        other = "scan" if program == "steps" else "steps"
        runs: dict[str, list[float]] = {"engine": [], "other": [], "bare": []}
        for _ in range(ROUNDS):
            runs["engine"].append(engine_seconds(model, data, program))
            runs["other"].append(engine_seconds(model, data, other))
            runs["bare"].append(bare_seconds(model, data))
        ms = {k: statistics.median(v) * 1e3 for k, v in runs.items()}
        print(f"  {name:<10}{program:>6}{ms['engine']:>10.1f}{ms['other']:>10.1f}"
              f"{ms['bare']:>10.1f}{ms['engine'] / ms['bare']:>13.2f}"
              f"{ms['other'] / ms['bare']:>12.2f}")  # fmt: skip
    print(
        "  (engine: train.fit with trainer.epoch_program=auto; other: the program auto did "
        "not choose)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
