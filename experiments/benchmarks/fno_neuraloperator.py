"""FNO-2D throughput, jaxops against neuraloperator 2.0 (PyTorch) on the same CPU: a full
training step (forward, backward, Adam update) and inference, batch 20 at 64×64, width 32,
12 modes per direction, 4 layers, relative L2 loss, Adam; A/B repeats interleaved, medians
and best times reported, with the JAX compile times.

    python -m experiments.benchmarks fno_neuraloperator

Needs `torch==2.13.0` and `neuraloperator==2.0.0` (`make bench` installs them into
.venv-bench, see BENCHMARKS.md); without them it says so and returns.

Configurations (the same parameter count, printed by the run): jaxops `FNO(1, 1, (12, 12), width=32,
depth=4, projection_width=128, grid="periodic")`; neuraloperator `FNO(n_modes=(24, 22),
hidden_channels=32, n_layers=4, lifting_channel_ratio=0, projection_channel_ratio=4,
use_channel_mlp=False, positional_embedding="grid")`. Both keep frequencies −12..11 × 0..11
and append periodic grid coordinates. `lifting_channel_ratio=0` makes neuraloperator's lifting
one linear map like jaxops' (BENCHMARKS.md's ratio 2 adds a 64-channel hidden layer, +2,208
parameters). What still differs: neuraloperator puts the Fourier-layer bias on the spectral
convolution and none on the skip (jaxops the reverse; same count), applies GELU twice between
Fourier layers when `use_channel_mlp=False` (its `FNOBlocks` post-activation path), and uses
`fft_norm="forward"` (a scale absorbed by the weights). torch runs eagerly with
`torch.set_num_threads(os.cpu_count())`; JAX is jit-compiled, compile times reported apart.
"""

import importlib.util
import os
import statistics
from importlib.metadata import version

import jax
import numpy as np

from jaxops import models
from jaxops.train import count_parameters

from ._jax_step import compile_step
from ._timing import interleaved_times, machine

BATCH, SIZE, MODES, WIDTH, DEPTH, REPEATS = 20, 64, 12, 32, 4, 20


def _jaxops(x: np.ndarray, y: np.ndarray):
    """Compiled training step and inference of jaxops' FNO; returns callables and stats."""
    model = models.FNO(
        1, 1, (MODES, MODES), width=WIDTH, depth=DEPTH, grid="periodic", key=jax.random.key(0)
    )
    step = compile_step(model, x, y)
    stats = {"params": count_parameters(model), "compile": (step.compile_train, step.compile_infer)}
    return step.train, step.infer, stats


def _neuraloperator(x: np.ndarray, y: np.ndarray):
    """Eager training step and inference of neuraloperator's FNO; returns callables and stats."""
    import torch
    from neuralop.models import FNO

    torch.manual_seed(0)
    model = FNO(
        n_modes=(2 * MODES, 2 * MODES - 2),
        hidden_channels=WIDTH,
        n_layers=DEPTH,
        in_channels=1,
        out_channels=1,
        lifting_channel_ratio=0,
        projection_channel_ratio=4,
        use_channel_mlp=False,
        positional_embedding="grid",
    )
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss(pred, target):  # relative L2 per sample, mean over the batch (as jaxops)
        diff = torch.linalg.vector_norm((pred - target).flatten(1), dim=1)
        return torch.mean(diff / torch.linalg.vector_norm(target.flatten(1), dim=1))

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        value = loss(model(x), y)
        value.backward()
        optimizer.step()
        return float(value.detach())

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(x).numpy()

    params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    return train, infer, {"params": params, "threads": torch.get_num_threads()}


def main() -> None:
    missing = [m for m in ("torch", "neuralop") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"\nfno_neuraloperator: {', '.join(missing)} not installed; `make bench` installs")
        return
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 1, SIZE, SIZE)).astype(np.float32)
    y = rng.normal(size=(BATCH, 1, SIZE, SIZE)).astype(np.float32)
    jx_train, jx_infer, jx = _jaxops(x, y)
    no_train, no_infer, no = _neuraloperator(x, y)
    load = os.getloadavg()[0]
    train = interleaved_times({"jaxops": jx_train, "neuralop": no_train}, REPEATS, 2)
    infer = interleaved_times({"jaxops": jx_infer, "neuralop": no_infer}, REPEATS, 2)
    load = max(load, os.getloadavg()[0])

    print(f"\nFNO-2D, jaxops vs neuraloperator {version('neuraloperator')} — {machine()}")
    print(
        f"  batch {BATCH}, {SIZE}x{SIZE}, width {WIDTH}, {MODES} modes per direction, "
        f"{DEPTH} layers; torch {torch.__version__} eager, {no['threads']} threads"
    )
    print(f"  parameters: jaxops {jx['params']:,}, neuraloperator {no['params']:,}")
    print(f"  samples/s{'':<16}{'jaxops':>8}{'neuralop':>10}{'ratio':>8}")
    for name, times in (("training step", train), ("inference", infer)):
        for stat in ("median", "best"):
            reduce = statistics.median if stat == "median" else min
            a, b = BATCH / reduce(times["jaxops"]), BATCH / reduce(times["neuralop"])
            print(f"  {name + ', ' + stat:<25}{a:>8.1f}{b:>10.1f}{a / b:>7.2f}x")
    compile_train, compile_infer = jx["compile"]
    print(f"  jaxops compile: training step {compile_train:.1f} s, inference {compile_infer:.1f} s")
    print(
        f"  ({REPEATS} interleaved repeats after warm-up; ratio = jaxops / neuraloperator; "
        f"1-min load average up to {load:.1f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
