"""Weak and strong scaling of jaxops's data-parallel training step on forced host CPU devices
(1, 2, 4): `train.fit(..., parallel=Parallel(make_mesh({"data": n})))` on 64×64 Darcy-shaped
random data, FNO-2D of the paper's Darcy configuration (configs/model/fno.yaml: 12 modes,
width 32, depth 4, projection 128) or, with `--model mgno`, MgNO (configs/model/mgno.yaml).

- Weak scaling: 10 samples per device, global batch 10·n; efficiency t(1)/t(n) (1.0 is
    perfect weak scaling).
- Fixed global batch (strong scaling): batch 40 on every device count, the same total
    arithmetic, so t(n)/t(1) is the pure cost of sharding it.
- All-reduce: a gradient-sized float32 buffer summed over the data axis on its own, the
    per-step communication that data parallelism adds.

The device count is fixed when JAX starts, so each device count runs in its own subprocess
(`XLA_FLAGS=--xla_force_host_platform_device_count=n`, `JAX_PLATFORMS=cpu`; the script
re-invokes itself with `--devices n`) and returns JSON. Subprocesses cannot be interleaved:
each measures its configurations one after another, with a warm-up epoch then 5 timed
epochs of 4 minibatches (`--epochs`, `--steps`), timing the ahead-of-time compiled epoch
program only (`FitResult.history`'s `train_seconds`), and reports the median seconds per
step (epoch seconds / steps).

Caveat: forced host devices are threads of one process sharing the machine's cores. On a
2-core machine compute cannot scale beyond 2 devices (and one device already uses both cores
for its intra-op parallelism), so the tables show the overhead of sharding, not the speed-up
that real devices would give. The default (FNO) run takes about 3 minutes on 2 cores; MgNO
is several times slower per step inside `fit` on CPU than a bare compiled step: `--model mgno
--epochs 1 --steps 1` takes about 6 minutes.

    python -m experiments.benchmarks weak_scaling
    python -m experiments.benchmarks.weak_scaling --model mgno
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEVICES = (1, 2, 4)
PER_DEVICE, FIXED_BATCH, STEPS, SIZE = 10, 40, 4, 64
EPOCHS, ALLREDUCE_REPEATS = 5, 20  # timed epochs after one warm-up epoch
ROOT = Path(__file__).resolve().parents[2]


def build_model(name: str, key):
    from jaxops import models

    if name == "fno":
        return models.FNO(1, 1, (12, 12), width=32, depth=4, projection_width=128, key=key)
    return models.MgNO(1, 1, width=24, depth=4, smoothing=((1, 0),) * 5 + ((2, 0),), key=key)


def time_fit(model_name: str, batch: int, parallel, epochs: int, steps: int) -> dict:
    """Median seconds per step of the epoch program over `epochs` epochs after a warm-up
    epoch, and the compile time, of `fit` with global batch `batch` over `steps` minibatches
    per epoch."""
    import jax.random as jr
    import optax

    from jaxops.train import fit

    n_train, n_test = steps * batch, 4
    kx, ky, km = jr.split(jr.key(0), 3)
    x = jr.normal(kx, (n_train + n_test, 1, SIZE, SIZE))
    y = jr.normal(ky, (n_train + n_test, 1, SIZE, SIZE))
    result = fit(
        build_model(model_name, km), (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]),
        optimizer=optax.adam(1e-3), epochs=epochs + 1, batch_size=batch, key=jr.key(1),
        eval_every=epochs + 1, progress=False, parallel=parallel,
    )  # fmt: skip
    seconds = [record["train_seconds"] for record in result.history[1:]]  # first: warm-up
    return {
        "batch": batch,
        "step": statistics.median(seconds) / steps,
        "compile": result.compile_seconds,
    }


def time_allreduce(n_params: int, parallel) -> float:
    """Median seconds of summing an `n_params` float32 buffer over the data axis."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from ._timing import interleaved

    mesh = parallel.mesh
    grads = jax.device_put(
        jnp.ones((parallel.data_size, n_params), jnp.float32), NamedSharding(mesh, P("data"))
    )
    psum = jax.jit(
        jax.shard_map(
            lambda g: jax.lax.psum(g[0], "data"), mesh=mesh, in_specs=P("data"), out_specs=P()
        )
    )
    return interleaved({"allreduce": lambda: psum(grads)}, ALLREDUCE_REPEATS)["allreduce"]


def worker(n: int, model_name: str, epochs: int, steps: int) -> dict:
    import jax

    from jaxops.parallel import Parallel, make_mesh
    from jaxops.train import count_parameters

    from ._timing import machine

    assert jax.device_count() == n, f"expected {n} devices, got {jax.device_count()}"
    parallel = Parallel(make_mesh({"data": n}))
    sizes = (epochs, steps)
    out = {"devices": n, "machine": machine()}
    out["params"] = count_parameters(build_model(model_name, jax.random.key(0)))
    if n == 1:  # the plain single-device fit, without a mesh
        out["plain"] = time_fit(model_name, PER_DEVICE, None, *sizes)
    out["weak"] = time_fit(model_name, PER_DEVICE * n, parallel, *sizes)
    batch = PER_DEVICE * n
    out["fixed"] = (
        out["weak"] if batch == FIXED_BATCH else time_fit(model_name, FIXED_BATCH, parallel, *sizes)
    )
    out["allreduce"] = time_allreduce(out["params"], parallel) if n > 1 else 0.0
    return out


