"""The neural spectral block of Latent Spectral Models (LSM), 2D, single sample, channels first.

Wu, Hu, Luo, Wang, Long, "Solving High-Dimensional PDEs with Latent Spectral Models", ICML 2023
(arXiv:2301.12664); official code github.com/thuml/Latent-Spectral-Models (`LSM_2D.py`).

For a field `x` of shape `(C, H, W)`, split into patches of `patch_size = (p, q)` points
(`L = p q` points each, `C = heads · d` channels):

1. encoder: keys and values from a 1×1 convolution `C → 2C` (output channel `2c` is the key
   and `2c + 1` the value of channel `c`, the official layout); per patch and head,
   `num_tokens` learnable latent tokens `T` (shared by all patches) attend to the patch's
   points, with a residual on the tokens: `z = softmax(T Kᵀ) V + T`;
2. neural spectral transition, per channel `c` with `M = num_basis` basis functions:
   `z ← z + Σ_{m=0}^{M−1} [w_sin[c, m] sin(π m z / M) + w_cos[c, m] cos(π m z / M)]`
   (frequencies `m/M`, `m = 0 … M−1`, as in the official code; the `m = 0` terms are
   `sin 0 = 0`, a dead weight kept for the official parameter layout, and `cos 0 = 1`, a
   per-channel bias);
3. decoder: queries from a 1×1 convolution `C → C` of the patch points attend to the tokens
   (keys = values = `z`), with a residual on the input: `y = x + softmax(Q zᵀ) z`.

Attention logits are not scaled by `1/√d`, as in the official code. Latent tokens and spectral
weights are initialised uniform on `[0, 1/C)` as there. Attention and the transition are
computed in at least float32 (bfloat16 inputs give bfloat16 outputs).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checks import positive_ints
from .._random import uniform
from .pointwise import PointwiseLinear


def check_patch_size(patch_size: int | Sequence[int]) -> tuple[int, int]:
    """`patch_size` as a pair of positive ints (an int is used for both axes)."""
    sizes = (patch_size,) * 2 if isinstance(patch_size, int) else tuple(patch_size)
    if len(sizes) != 2 or not all(
        isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in sizes
    ):
        raise ValueError(f"patch_size must be a positive int or two of them, got {patch_size!r}")
    return sizes


def patchify(x: Float[ArrayLike, " C H W"], patch_size: Sequence[int]) -> Float[Array, " P C p q"]:
    """Split `(C, H, W)` into `P = (H/p)(W/q)` patches `(P, C, p, q)`, row-major over patches."""
    x = jnp.asarray(x)
    (c, h, w), (p, q) = x.shape, patch_size
    x = x.reshape(c, h // p, p, w // q, q).transpose(1, 3, 0, 2, 4)
    return x.reshape(-1, c, p, q)


def depatchify(
    patches: Float[ArrayLike, " P C p q"], spatial: Sequence[int]
) -> Float[Array, " C H W"]:
    """Inverse of `patchify`: `(P, C, p, q)` patches back onto the `(H, W)` grid."""
    patches = jnp.asarray(patches)
    (_, c, p, q), (h, w) = patches.shape, spatial
    x = patches.reshape(h // p, w // q, c, p, q).transpose(2, 0, 3, 1, 4)
    return x.reshape(c, h, w)


class NeuralSpectralBlock(eqx.Module):
    """LSM neural spectral block on `(channels, H, W)` → `(channels, H, W)` (see module doc).

    **Arguments:**

    - `channels`: channels `C` of the field; divisible by `heads`.
    - `patch_size`: points per patch along each axis, an int or `(p, q)`; `H` and `W` must
        be multiples of it (the `LSM` model pads to make them so).
    - `num_basis`: basis functions `M` of the spectral transition (official Darcy setting: 12).
    - `num_tokens`: latent tokens per head (official setting: 4).
    - `heads`: attention heads (fixed to 8 in the official code).
    - `key`, `dtype`.

    Parameters: `C·num_tokens` (tokens) + `2·C·num_basis` (spectral weights) + `2C·C + 2C`
    (encoder) + `C·C + C` (decoder).
    """

    latent: Float[Array, " heads tokens head_channels"]
    weight_sin: Float[Array, " channels basis"]
    weight_cos: Float[Array, " channels basis"]
    encoder: PointwiseLinear
    decoder: PointwiseLinear
    patch_size: tuple[int, int] = eqx.field(static=True)
    heads: int = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        patch_size: int | Sequence[int],
        num_basis: int = 12,
        num_tokens: int = 4,
        heads: int = 8,
        *,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(channels=channels, num_basis=num_basis, num_tokens=num_tokens, heads=heads)
        if channels % heads:
            raise ValueError(
                f"channels={channels} must be divisible by heads={heads}; change one of them"
            )
        self.patch_size = check_patch_size(patch_size)
        self.heads = heads
        keys = jr.split(key, 5)
        scale = 1.0 / channels
        shape = (heads, num_tokens, channels // heads)
        self.latent = uniform(keys[0], shape, dtype, 0.0, scale)
        self.weight_sin = uniform(keys[1], (channels, num_basis), dtype, 0.0, scale)
        self.weight_cos = uniform(keys[2], (channels, num_basis), dtype, 0.0, scale)
        self.encoder = PointwiseLinear(channels, 2 * channels, key=keys[3], dtype=dtype)
        self.decoder = PointwiseLinear(channels, channels, key=keys[4], dtype=dtype)

    @property
    def channels(self) -> int:
        return self.weight_sin.shape[0]

    def check_input(self, shape: Sequence[int]) -> None:
        """Raise `ValueError` unless `shape` is `(channels, H, W)` with patch-divisible sizes."""
        if len(shape) != 3 or shape[0] != self.channels:
            raise ValueError(
                f"NeuralSpectralBlock expects one sample ({self.channels}, H, W), got shape "
                f"{tuple(shape)}; use jax.vmap for batches"
            )
        if any(n % p for n, p in zip(shape[1:], self.patch_size, strict=True)):
            raise ValueError(
                f"spatial size {tuple(shape[1:])} is not divisible by patch_size "
                f"{self.patch_size}; pad the input to multiples of it (models.LSM pads "
                "automatically) or choose another patch_size"
            )

    def spectral_transition(self, z: Float[Array, "*batch C T"]) -> Float[Array, "*batch C T"]:
        """`z + Σ_m w_sin[c, m] sin(π m z/M) + w_cos[c, m] cos(π m z/M)` over channels `c`."""
        num_basis = self.weight_sin.shape[1]
        frequencies = jnp.pi * jnp.arange(num_basis, dtype=z.dtype) / num_basis
        phase = z[..., None] * frequencies
        w_sin, w_cos = self.weight_sin.astype(z.dtype), self.weight_cos.astype(z.dtype)
        return (
            z
            + jnp.einsum("...ctm,cm->...ct", jnp.sin(phase), w_sin)
            + jnp.einsum("...ctm,cm->...ct", jnp.cos(phase), w_cos)
        )

    def __call__(self, x: Float[Array, " C H W"]) -> Float[Array, " C H W"]:
        self.check_input(x.shape)
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        heads, tokens, head_channels = self.latent.shape
        points = self.patch_size[0] * self.patch_size[1]
        split = lambda f: patchify(f, self.patch_size).reshape(-1, heads, head_channels, points)
        # Encoder: latent tokens (queries) attend to the patch points (keys, values).
        kv = self.encoder(x).astype(dtype).reshape(self.channels, 2, *x.shape[1:])
        keys, values = split(kv[:, 0]), split(kv[:, 1])  # (P, heads, d, L)
        latent = self.latent.astype(dtype)  # (heads, T, d)
        weights = jax.nn.softmax(jnp.einsum("htd,phdl->phtl", latent, keys), axis=-1)
        z = jnp.einsum("phtl,phdl->phdt", weights, values) + latent.transpose(0, 2, 1)
        # Neural spectral transition, channel c = head · d + (index within the head).
        z = self.spectral_transition(z.reshape(z.shape[0], self.channels, tokens))
        z = z.reshape(-1, heads, head_channels, tokens)
        # Decoder: patch points (queries) attend to the tokens (keys = values).
        queries = split(self.decoder(x).astype(dtype))  # (P, heads, d, L)
        weights = jax.nn.softmax(jnp.einsum("phdl,phdt->phlt", queries, z), axis=-1)
        out = jnp.einsum("phlt,phdt->phdl", weights, z)
        out = depatchify(out.reshape(-1, self.channels, *self.patch_size), x.shape[1:])
        return (x.astype(dtype) + out).astype(x.dtype)
