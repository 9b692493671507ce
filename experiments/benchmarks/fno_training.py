"""FNO-2D throughput on this machine: a full training step (forward, backward, Adam update)
and inference, batch 20 at 64×64, width 32, 12 modes per direction, 4 layers, plus compile
times. It tracks jaxops alone; it is not a comparison with another library.

    python -m experiments.benchmarks fno_training
"""

import jax

from jaxops import models
from jaxops.train import count_parameters

from ._jax_step import compile_step
from ._timing import interleaved, machine

BATCH, SIZE, REPEATS = 20, 64, 10


def main() -> None:
    key_model, key_x, key_y = jax.random.split(jax.random.key(0), 3)
    model = models.FNO(1, 1, (12, 12), width=32, depth=4, key=key_model)
    x = jax.random.normal(key_x, (BATCH, 1, SIZE, SIZE))
    y = jax.random.normal(key_y, (BATCH, 1, SIZE, SIZE))
    step = compile_step(model, x, y)
    seconds = interleaved({"train": step.train, "infer": step.infer}, REPEATS)
    print(f"\nFNO-2D training and inference — {machine()}")
    print(f"  {count_parameters(model):,} parameters, batch {BATCH}, {SIZE}x{SIZE}")
    print(
        f"  training step: {seconds['train'] * 1e3:8.1f} ms  ({BATCH / seconds['train']:7.1f} "
        f"samples/s), compile {step.compile_train:.1f} s"
    )
    print(
        f"  inference:     {seconds['infer'] * 1e3:8.1f} ms  ({BATCH / seconds['infer']:7.1f} "
        f"samples/s), compile {step.compile_infer:.1f} s"
    )
    print(f"  (median of {REPEATS} interleaved repeats after warm-up)")


if __name__ == "__main__":
    main()
