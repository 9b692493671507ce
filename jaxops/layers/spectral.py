"""Spectral convolution: the Fourier layer of the Fourier Neural Operator.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar,
"Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021
(arXiv:2010.08895).

A single sample ``x`` of shape ``(in_channels, n_1, ..., n_d)`` is transformed to Fourier
space over the spatial axes; the lowest ``modes[i]`` frequencies of each axis are multiplied by
a learned complex matrix ``(out_channels, in_channels)`` per frequency and the rest are set
to zero; the inverse transform returns ``(out_channels, n_1, ..., n_d)``. On every axis but the
last both signs are kept (frequencies ``0 .. m-1`` and ``-m .. -1``); the last axis is the
half-spectrum of the real FFT (``0 .. m-1``). Because the weights live on frequencies, not
grid points, the layer applies at any resolution with ``n_i >= 2 m_i`` (last axis:
``n_d // 2 + 1 >= m_d``).

The result is that of ``irfftn(zero_fill(W · truncate(rfftn(x))))``. An axis with few kept
frequencies is transformed by a matrix product with its ``(n, kept)`` block of the DFT matrix,
so only the kept frequencies are ever computed; that is cheaper than an FFT followed by
truncation and zero-filling (on CPU, 64×64 with 12 modes: about twice as fast, forward and
backward). Axes with many kept frequencies use FFTs. Between the axis transforms complex values
are carried as a trailing real axis of size 2 (re, im).
"""

from collections.abc import Sequence

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._random import normal, uniform


def check_modes(modes: Sequence[int]) -> tuple[int, ...]:
    """The Fourier modes kept per spatial axis, `(k_1, …, k_d)` positive ints, from a sequence;
    raises a `ValueError` otherwise (an int is rejected: give one entry per axis)."""
    if isinstance(modes, int) or not all(isinstance(m, int) and m > 0 for m in modes):
        raise ValueError(
            f"modes must be a sequence of positive ints, one per spatial axis "
            f"(e.g. (12, 12) in 2D), got {modes!r}"
        )
    return tuple(modes)


def check_resolution(spatial: Sequence[int], modes: Sequence[int]) -> None:
    """Raise a clear error if a grid is too coarse for the kept Fourier modes."""
    if len(spatial) != len(modes):
        raise ValueError(
            f"input has {len(spatial)} spatial axes {tuple(spatial)} but the layer was built "
            f"with {len(modes)} (modes={tuple(modes)}); pass (channels, *spatial) for one sample "
            "and use jax.vmap for batches"
        )
    for axis, (n, m) in enumerate(zip(spatial, modes, strict=True)):
        last = axis == len(modes) - 1
        available = n // 2 + 1 if last else n // 2
        if m > available:
            need = 2 * (m - 1) if last else 2 * m
            raise ValueError(
                f"spatial axis {axis} has {n} points but {m} Fourier modes are kept; "
                f"use a grid of at least {need} points on that axis or fewer modes"
            )


def kept_frequencies(n: int, m: int, last: bool) -> np.ndarray:
    """Indices into an FFT of length `n` of the kept frequencies, in weight order:
    `0 .. m-1` on the last (half-spectrum) axis, `0 .. m-1, -m .. -1` (mod n) on the others."""
    if last:
        return np.arange(m)
    return np.concatenate([np.arange(m), np.arange(n - m, n)])


def _unit_phase(phase: np.ndarray) -> np.ndarray:
    """Real form `(a, 2, b, 2)` of the complex matrix `exp(i phase)`, `phase` of shape `(a, b)`:
    `[a, q, b, p]` maps component `q` (0 = re, 1 = im) of an input to component `p` of an
    output, as `(c + i s)(re + i im) = (c re - s im) + i (s re + c im)`."""
    c, s = np.cos(phase), np.sin(phase)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], 1)


def _dot(x: Array, matrix: np.ndarray, axes: tuple[Sequence[int], Sequence[int]]) -> Array:
    # Full precision: the DFT must not drop to TF32/bf16 passes where a backend would.
    m = jnp.asarray(matrix, x.dtype)
    return jnp.tensordot(x, m, axes=axes, precision=lax.Precision.HIGHEST)


# An axis is transformed by a matrix product where that is faster than an FFT: measured on CPU
# (2 cores, forward + backward, 64-4096 points), the matrix DFT was 1.1-3x faster with up to
# 16 kept frequencies per axis, about even at 32 and slower beyond; 24 (the 12 modes of both
# signs in the classic FNO) was 2x faster. Longer axes keep FFTs (the matrix grows as n k).
_MATRIX_DFT_MAX_KEPT = 24
_MATRIX_DFT_MAX_POINTS = 4096


