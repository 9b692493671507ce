"""Spectral convolution: the Fourier layer of the Fourier Neural Operator.

Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar,
"Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021
(arXiv:2010.08895).

A single sample ``x`` of shape ``(in_channels, n_1, ..., n_d)`` is transformed with a real
FFT over the spatial axes; the lowest ``modes[i]`` frequencies of each axis are multiplied by
a learned complex matrix ``(out_channels, in_channels)`` per frequency and the rest are set
to zero; an inverse FFT returns ``(out_channels, n_1, ..., n_d)``. On every axis but the last
both signs are kept (frequencies ``0 .. m-1`` and ``-m .. -1``); the last axis is the
half-spectrum of the real FFT (``0 .. m-1``). Because the weights live on frequencies, not
grid points, the layer applies at any resolution with ``n_i >= 2 m_i`` (last axis:
``n_d // 2 + 1 >= m_d``).
"""

from collections.abc import Sequence

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._random import uniform


def _check_modes(modes: Sequence[int]) -> tuple[int, ...]:
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


def _truncate(x: Array, modes: tuple[int, ...]) -> Array:
    """Gather the kept modes of a half spectrum ``(C, n_1, ..., n_d//2+1)``."""
    for axis, m in enumerate(modes[:-1], start=1):
        n = x.shape[axis]
        low = lax.slice_in_dim(x, 0, m, axis=axis)
        high = lax.slice_in_dim(x, n - m, n, axis=axis)
        x = jnp.concatenate([low, high], axis=axis)
    return lax.slice_in_dim(x, 0, modes[-1], axis=x.ndim - 1)


def _zero_fill(y: Array, modes: tuple[int, ...], spectrum: tuple[int, ...]) -> Array:
    """Inverse of `_truncate`: place kept modes into a zero half spectrum of shape ``spectrum``."""
    for axis, (m, n) in enumerate(zip(modes[:-1], spectrum[:-1], strict=True), start=1):
        low, high = jnp.split(y, [m], axis=axis)
        zeros_shape = list(y.shape)
        zeros_shape[axis] = n - 2 * m
        y = jnp.concatenate([low, jnp.zeros(zeros_shape, y.dtype), high], axis=axis)
    pad = [(0, 0)] * (y.ndim - 1) + [(0, spectrum[-1] - modes[-1])]
    return jnp.pad(y, pad)


class SpectralConv(eqx.Module):
    """n-dimensional spectral convolution (FNO Fourier layer), single sample.

    **Arguments:**

    - `in_channels`, `out_channels`: channel counts.
    - `modes`: kept frequencies per spatial axis, e.g. `(12, 12)`; its length is the
        spatial dimension.
    - `key`: a `jax.random.key` for the initialisation.
    - `dtype`: parameter dtype (default float32).

    Weights are stored as real and imaginary parts, each of shape
    `(out_channels, in_channels, 2 m_1, ..., 2 m_{d-1}, m_d)`, initialised as in the paper's
    code: uniform on `[0, 1/(in_channels * out_channels))`.

    **Call:** `x` of shape `(in_channels, *spatial)` → `(out_channels, *spatial)`.
    """

    weight_real: Float[Array, " out in *modes"]
    weight_imag: Float[Array, " out in *modes"]
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(in_channels=in_channels, out_channels=out_channels)
        self.modes = _check_modes(modes)
        self.in_channels = in_channels
        self.out_channels = out_channels
        shape = (out_channels, in_channels, *(2 * m for m in self.modes[:-1]), self.modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        key_real, key_imag = jr.split(key)
        self.weight_real = scale * uniform(key_real, shape, dtype)
        self.weight_imag = scale * uniform(key_imag, shape, dtype)

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        if x.shape[0] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got shape {x.shape}")
        spatial = x.shape[1:]
        check_resolution(spatial, self.modes)
        axes = tuple(range(1, x.ndim))
        # FFTs run in at least single precision (there is no half-precision FFT).
        compute = jnp.promote_types(x.dtype, jnp.float32)
        x_hat = _truncate(jnp.fft.rfftn(x.astype(compute), axes=axes), self.modes)
        weight = (self.weight_real + 1j * self.weight_imag).astype(x_hat.dtype)
        y_hat = jnp.einsum("i...,oi...->o...", x_hat, weight)
        spectrum = (*spatial[:-1], spatial[-1] // 2 + 1)
        y = jnp.fft.irfftn(_zero_fill(y_hat, self.modes, spectrum), s=spatial, axes=axes)
        return y.astype(x.dtype)
