"""Reference data for coarse-grid models: fine-grid solutions restricted to a coarse grid.

`resample` keeps the Fourier modes a coarse periodic grid can represent (spectral truncation:
the coarse field interpolates the fine field's low-pass part exactly); `reference_trajectories`
solves an equation on the fine grid with `pde.simulate` from coarse initial conditions
(interpolated spectrally) and returns the trajectories on the coarse grid, vmapped over
samples. This is the "fine solver as ground truth" setup of Um et al. (NeurIPS 2020) and
Kochkov et al. (PNAS 2021).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..pde.equations.base import AbstractEquation
from ..pde.grids import PeriodicGrid
from ..pde.integrate import simulate


def _resample_axis(u: Array, axis: int, m: int) -> Array:
    """Fourier interpolation along one axis to `m` points (modes |k| ≤ (min(n, m) − 1)/2)."""
    n = u.shape[axis]
    keep = (min(n, m) - 1) // 2
    u_hat = jnp.fft.fft(u, axis=axis)
    low = jax.lax.slice_in_dim(u_hat, 0, keep + 1, axis=axis)
    high = jax.lax.slice_in_dim(u_hat, n - keep, n, axis=axis)
    pad = [(0, 0)] * u.ndim
    pad[axis] = (0, m - 2 * keep - 1)
    u_hat = jnp.concatenate([jnp.pad(low, pad), high], axis=axis)
    return jnp.fft.ifft(u_hat, axis=axis) * (m / n)


def resample(u: Float[Array, " C *grid"], shape: Sequence[int] | int) -> Array:
    """A periodic field `(C, *grid)` on another periodic grid `shape`, by its Fourier series:
    modes both grids hold are kept (the Nyquist mode of an even axis is dropped, so the result
    stays real), the others are zero. Coarsening is spectral truncation; refining is
    trigonometric interpolation, exact for band-limited fields.

    **Returns:** `(C, *shape)`, the dtype of `u`.
    """
    spatial = u.shape[1:]
    shape = (shape,) * len(spatial) if isinstance(shape, int) else tuple(shape)
    if len(shape) != len(spatial) or not all(isinstance(m, int) and m >= 1 for m in shape):
        raise ValueError(
            f"shape must give {len(spatial)} positive ints (points per axis), got {shape}"
        )
    out = u.astype(jnp.result_type(u.dtype, jnp.complex64))
    for axis, m in enumerate(shape):
        out = _resample_axis(out, axis + 1, m)
    return out.real.astype(u.dtype)


def reference_trajectories(
    fine: AbstractEquation,
    u0: Float[Array, " N C *coarse"],
    ts,
    *,
    t_skip: float = 0.0,
    **simulate_options,
) -> Float[Array, " N T C *coarse"]:
    """Fine-grid solutions seen on the coarse grid.

    **Arguments:** `fine` a periodic equation on the fine grid; `u0` `(N, C, *coarse)` initial
    conditions on the coarse grid (interpolated to the fine grid by `resample`); `ts` the save
    times (a numpy array for fixed steps); `t_skip` time simulated first and discarded (to
    reach an attractor), the saves are then at `t_skip + ts`; `simulate_options` passed to
    `pde.simulate` (`solver`, `dt`, ...).

    **Returns:** `(N, len(ts), C, *coarse)`: each saved fine state coarsened by `resample`.
    """
    if not isinstance(fine.grid, PeriodicGrid):
        raise ValueError("reference_trajectories needs a periodic equation (spectral coarsening)")
    if u0.ndim != fine.grid.dim + 2:
        raise ValueError(
            f"u0 must be (N, C, *coarse) with {fine.grid.dim} spatial axes, got {u0.shape}"
        )
    coarse_shape = u0.shape[2:]
    times = np.asarray(ts, dtype=np.float64)
    if t_skip:
        times = np.concatenate([[times[0]], times + t_skip])

    def one(u):
        trajectory = simulate(fine, resample(u, fine.grid.shape), times, **simulate_options)
        return jax.vmap(lambda v: resample(v, coarse_shape))(trajectory[-len(ts) :])

    return jax.vmap(one)(u0)
