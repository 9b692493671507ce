"""A 3×3 convolution (64 → 64 channels, 32×32, 8 samples) inside an XLA loop on the CPU, in
the channels-first layout the layers see against the channels-last layout `layers.Conv`
computes in.

A loop is what scanned epochs and batched evaluation (`lax.map`) put around a model. Each
contender maps one sample `(C, H, W)` to one sample; it runs over the 8 samples either by
`jax.vmap` (no loop) or by `lax.map` with batches of 8 (one loop iteration). Medians of
interleaved repeats; ratios against the vmapped channels-first convolution.

    python -m experiments.benchmarks conv_layout
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxops.layers import Conv

from ._timing import interleaved, machine

N, C, SIZE, REPEATS = 8, 64, 32, 7


def contenders() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((N, C, SIZE, SIZE)), jnp.float32)
    layer = Conv(2, C, C, 3, use_bias=False, key=jax.random.key(0))

    def channels_first(u):  # (C, H, W) straight into XLA's convolution
        return lax.conv_general_dilated(u[None], layer.weight, (1, 1), "SAME")[0]

    def looped(f):
        return jax.jit(lambda x: lax.map(f, x, batch_size=N))

    out = {
        "channels first, vmap": jax.jit(jax.vmap(channels_first)),
        "channels first, in a loop": looped(channels_first),
        "layers.Conv (channels last), vmap": jax.jit(jax.vmap(layer)),
        "layers.Conv (channels last), in a loop": looped(layer),
    }
    reference = out["channels first, vmap"](x)
    for f in out.values():  # the same convolution, whatever the layout
        np.testing.assert_allclose(
            f(x), reference, rtol=1e-4, atol=1e-4 * float(jnp.abs(reference).max())
        )
    return {name: (lambda f=f: f(x)) for name, f in out.items()}


def main() -> None:
    times = interleaved(contenders(), REPEATS)
    base = times["channels first, vmap"]
    print(f"\n## Convolution layout inside loops ({machine()})\n")
    print("| convolution | ms | × the vmapped channels-first one |")
    print("|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
