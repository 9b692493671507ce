"""A 3×3 convolution (64 → 64 channels, 32×32, 8 samples) inside an XLA loop on the CPU, in
the channels-first and channels-last layouts, dense and depthwise (`groups = 64`), against
`layers.Conv` (which computes a dense convolution channels last, a depthwise one channels
first).

A loop is what scanned epochs and batched evaluation (`lax.map`) put around a model. Each
contender maps one sample `(C, H, W)` to one sample; it runs over the 8 samples either by
`jax.vmap` (no loop) or by `lax.map` with batches of 8 (one loop iteration). Medians of
interleaved repeats; ratios against the vmapped channels-first convolution of the same kind.

    python -m experiments.benchmarks conv_layout
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxops.layers import Conv

from ._timing import interleaved, machine

N, C, SIZE, REPEATS = 8, 64, 32, 7


def _kinds(x) -> dict[str, dict[str, object]]:
    """`{kind: {contender: f(sample) -> sample}}` for a dense and a depthwise convolution."""
    out = {}
    for kind, groups in (("dense", 1), ("depthwise", C)):
        layer = Conv(2, C, C, 3, use_bias=False, groups=groups, key=jax.random.key(0))

        def first(u, w=layer.weight, g=groups):  # (C, H, W) straight into XLA's convolution
            return lax.conv_general_dilated(u[None], w, (1, 1), "SAME", feature_group_count=g)[0]

        def last(u, w=layer.weight, g=groups):  # (H, W, C) with an HWIO kernel
            y = lax.conv_general_dilated(
                jnp.moveaxis(u, 0, -1)[None],
                jnp.moveaxis(w, (0, 1), (-1, -2)),
                (1, 1),
                "SAME",
                feature_group_count=g,
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )[0]
            return jnp.moveaxis(y, -1, 0)

        out[kind] = {"channels first": first, "channels last": last, "layers.Conv": layer}
    return out


def contenders() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((N, C, SIZE, SIZE)), jnp.float32)
    out = {}
    for kind, fs in _kinds(x).items():
        reference = jax.jit(jax.vmap(fs["channels first"]))(x)
        for name, f in fs.items():
            for how, run in (
                ("vmap", jax.jit(jax.vmap(f))),
                ("in a loop", jax.jit(lambda x, f=f: lax.map(f, x, batch_size=N))),
            ):
                # the same convolution, whatever the layout
                np.testing.assert_allclose(
                    run(x), reference, rtol=1e-4, atol=1e-4 * float(jnp.abs(reference).max())
                )
                out[f"{kind}: {name}, {how}"] = lambda run=run: run(x)
    return out


def main() -> None:
    times = interleaved(contenders(), REPEATS)
    print(f"\n## Convolution layout inside loops ({machine()})\n")
    print("| convolution | ms | × the vmapped channels-first one of its kind |")
    print("|---|---|---|")
    for name, seconds in times.items():
        base = times[f"{name.split(':')[0]}: channels first, vmap"]
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
