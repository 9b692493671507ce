"""MgConv: a linear operator parameterised as one multichannel multigrid V-cycle.

He, Liu, Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid", ICLR 2024
(arXiv:2310.19809).

The input `f` (the "data") and a "solution" `u` (zero at the start) live on a hierarchy of
grids. On level `l`, each smoothing step is `u ← u + S(f − A u)` with its own 3×3
convolutions `S: f-channels → u-channels` and `A: u-channels → f-channels` (unshared across
levels and steps; the first step on the finest level is `u = S f`, since `u = 0`). Going down,
`u` and `f` are restricted by stride-2 3×3 convolutions (`Π` and `R`); going up, the coarse
`u` is prolongated by a stride-2 transposed convolution (4×4, as in the paper's code) and
added, followed by the level's post-smoothing steps. The output is the finest `u`.
The padding of every convolution follows the boundary condition (zeros for Dirichlet,
circular for periodic, reflect for Neumann). A level of `n` points has a coarse level of
`ceil(n/2)`, so any grid size works. Every operation is linear: MgConv is a linear operator
in `f`, the "multigrid" counterpart of a spectral convolution.
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .conv import Conv, ConvTranspose


def check_smoothing(smoothing: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """`((pre, post), ...)` per level, finest first; raise a clear error otherwise."""
    try:
        steps = tuple((int(pre), int(post)) for pre, post in smoothing)
    except (TypeError, ValueError):
        steps = ()
    if not steps or any(min(pair) < 0 for pair in steps) or steps[0][0] < 1:
        raise ValueError(
            "smoothing must list (pre, post) smoothing steps per level, finest first, with "
            f"at least one pre-smoothing step on the finest level, e.g. "
            f"[[1, 0], [1, 0], [2, 0]]; got {smoothing!r}"
        )
    return steps


class _Smoother(eqx.Module):
    """One smoothing step `u ← u + S(f − A u)`; without `A` it is `u ← u + S f`."""

    S: Conv
    A: Conv | None

    def __call__(self, u: Array, f: Array) -> Array:
        return u + self.S(f if self.A is None else f - self.A(u))


class MgConv(eqx.Module):
    """Multichannel V-cycle `(f_channels, *spatial)` → `(u_channels, *spatial)`.

    **Arguments:**

    - `dims`: spatial dimension (1, 2 or 3).
    - `f_channels`, `u_channels`: channels of the data `f` (the input) and solution `u`.
    - `smoothing`: `(pre, post)` smoothing steps per level, finest first; its length is the
        number of levels. The paper's Darcy configuration is 6 levels
        `[[1, 0]] * 5 + [[2, 0]]`.
    - `padding`: a boundary condition (`"dirichlet"`, `"periodic"`, `"neumann"`) or a padding
        mode (`"zeros"`, `"circular"`, `"reflect"`, `"replicate"`).
    - `key`, `dtype`.

    Parameters (no biases, as in the paper's Darcy code): every smoothing step `S` and `A`
    (3×3, `u·f·9` each; the first finest step has no `A`), per coarse level `Π` (`u·u·9`) and
    `R` (`f·f·9`) and a 4×4 prolongation (`u·u·16`).

    **Call:** `f` of shape `(f_channels, *spatial)`, any grid size (coarse levels have
    `ceil(n/2)` points; for translation equivariance on periodic grids use sizes divisible by
    `2^(levels−1)`) → `u` of shape `(u_channels, *spatial)`.
    """

    pre: tuple[tuple[_Smoother, ...], ...]
    post: tuple[tuple[_Smoother, ...], ...]
    restrict_u: tuple[Conv, ...]
    restrict_f: tuple[Conv, ...]
    prolong: tuple[ConvTranspose, ...]
    dims: int = eqx.field(static=True)
    f_channels: int = eqx.field(static=True)
    u_channels: int = eqx.field(static=True)

    def __init__(
        self,
        dims: int,
        f_channels: int,
        u_channels: int,
        smoothing: Sequence[Sequence[int]],
        *,
        padding: str = "dirichlet",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        positive_ints(dims=dims, f_channels=f_channels, u_channels=u_channels)
        steps = check_smoothing(smoothing)
        keys = iter(jr.split(key, 2 * sum(map(sum, steps)) + 3 * len(steps)))
        conv = lambda c_in, c_out, **kw: Conv(
            dims, c_in, c_out, padding_mode=padding, use_bias=False, key=next(keys),
            dtype=dtype, **kw,
        )  # fmt: skip
        smoother = lambda first: _Smoother(
            conv(f_channels, u_channels), None if first else conv(u_channels, f_channels)
        )
        self.pre = tuple(
            tuple(smoother(level == 0 and i == 0) for i in range(pre))
            for level, (pre, _) in enumerate(steps)
        )
        self.post = tuple(tuple(smoother(False) for _ in range(post)) for _, post in steps)
        self.restrict_u = tuple(conv(u_channels, u_channels, stride=2) for _ in steps[1:])
        self.restrict_f = tuple(conv(f_channels, f_channels, stride=2) for _ in steps[1:])
        self.prolong = tuple(
            ConvTranspose(
                dims, u_channels, u_channels, 4, padding_mode=padding, key=next(keys), dtype=dtype
            )
            for _ in steps[1:]
        )
        self.dims, self.f_channels, self.u_channels = dims, f_channels, u_channels

    def __call__(self, f: Float[Array, " f *spatial"]) -> Float[Array, " u *spatial"]:
        if f.ndim != self.dims + 1 or f.shape[0] != self.f_channels:
            raise ValueError(
                f"MgConv expects one sample ({self.f_channels}, *spatial) with {self.dims} "
                f"spatial axes, got shape {f.shape}; use jax.vmap for batches"
            )
        u = jnp.zeros((self.u_channels, *f.shape[1:]), f.dtype)
        levels = []
        for level, smoothers in enumerate(self.pre):
            if level > 0:
                u, f = self.restrict_u[level - 1](u), self.restrict_f[level - 1](f)
            for smooth in smoothers:
                u = smooth(u, f)
            levels.append((u, f))
        for level in range(len(self.pre) - 2, -1, -1):
            fine_u, fine_f = levels[level]
            u = fine_u + self.prolong[level](u, fine_u.shape[1:])
            for smooth in self.post[level]:
                u = smooth(u, fine_f)
        return u
