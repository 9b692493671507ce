"""What spatial (domain) sharding costs: an FNO-2D forward pass and training step on one
sample split along x over 4 forced host CPU devices, against the same on one device.

For each FNO (12 kept modes per axis: the matrix-DFT path; 32 modes: the FFT path) and grid
(128², 256²) it prints, from the compiled program, every collective XLA inserted (kind,
count, MiB moved per device per call), the per-device peak memory XLA plans for temporaries,
and the median time of 20 interleaved calls. The outputs equal the unsharded ones (checked).

Caveat: forced host devices share this machine's cores, so times show overhead, not a
speed-up; the communication and memory columns are what carries over to real devices.

    python -m experiments.benchmarks spatial_sharding
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

DEVICES = 4
COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute")
BYTES = {"f32": 4, "c64": 8, "s32": 4, "u32": 4, "pred": 1, "bf16": 2}


def collectives(hlo: str) -> dict[str, tuple[int, float]]:
    """Collective kind → (count, MiB of their results) in an optimised HLO module."""
    found: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for kind in COLLECTIVES:
        pattern = rf"= (\w+)\[([\d,]*)\][^ ]* {kind}(?:-start)?\("
        for dtype, dims in re.findall(pattern, hlo):
            size = 1
            for d in filter(None, dims.split(",")):
                size *= int(d)
            found[kind][0] += 1
            found[kind][1] += size * BYTES.get(dtype, 4) / 2**20
    return {k: (n, mib) for k, (n, mib) in found.items()}


def programs(par, modes: int, n: int) -> dict:
    """(what, devices) → (compiled program, its arguments) for an FNO forward pass and
    parameter gradient on one n×n sample, unsplit and split over `space`."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from jaxops import models

    fno = models.FNO(1, 1, (modes, modes), width=32, depth=4, key=jr.key(0))
    params, static = eqx.partition(fno, eqx.is_array)
    a = jr.normal(jr.key(1), (1, n, n))
    a_split = jax.device_put(a, jax.NamedSharding(par.mesh, jax.P(None, "space")))
    forward = {1: lambda p, x: eqx.combine(p, static)(x),
               4: lambda p, x: par.spatial(eqx.combine(p, static))(x)}  # fmt: skip
    out = {}
    for devices, f in forward.items():
        x = a if devices == 1 else a_split
        loss = lambda p, x, f=f: jnp.mean((f(p, x) - jnp.sin(x)) ** 2)
        for what, fn in (("forward", f), ("gradient", jax.grad(loss))):
            out[what, devices] = (jax.jit(fn).lower(params, x).compile(), (params, x))
    return out


def run() -> None:
    import jax
    import jax.numpy as jnp

    from jaxops import parallel

    from ._timing import interleaved, machine

    par = parallel.Parallel(parallel.make_mesh({"data": 1, "space": -1}))
    print(f"spatial sharding over {DEVICES} forced host devices: {machine()}")
    print("command: python -m experiments.benchmarks spatial_sharding\n")
    header = (
        f"{'modes':>5} {'grid':>5} {'what':>9} {'devices':>7} {'collectives (count, MiB)':<52} "
        f"{'temp MiB/dev':>12} {'ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for modes in (12, 32):
        for n in (128, 256):
            compiled = programs(par, modes, n)
            for what in ("forward", "gradient"):
                (one, args1), (four, args4) = compiled[what, 1], compiled[what, DEVICES]
                ref, got = jax.tree.leaves(one(*args1)), jax.tree.leaves(four(*args4))
                scale = max(float(jnp.max(jnp.abs(r))) for r in ref)
                error = max(float(jnp.max(jnp.abs(g - r))) for g, r in zip(got, ref, strict=True))
                assert error <= 1e-4 * scale, (modes, n, what, error, scale)
            calls = {key: (lambda p=p, args=args: p(*args)) for key, (p, args) in compiled.items()}
            times = interleaved(calls, 20)
            for (what, devices), (program, _) in compiled.items():
                found = collectives(program.as_text()) if devices > 1 else {}
                text = ", ".join(f"{k} {c} ({m:.2f})" for k, (c, m) in found.items()) or "-"
                temp = program.memory_analysis().temp_size_in_bytes / 2**20
                print(
                    f"{modes:>5} {n:>5} {what:>9} {devices:>7} {text:<52} {temp:>12.1f} "
                    f"{1e3 * times[what, devices]:>8.1f}"
                )


def main() -> None:
    """Re-run in a subprocess with the forced devices unless they are already there."""
    flag = f"--xla_force_host_platform_device_count={DEVICES}"
    if flag in os.environ.get("XLA_FLAGS", ""):
        run()
        return
    env = dict(os.environ, XLA_FLAGS=flag, JAX_PLATFORMS="cpu")
    command = [sys.executable, "-m", "experiments.benchmarks.spatial_sharding"]
    subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
