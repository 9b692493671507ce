"""n-D convolutions with a boundary-condition padding mode, single sample, channels first.

`Conv` is a strided convolution whose padding is chosen by the boundary condition of the
problem (zeros for Dirichlet, circular for periodic, reflect or replicate); `ConvTranspose`
is its adjoint-shaped partner that puts a coarse field back on a given fine grid, aligned so
that coarse node `j` sits on fine node `stride·j` (the prolongation of a multigrid cycle).
With an odd kernel and stride 1 the output has the input's size; with stride 2 a grid of `n`
points becomes `ceil(n/2)`, so any grid size works, not only powers of two.
Initialised like PyTorch (`kaiming_uniform(a=√5)`: uniform on ±1/√fan_in).
"""

import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._random import uniform

PaddingMode = Literal["zeros", "circular", "reflect", "replicate"]
_NUMPY_MODE = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge"}


def padding_for(boundary: str) -> PaddingMode:
    """The padding mode of a boundary condition: dirichlet → zeros, periodic → circular,
    neumann → reflect (a mode name is passed through)."""
    by_boundary = {"dirichlet": "zeros", "periodic": "circular", "neumann": "reflect"}
    mode = by_boundary.get(boundary, boundary)
    if mode not in _NUMPY_MODE:
        raise ValueError(
            f"padding must be a boundary condition ({', '.join(by_boundary)}) or a mode "
            f"({', '.join(_NUMPY_MODE)}), got {boundary!r}"
        )
    return mode


def _as_tuple(value: int | Sequence[int], dims: int, name: str) -> tuple[int, ...]:
    values = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(values) != dims or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"{name} must be a positive int or {dims} of them, got {value!r}")
    return values