def _matrix_dft(n: int, kept: int) -> bool:
    return kept <= _MATRIX_DFT_MAX_KEPT and n <= _MATRIX_DFT_MAX_POINTS


def _complex(z: Array) -> Array:
    return lax.complex(z[..., 0], z[..., 1])


def _pair(c: Array) -> Array:
    return jnp.stack([c.real, c.imag], axis=-1)


def _forward(x: Array, modes: tuple[int, ...]) -> Array:
    """Kept Fourier coefficients of real `x (C, *spatial)`: `(C, 2m_1, .., 2m_{d-1}, m_d, 2)`,
    the same numbers as `rfftn(x)` at the frequencies `kept_frequencies` lists."""
    n, m = x.shape[-1], modes[-1]
    if _matrix_dft(n, m):
        phase = -2 * np.pi * np.outer(np.arange(n), kept_frequencies(n, m, True)) / n
        z = _dot(x, _unit_phase(phase)[:, 0].reshape(n, 2 * m), ([x.ndim - 1], [0]))
        z = z.reshape(*x.shape[:-1], m, 2)
    else:
        z = _pair(jnp.fft.rfft(x, axis=-1)[..., :m])
    for axis, m in enumerate(modes[:-1], start=1):
        n = z.shape[axis]
        kept = kept_frequencies(n, m, False)
        if _matrix_dft(n, 2 * m):
            phase = -2 * np.pi * np.outer(np.arange(n), kept) / n
            z = jnp.moveaxis(_dot(z, _unit_phase(phase), ([axis, z.ndim - 1], [0, 1])), -2, axis)
        else:
            c = jnp.fft.fft(_complex(z), axis=axis)
            low = lax.slice_in_dim(c, 0, m, axis=axis)
            high = lax.slice_in_dim(c, n - m, n, axis=axis)
            z = _pair(jnp.concatenate([low, high], axis=axis))
    return z


