"""Observations of a field and the data misfit: sparse point sets, Gaussian noise, and
Φ(u) = ½ mean((M u − y)²) / σ², M picking the observed points.

Points are flat indices into one field `(C, *grid)` (all channels unless `channels` says
otherwise), so M u = `u.ravel()[indices]` traces, vmaps and differentiates cheaply.
With noise of standard deviation σ, Φ at the true field averages ½; the mean (not the sum)
keeps its scale independent of the number of points, so a regulariser weight λ acts like a
Bayesian prior weight λ·m for m points (Stuart, "Inverse problems: a Bayesian perspective",
Acta Numerica 2010).
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray


def _check_shape(shape) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) < 2 or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"shape must be a field shape (C, *grid) of positive ints, got {shape!r}")
    return shape


def _flat(shape: tuple[int, ...], keep: np.ndarray, channels) -> Int[Array, " m"]:
    """Flat indices of the grid points where `keep` `(*grid)` holds, in the chosen channels."""
    channels = range(shape[0]) if channels is None else channels
    mask = np.zeros(shape, bool)
    for c in channels:
        mask[c] = keep
    return jnp.asarray(np.flatnonzero(mask), jnp.int32)


def grid_points(
    shape: tuple[int, ...], stride: int, *, offset: int = 0, interior: bool = False, channels=None
) -> Int[Array, " m"]:
    """Every `stride`-th point along each axis, starting at `offset`.

    **Arguments:** `shape` (the field, `(C, *grid)`); `stride` ≥ 1; `offset`; `interior`
    (leave out the boundary points of nodal grids, where a Dirichlet solution is known);
    `channels` (which channels are observed; default all).

    **Returns:** flat indices into the field, sorted.
    """
    shape = _check_shape(shape)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if not 0 <= offset < stride:
        raise ValueError(f"offset must lie in [0, stride), got offset={offset}, stride={stride}")
    keep = np.ones(shape[1:], bool)
    for axis, n in enumerate(shape[1:]):
        index = np.arange(n)
        ok = (index % stride == offset) & ((index > 0) & (index < n - 1) if interior else True)
        keep &= ok.reshape((n,) + (1,) * (len(shape) - axis - 2))
    if not keep.any():
        raise ValueError(f"no point of grid {shape[1:]} is observed with stride {stride}")
    return _flat(shape, keep, channels)


def random_points(
    key: PRNGKeyArray, shape: tuple[int, ...], count: int, *, interior: bool = False, channels=None
) -> Int[Array, " m"]:
    """`count` distinct grid points drawn uniformly (the same points in every observed
    channel); `interior` leaves out the boundary. Returns sorted flat indices."""
    shape = _check_shape(shape)
    grid = shape[1:]
    keep = np.ones(grid, bool)
    if interior:
        keep[:] = False
        keep[tuple(slice(1, n - 1) for n in grid)] = True
    candidates = np.flatnonzero(keep)
    if not 1 <= count <= len(candidates):
        raise ValueError(f"count must lie in [1, {len(candidates)}] for grid {grid}, got {count}")
    chosen = np.asarray(jr.choice(key, len(candidates), (count,), replace=False))
    picked = np.zeros(keep.size, bool)
    picked[candidates[chosen]] = True
    return _flat(shape, picked.reshape(grid), channels)


class Observations(eqx.Module):
    """Observed values `y = M u + noise` at the flat `indices` of a field shaped `shape`,
    with noise standard deviation `sigma`. Call it on a field to get the misfit."""

    indices: Int[Array, " m"]
    values: Float[Array, " m"]
    sigma: float
    shape: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self):
        if self.indices.shape != self.values.shape or self.indices.ndim != 1:
            raise ValueError(
                f"indices {self.indices.shape} and values {self.values.shape} must be equal 1-D"
            )
        if isinstance(self.sigma, int | float) and not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma!r}")

    @classmethod
    def of(
        cls,
        key: PRNGKeyArray,
        u: Float[Array, " C *grid"],
        indices: Int[Array, " m"],
        noise: float = 0.01,
        *,
        relative: bool = True,
    ) -> "Observations":
        """Observe the true field `u` at `indices` with Gaussian noise: σ = `noise` × the RMS
        of the observed values (`relative`, e.g. 0.01 for 1 % noise) or σ = `noise`."""
        clean = jnp.ravel(u)[indices]
        sigma = float(noise * jnp.sqrt(jnp.mean(clean**2))) if relative else float(noise)
        if not sigma > 0:
            raise ValueError(
                f"noise gives sigma={sigma}: use noise > 0 (and nonzero observed values "
                "for relative noise)"
            )
        values = clean + sigma * jr.normal(key, clean.shape, clean.dtype)
        return cls(jnp.asarray(indices), values, sigma, tuple(u.shape))

    def observe(self, u: Float[Array, " C *grid"]) -> Float[Array, " m"]:
        """M u: the field at the observed points."""
        if tuple(u.shape) != self.shape:
            raise ValueError(
                f"observations were made on fields shaped {self.shape}, got {tuple(u.shape)}"
            )
        return jnp.ravel(u)[self.indices]

    def __call__(self, u: Float[Array, " C *grid"]) -> Array:
        """The misfit ½ mean((M u − y)²) / σ²."""
        return 0.5 * jnp.mean((self.observe(u) - self.values) ** 2) / self.sigma**2

    def mask(self) -> np.ndarray:
        """Boolean array shaped like the field, True at the observed points (for figures)."""
        mask = np.zeros(int(np.prod(self.shape)), bool)
        mask[np.asarray(self.indices)] = True
        return mask.reshape(self.shape)