def launch(n: int, model_name: str, options: list[str]) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n}"
    ).strip()
    command = [sys.executable, "-m", "experiments.benchmarks.weak_scaling", "--devices", str(n)]
    done = subprocess.run(
        command + ["--model", model_name, *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"worker with {n} devices failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: list[dict], args: argparse.Namespace, argv: list[str], seconds: float) -> None:
    import jax

    label = {"fno": "FNO-2D (12 modes, width 32, depth 4)", "mgno": "MgNO (width 24, depth 4)"}
    command = "python -m experiments.benchmarks.weak_scaling" + "".join(f" {a}" for a in argv)
    first = results[0]
    print(f"\nData-parallel scaling of the training step — {first['machine']}")
    print(f"  jax {jax.__version__}, {os.cpu_count()} CPU cores; command: {command}")
    print(
        f"  {label[args.model]}, {first['params']:,} parameters, {SIZE}x{SIZE}, Adam, "
        f"{args.steps} minibatches per epoch, forced host devices (JAX_PLATFORMS=cpu)"
    )
    print(
        f"  NOTE: the {os.cpu_count()} cores are shared by all forced devices: beyond "
        f"{os.cpu_count()} devices compute cannot scale, and one device already uses every core"
    )
    t1 = first["weak"]["step"]
    plain = first["plain"]["step"]
    print(f"\n  Weak scaling: {PER_DEVICE} samples per device (efficiency t(1)/t(n), 1.0 perfect)")
    print(
        f"  {'devices':>7}{'batch':>7}{'step':>11}{'samples/s':>11}{'efficiency':>12}"
        f"{'all-reduce':>12}{'of step':>9}{'compile':>9}"
    )
    print(
        f"  {'1 plain':>7}{PER_DEVICE:>7}{plain * 1e3:>8.1f} ms{PER_DEVICE / plain:>11.1f}"
        f"{'-':>12}{'-':>12}{'-':>8} {first['plain']['compile']:>7.1f} s"
    )
    for r in results:
        w = r["weak"]
        share = f"{r['allreduce'] / w['step']:>8.1%}" if r["devices"] > 1 else f"{'-':>8}"
        ar = f"{r['allreduce'] * 1e3:>9.1f} ms" if r["devices"] > 1 else f"{'-':>12}"
        print(
            f"  {r['devices']:>7}{w['batch']:>7}{w['step'] * 1e3:>8.1f} ms"
            f"{w['batch'] / w['step']:>11.1f}{t1 / w['step']:>12.2f}{ar}{share} "
            f"{w['compile']:>7.1f} s"
        )
    print(f"  1-device mesh vs plain fit: t(1)/t(plain) = {t1 / plain:.2f}")
    f1 = first["fixed"]["step"]
    print(f"\n  Fixed global batch {FIXED_BATCH} (strong scaling; t(n)/t(1) = cost of sharding)")
    print(
        f"  {'devices':>7}{'per dev':>8}{'step':>11}{'samples/s':>11}{'t(n)/t(1)':>11}"
        f"{'compile':>9}"
    )
    for r in results:
        f = r["fixed"]
        print(
            f"  {r['devices']:>7}{FIXED_BATCH // r['devices']:>8}{f['step'] * 1e3:>8.1f} ms"
            f"{FIXED_BATCH / f['step']:>11.1f}{f['step'] / f1:>11.2f}{f['compile']:>7.1f} s"
        )
    print(
        f"\n  step: median over {args.epochs} epochs (after a warm-up epoch) of the compiled "
        f"epoch program / {args.steps} steps;\n  one subprocess per device count, run one after "
        "another (no interleaving across subprocesses, so machine noise is not cancelled);\n"
        "  '1 plain': fit without a mesh; all-reduce: a gradient-sized float32 psum over the "
        f"data axis alone, median of {ALLREDUCE_REPEATS};\n  total {seconds:.0f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("fno", "mgno"), default="fno")
    parser.add_argument("--devices", type=int, help=argparse.SUPPRESS)  # worker mode
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="timed epochs (after warm-up)")
    parser.add_argument("--steps", type=int, default=STEPS, help="minibatches per epoch")
    args = parser.parse_args(argv or [])
    if args.devices is not None:
        print(json.dumps(worker(args.devices, args.model, args.epochs, args.steps)))
        return
    tic = time.perf_counter()
    options = ["--epochs", str(args.epochs), "--steps", str(args.steps)]
    results = [launch(n, args.model, options) for n in DEVICES]
    report(results, args, argv or [], time.perf_counter() - tic)


if __name__ == "__main__":
    main(sys.argv[1:])