def _inverse(z: Array, modes: tuple[int, ...], spatial: tuple[int, ...]) -> Array:
    """Inverse of `_forward` with the other frequencies zero: `irfftn` of the zero-filled half
    spectrum, `(C, *kept, 2)` → real `(C, *spatial)`."""
    for axis, (m, n) in enumerate(zip(modes[:-1], spatial[:-1], strict=True), start=1):
        kept = kept_frequencies(n, m, False)
        if _matrix_dft(n, 2 * m):
            phase = 2 * np.pi * np.outer(kept, np.arange(n)) / n
            z = _dot(z, _unit_phase(phase) / n, ([axis, z.ndim - 1], [0, 1]))
            z = jnp.moveaxis(z, -2, axis)
        else:
            low, high = jnp.split(_complex(z), [m], axis=axis)
            zeros = jnp.zeros((*low.shape[:axis], n - 2 * m, *low.shape[axis + 1 :]), low.dtype)
            c = jnp.concatenate([low, zeros, high], axis=axis)
            z = _pair(jnp.fft.ifft(c, axis=axis))
    n, m = spatial[-1], modes[-1]
    if not _matrix_dft(n, m):
        c = _complex(z)
        c = jnp.pad(c, [(0, 0)] * (c.ndim - 1) + [(0, n // 2 + 1 - m)])
        return jnp.fft.irfft(c, n=n, axis=-1)
    k = kept_frequencies(n, m, True)
    # irfft: real part, the frequencies 0 < k < n/2 counted twice for their conjugates.
    weight = np.where((k == 0) | (2 * k == n), 1.0, 2.0)[:, None, None] / n
    phase = 2 * np.pi * np.outer(k, np.arange(n)) / n
    return _dot(z, weight * _unit_phase(phase)[..., 0], ([z.ndim - 2, z.ndim - 1], [0, 1]))


class SpectralConv(eqx.Module):
    """n-dimensional spectral convolution (FNO Fourier layer), single sample.

    **Arguments:**

    - `in_channels`, `out_channels`: channel counts.
    - `modes`: kept frequencies per spatial axis, e.g. `(12, 12)`; its length is the
        spatial dimension.
    - `key`: a `jax.random.key` for the initialisation.
    - `rank`: `None` (default) for a dense weight; an int `r` for a rank-`r` CP (canonical
        polyadic) factorisation of it (below).
    - `dtype`: parameter dtype (default float32).

    Dense weights are stored as real and imaginary parts `weight_real`, `weight_imag`, each of
    shape `(out_channels, in_channels, k_1, ..., k_d)` with `k_i = 2 m_i` on all axes but the
    last and `k_d = m_d` (frequency order of `kept_frequencies`), initialised as in the paper's
    code: uniform on `[0, 1/(in_channels * out_channels))`.

    With `rank=r` the complex weight is `W[o, i, k_1, .., k_d] = Σ_r A[o, r] B[i, r]
    C_1[k_1, r] ⋯ C_d[k_d, r]`, stored as `factors_real`, `factors_imag` = the real and
    imaginary parts of `(A, B, C_1, ..., C_d)`, shapes `(out, r)`, `(in, r)`, `(k_i, r)`;
    `weight_real`, `weight_imag` are then `None`. That is `2 r (out + in + Σ k_i)` parameters
    instead of `2 out in Π k_i`. When `r (in + out + 1) <= in out` the call contracts with the
    factors one at a time and never forms `W`; otherwise it forms `W` (once per call, shared
    by a vmapped batch). Factors are initialised complex normal, scaled so that `|W|` has root
    mean square `1/(in_channels * out_channels)`, about the dense initialisation's.
    Source: Kossaifi, Kovachki, Azizzadenesheli, Anandkumar, "Multi-Grid Tensorized Fourier
    Neural Operator for High-Resolution PDEs", TMLR 2024 (arXiv:2310.00120), and
    neuraloperator's `SpectralConv(factorization="cp")`.

    **Call:** `x` of shape `(in_channels, *spatial)` → `(out_channels, *spatial)`.
    """

    weight_real: Float[Array, " out in *modes"] | None
    weight_imag: Float[Array, " out in *modes"] | None
    factors_real: tuple[Float[Array, " _dim rank"], ...] | None
    factors_imag: tuple[Float[Array, " _dim rank"], ...] | None
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    rank: int | None = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        key: PRNGKeyArray,
        rank: int | None = None,
        dtype=jnp.float32,
    ):
        positive_ints(in_channels=in_channels, out_channels=out_channels)
        if rank is not None:
            positive_ints(rank=rank)
        self.modes = check_modes(modes)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rank = rank
        sizes = (*(2 * m for m in self.modes[:-1]), self.modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        key_real, key_imag = jr.split(key)
        if rank is None:
            shape = (out_channels, in_channels, *sizes)
            self.weight_real = scale * uniform(key_real, shape, dtype)
            self.weight_imag = scale * uniform(key_imag, shape, dtype)
            self.factors_real = self.factors_imag = None
        else:
            # An entry of W sums r products of n = d + 2 complex normal factors, each of
            # variance 2 σ²: E|W|² = r (2 σ²)^n. σ is chosen for E|W|² = scale².
            dims = (out_channels, in_channels, *sizes)
            sigma = (0.5 * (scale**2 / rank) ** (1 / len(dims))) ** 0.5
            keys_real, keys_imag = jr.split(key_real, len(dims)), jr.split(key_imag, len(dims))
            self.factors_real = tuple(
                sigma * normal(k, (n, rank), dtype) for k, n in zip(keys_real, dims, strict=True)
            )
            self.factors_imag = tuple(
                sigma * normal(k, (n, rank), dtype) for k, n in zip(keys_imag, dims, strict=True)
            )
            self.weight_real = self.weight_imag = None

    def _contract(self, x_hat: Array) -> Array:
        """`y[o, k] = Σ_i W[o, i, k] x[i, k]` for complex `x_hat (in, *kept)`."""
        dtype = x_hat.dtype
        if self.rank is None:
            weight = (self.weight_real + 1j * self.weight_imag).astype(dtype)
            return jnp.einsum("i...,oi...->o...", x_hat, weight)
        out, inp, *freq = (
            (re + 1j * im).astype(dtype)
            for re, im in zip(self.factors_real, self.factors_imag, strict=True)
        )
        axes = "abcdefghjklmn"[: len(freq)]  # one letter per frequency axis
        freq_spec = ",".join(f"{a}r" for a in axes)
        if self.rank * (self.in_channels + self.out_channels + 1) > (
            self.in_channels * self.out_channels
        ):
            weight = jnp.einsum(f"or,ir,{freq_spec}->oi{axes}", out, inp, *freq)
            return jnp.einsum("i...,oi...->o...", x_hat, weight)
        product = jnp.einsum(f"{freq_spec}->r{axes}", *freq)  # Π_d C_d[k_d, r]
        u = jnp.einsum(f"i{axes},ir->r{axes}", x_hat, inp) * product
        return jnp.einsum(f"r{axes},or->o{axes}", u, out)

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        if x.shape[0] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got shape {x.shape}")
        spatial = x.shape[1:]
        check_resolution(spatial, self.modes)
        # The transforms run in at least single precision (as FFTs would).
        compute = jnp.promote_types(x.dtype, jnp.float32)
        z = _forward(x.astype(compute), self.modes)
        z = _pair(self._contract(_complex(z)))
        return _inverse(z, self.modes, spatial).astype(x.dtype)