class Conv(eqx.Module):
    """Convolution over `dims` spatial axes with "same" padding of the chosen mode.

    **Arguments:** `dims` (spatial dimension), `in_channels`, `out_channels`, `kernel_size`
    (odd, int or per axis; default 3), `stride` (default 1), `padding_mode` (a mode or a
    boundary condition, see `padding_for`), `use_bias`, `groups` (`groups = in_channels =
    out_channels` is a depthwise convolution), `key`, `dtype`.

    **Call:** `(in_channels, n_1, ..., n_d)` → `(out_channels, ceil(n_1/s_1), ...)`.
    """

    weight: Float[Array, " out in_per_group *kernel"]
    bias: Float[Array, " out"] | None
    stride: tuple[int, ...] = eqx.field(static=True)
    padding_mode: PaddingMode = eqx.field(static=True)
    groups: int = eqx.field(static=True)

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int] = 3,
        *,
        stride: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        use_bias: bool = True,
        groups: int = 1,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(dims=dims, in_channels=in_channels, out_channels=out_channels, groups=groups)
        kernel = _as_tuple(kernel_size, dims, "kernel_size")
        if any(k % 2 == 0 for k in kernel):
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        self.stride = _as_tuple(stride, dims, "stride")
        self.padding_mode = padding_for(padding_mode)
        self.groups = groups
        fan_in = in_channels // groups * math.prod(kernel)
        bound = 1.0 / math.sqrt(fan_in)
        key_w, key_b = jr.split(key)
        shape = (out_channels, in_channels // groups, *kernel)
        self.weight = uniform(key_w, shape, dtype, -bound, bound)
        self.bias = uniform(key_b, (out_channels,), dtype, -bound, bound) if use_bias else None

    def __call__(self, x: Float[Array, " in *spatial"]) -> Float[Array, " out *coarse"]:
        dims = self.weight.ndim - 2
        if x.ndim != dims + 1 or x.shape[0] != self.weight.shape[1] * self.groups:
            raise ValueError(
                f"expected one sample (channels={self.weight.shape[1] * self.groups}, "
                f"{dims} spatial axes), got shape {x.shape}; use jax.vmap for batches"
            )
        widths = [((k - 1) // 2,) * 2 for k in self.weight.shape[2:]]
        x, padding = _pad(x, widths, self.padding_mode)
        return _convolve(x, self.weight, self.stride, padding, self.bias, self.groups)


class ConvTranspose(eqx.Module):
    """The upsampling partner of a strided `Conv`: coarse values are placed on every
    `stride`-th node of a fine grid of the requested size (zeros between), the grid is padded
    with the chosen mode and convolved (a transposed convolution, aligned so that coarse node
    `j` is fine node `stride·j`; with circular padding it wraps around, keeping periodic
    problems translation equivariant).

    **Arguments:** as `Conv` (no groups; the kernel may be even).

    **Call:** `(x, size)` with `x` of shape `(in_channels, *coarse)` and `size` the fine
    spatial shape, `coarse_i = ceil(size_i/s_i)`, → `(out_channels, *size)`.
    """

    weight: Float[Array, " out in *kernel"]
    bias: Float[Array, " out"] | None
    stride: tuple[int, ...] = eqx.field(static=True)
    padding_mode: PaddingMode = eqx.field(static=True)

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int] = 3,
        *,
        stride: int | Sequence[int] = 2,
        padding_mode: str = "zeros",
        use_bias: bool = False,
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(dims=dims, in_channels=in_channels, out_channels=out_channels)
        kernel = _as_tuple(kernel_size, dims, "kernel_size")
        self.stride = _as_tuple(stride, dims, "stride")
        self.padding_mode = padding_for(padding_mode)
        bound = 1.0 / math.sqrt(out_channels * math.prod(kernel))  # PyTorch's fan-in
        key_w, key_b = jr.split(key)
        shape = (out_channels, in_channels, *kernel)
        self.weight = uniform(key_w, shape, dtype, -bound, bound)
        self.bias = uniform(key_b, (out_channels,), dtype, -bound, bound) if use_bias else None

    def __call__(
        self, x: Float[Array, " in *coarse"], size: Sequence[int]
    ) -> Float[Array, " out *size"]:
        coarse = tuple(-(-n // s) for n, s in zip(size, self.stride, strict=True))
        if x.shape[1:] != coarse or x.shape[0] != self.weight.shape[1]:
            raise ValueError(
                f"a fine grid {tuple(size)} with stride {self.stride} needs input "
                f"({self.weight.shape[1]}, *{coarse}), got shape {x.shape}"
            )
        # out[i] = Σ_κ w[κ] x[j] over i = s·j + κ − (k−1)//2: centred for odd k, and for k = 4
        # PyTorch's ConvTranspose(kernel 4, stride 2, padding 1). A correlation of the
        # zero-filled fine grid with the flipped kernel.
        widths = [(k // 2, (k - 1) // 2) for k in self.weight.shape[2:]]
        flipped = jnp.flip(self.weight, axis=tuple(range(2, self.weight.ndim)))
        if self.padding_mode == "zeros":  # zero filling and padding inside the convolution
            tail = [n - (m - 1) * s - 1 for n, m, s in zip(size, coarse, self.stride, strict=True)]
            padding = [(lo, hi + t) for (lo, hi), t in zip(widths, tail, strict=True)]
            return _convolve(x, flipped, (1,) * len(size), padding, self.bias, 1, self.stride)
        fine = x
        for axis, (n, s) in enumerate(zip(size, self.stride, strict=True), start=1):
            fine = _interleave_zeros(fine, axis, s, n)
        fine, padding = _pad(fine, widths, self.padding_mode)
        return _convolve(fine, flipped, (1,) * len(size), padding, self.bias, 1)


def _interleave_zeros(x: Array, axis: int, stride: int, size: int) -> Array:
    """Put `x`'s entries on every `stride`-th point of an axis of length `size`, zeros between."""
    shape = list(x.shape)
    spread = jnp.stack([x] + [jnp.zeros_like(x)] * (stride - 1), axis=axis + 1)
    shape[axis] *= stride
    return lax.slice_in_dim(spread.reshape(shape), 0, size, axis=axis)


def _pad(x: Array, widths: Sequence[tuple[int, int]], mode: PaddingMode):
    """`(x, conv padding)`: zero padding is left to the convolution, other modes pad `x`."""
    if mode == "zeros":
        return x, list(widths)
    padded = jnp.pad(x, [(0, 0), *widths], mode=_NUMPY_MODE[mode])
    return padded, [(0, 0)] * len(widths)


def _convolve(
    x: Array,
    weight: Array,
    stride: tuple[int, ...],
    padding: list[tuple[int, int]],
    bias: Array | None,
    groups: int,
    lhs_dilation: tuple[int, ...] | None = None,
) -> Array:
    """Correlate one sample `x` `(C_in, *spatial)` with `weight` `(C_out, C_in/groups, *k)`.

    A dense convolution (`groups == 1`) is computed channels last (`(1, *spatial, C)` with an
    `(*k, C_in, C_out)` kernel), the layout of XLA:CPU's fast convolution: in channels-first
    layout a convolution inside a loop (`lax.scan`, `lax.map`: scanned epochs, batched
    evaluation) runs about 50× slower on the CPU than outside one, as XLA does not move it to
    its preferred layout there. A grouped (depthwise) convolution is the other way round,
    fastest channels first (measured: `experiments/benchmarks/conv_layout.py`)."""
    n = x.ndim - 1
    first = (0, 1, *range(2, n + 2))  # (batch, feature, *spatial) of (1, C, *spatial)
    if groups > 1:
        numbers = lax.ConvDimensionNumbers(first, first, first)
        x, weight = x[None], weight.astype(x.dtype)
    else:
        last = (0, n + 1, *range(1, n + 1))  # (batch, feature, *spatial) of (1, *spatial, C)
        numbers = lax.ConvDimensionNumbers(last, (n + 1, n, *range(n)), last)
        x = jnp.moveaxis(x, 0, -1)[None]
        weight = jnp.moveaxis(weight.astype(x.dtype), (0, 1), (-1, -2))
    y = lax.conv_general_dilated(
        x,
        weight,
        stride,
        padding,
        lhs_dilation=lhs_dilation,
        feature_group_count=groups,
        dimension_numbers=numbers,
    )[0]
    if groups == 1:
        y = jnp.moveaxis(y, -1, 0)
    if bias is not None:
        y = y + bias.astype(y.dtype).reshape(-1, *(1,) * n)
    return y
