"""Type-I discrete sine and cosine transforms, computed with real FFTs, in scipy's conventions.

They diagonalise the second-order finite-difference Laplacian on nodal grids: DST-I with
homogeneous Dirichlet boundaries (interior nodes), DCT-I with homogeneous Neumann boundaries
(all nodes, ghost-point reflection). `jax.scipy.fft` offers only type II.

- `dst1`: y_k = 2 Σ_{j=0}^{m−1} x_j sin(π (j+1)(k+1) / (m+1)); its inverse is `dst1 / (2(m+1))`.
- `dct1`: y_k = x_0 + (−1)^k x_{n−1} + 2 Σ_{j=1}^{n−2} x_j cos(π j k / (n−1)); inverse
  `dct1 / (2(n−1))`.
"""

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array


def _along(transform, x: Array, axes: Sequence[int] | int) -> Array:
    for axis in (axes,) if isinstance(axes, int) else axes:
        x = jnp.moveaxis(transform(jnp.moveaxis(x, axis, -1)), -1, axis)
    return x


def _dct1_last(x: Array) -> Array:
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"DCT-I needs at least 2 points per axis, got {n}")
    even = jnp.concatenate([x, x[..., -2:0:-1]], axis=-1)
    return jnp.fft.rfft(even, axis=-1).real.astype(x.dtype)


def _dst1_last(x: Array) -> Array:
    zero = jnp.zeros_like(x[..., :1])
    odd = jnp.concatenate([zero, x, zero, -x[..., ::-1]], axis=-1)
    return -jnp.fft.rfft(odd, axis=-1).imag[..., 1 : x.shape[-1] + 1].astype(x.dtype)


def dct1(x: Array, axes: Sequence[int] | int = -1) -> Array:
    """DCT-I along `axes` (scipy's `dct(type=1)`)."""
    return _transform(x, _tuple(axes), "dct1", 1.0)


def idct1(x: Array, axes: Sequence[int] | int = -1) -> Array:
    """Inverse of `dct1` along `axes`."""
    axes_ = _tuple(axes)
    scale = 1.0
    for axis in axes_:
        scale *= 2 * (x.shape[axis] - 1)
    return _transform(x, axes_, "dct1", scale)


def dst1(x: Array, axes: Sequence[int] | int = -1) -> Array:
    """DST-I along `axes` (scipy's `dst(type=1)`)."""
    return _transform(x, _tuple(axes), "dst1", 1.0)


def idst1(x: Array, axes: Sequence[int] | int = -1) -> Array:
    """Inverse of `dst1` along `axes`."""
    axes_ = _tuple(axes)
    scale = 1.0
    for axis in axes_:
        scale *= 2 * (x.shape[axis] + 1)
    return _transform(x, axes_, "dst1", scale)


def _tuple(axes: Sequence[int] | int) -> tuple[int, ...]:
    return (axes,) if isinstance(axes, int) else tuple(axes)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _transform(x: Array, axes: tuple[int, ...], kind: str, scale: float) -> Array:
    """One compiled program per shape, axes and kind (called eagerly, the transform's
    dozen operations would each compile on their own); divided by `scale` unless it is 1."""
    y = _along(_dct1_last if kind == "dct1" else _dst1_last, x, axes)
    return y if scale == 1.0 else y / scale
