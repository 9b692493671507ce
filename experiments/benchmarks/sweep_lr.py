"""A learning-rate sweep of a small FNO-2D on Darcy flow: K members trained in one vmapped
program per epoch (`train.sweep.fit_sweep`) against K sequential `train.fit` runs with the
same model keys, shuffle keys and learning rates.

Reports the training program's wall time per epoch (all K members; median over epochs and
repeats), the total time including compilation and evaluation (median over repeats, the two
contenders interleaved), compile times, and the largest difference between the members'
final test errors and the sequential runs' (float32 rounding of batched kernels only).

    python -m experiments.benchmarks sweep_lr
"""

import statistics
import tempfile
import time
from pathlib import Path

import jax

from jaxops import models
from jaxops.data import generate_dataset, load
from jaxops.pde import DarcyFlow
from jaxops.train import count_parameters, fit
from jaxops.train.optim import OptimConfig
from jaxops.train.sweep import fit_sweep, member_keys, optimizer_from_config

from ._timing import machine

SIZE, N_TRAIN, N_TEST = 33, 200, 50
LRS, SEED = (1e-3, 2e-3, 5e-3, 1e-2), 0
EPOCHS, BATCH, REPEATS = 5, 20, 2
CONFIG = OptimConfig("adam", 1e-3, 1e-4, "cosine", 1, 1.0, 0)


def model_fn(key):
    return models.FNO(1, 1, (8, 8), width=24, depth=4, projection_width=64, key=key)


def darcy():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "darcy.h5"
        generate_dataset(DarcyFlow(n=SIZE), path, N_TRAIN + N_TEST, seed=5, progress=False)
        train_set, test_set = load(path).split(N_TRAIN)
    return (train_set.inputs, train_set.outputs), (test_set.inputs, test_set.outputs)


def run_sweep(train, test):
    return fit_sweep(
        model_fn, train, test, lrs=LRS, seeds=SEED, optim_config=CONFIG, epochs=EPOCHS,
        batch_size=BATCH, progress=False,
    )  # fmt: skip


def run_sequential(train, test):
    optimizer_fn, schedule_fn = optimizer_from_config(CONFIG, N_TRAIN // BATCH, EPOCHS)
    model_key, train_key = member_keys(SEED)
    results = []
    for lr in LRS:
        hparams = {"lr": lr, "weight_decay": CONFIG.weight_decay}
        results.append(
            fit(
                model_fn(model_key),
                train,
                test,
                optimizer=optimizer_fn,
                hparams=hparams,
                schedule=schedule_fn(hparams),
                epochs=EPOCHS,
                batch_size=BATCH,
                key=train_key,
                progress=False,
            )  # fmt: skip
        )
    return results


def main() -> None:
    train, test = darcy()
    timings = {"sweep": [], "sequential": []}
    for _ in range(REPEATS):  # interleaved: sweep, sequential, sweep, sequential, ...
        tic = time.perf_counter()
        swept = run_sweep(train, test)
        timings["sweep"].append((time.perf_counter() - tic, swept))
        tic = time.perf_counter()
        sequential = run_sequential(train, test)
        timings["sequential"].append((time.perf_counter() - tic, sequential))
    sweep_epochs = [s for _, r in timings["sweep"] for s in r.epoch_seconds]
    seq_epochs = [
        sum(r.history[e]["train_seconds"] for r in rs)
        for _, rs in timings["sequential"]
        for e in range(EPOCHS)
    ]
    per_epoch = {
        "sweep": statistics.median(sweep_epochs),
        "sequential": statistics.median(seq_epochs),
    }
    total = {name: statistics.median(t for t, _ in runs) for name, runs in timings.items()}
    compile_s = {
        "sweep": statistics.median(r.compile_seconds for _, r in timings["sweep"]),
        "sequential": statistics.median(
            sum(r.compile_seconds for r in rs) for _, rs in timings["sequential"]
        ),
    }
    finals = swept.final()
    seq_finals = [float(r.test_errors.mean()) for r in sequential]
    diff = max(abs(a - b) for a, b in zip(finals, seq_finals, strict=True))
    k = len(LRS)
    print(f"\nLearning-rate sweep of {k} FNO-2D members: vmapped vs sequential — {machine()}")
    print(
        f"  {count_parameters(model_fn(jax.random.key(0))):,} parameters per member, Darcy "
        f"{SIZE}x{SIZE}, {N_TRAIN} train / {N_TEST} test, batch {BATCH}, {EPOCHS} epochs, "
        f"Adam + cosine, lrs {', '.join(f'{lr:g}' for lr in LRS)}"
    )
    print(f"  {'':<22}{'epoch (train)':>14}{'total':>10}{'compile':>10}")
    for name, label in (("sweep", f"vmapped sweep (K={k})"), ("sequential", f"{k} x fit")):
        print(
            f"  {label:<22}{per_epoch[name]:>12.3f} s{total[name]:>8.1f} s{compile_s[name]:>8.1f} s"
        )
    print(
        f"  speed-up of the sweep: {per_epoch['sequential'] / per_epoch['sweep']:.2f}x per "
        f"epoch, {total['sequential'] / total['sweep']:.2f}x in total"
    )
    print(
        "  final test rel L2 per member: sweep "
        + ", ".join(f"{e:.4f}" for e in finals)
        + f"; max |sweep - sequential| = {diff:.2e}"
    )
    print(
        f"  (epoch: median over {EPOCHS} epochs x {REPEATS} repeats of the training program for "
        f"all {k} members; total: median of {REPEATS} interleaved repeats, compile and "
        "evaluation included)"
    )


if __name__ == "__main__":
    main()
