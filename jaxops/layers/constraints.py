"""Hard constraints: differentiable projections of one field `(C, *spatial)` onto a linear
constraint, exact up to round-off.

- `mass_projection`: the integral of each channel set to a target, `∫ u*_c = b_c`. With a
  diagonal variance σ² (one value per point, ≥ 0) the update is the conditional mean of a
  Gaussian given the linear constraint `g u = b`, `g` the quadrature row of the integral:
  `u* = u + Σ gᵀ (g Σ gᵀ)⁻¹ (b − g u)` — ProbConserv's update (Hansen, Maddix, Alizadeh,
  Gupta, Mahoney, "Learning Physical Models that Can Respect Conservation Laws", ICML 2023).
  It is the Σ⁻¹-weighted closest point satisfying the constraint; points with zero variance
  are left unchanged. Without a variance: a constant shift (the L²(Ω)-closest point).
- `linear_projection`: the same update for any `m` linear constraints `g u = b` (rows `g`
  shaped like fields), e.g. mass and first moment together.
- `leray_projection`: the divergence-free part of a periodic velocity `(d, *spatial)`,
  `v − ∇Δ⁻¹∇·v`, by FFT with the wavenumbers of `geometry.periodic_wavenumbers` (those of
  `pde.grids.PeriodicGrid`; the mean flow is kept); `divergence` is the matching spectral
  divergence (`divergence(leray_projection(v)) = 0` to round-off).

Quadrature (`quadrature_weights`, defined in `jaxops.geometry`): periodic grids `x_i = i L/n`
with weight `L/n` per axis; nodal grids `[0, L]` with boundary nodes, trapezoid weights
(`h/2` at the two end nodes).
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ..geometry import GRID_KINDS, periodic_derivative_symbol, quadrature_weights

GRIDS = GRID_KINDS  # the grid kinds of `quadrature_weights`: ("periodic", "nodal")


def _check_field(u: Array, name: str = "u") -> None:
    if u.ndim < 2:
        raise ValueError(f"{name} must be one sample shaped (C, *spatial), got shape {u.shape}")


def integral(
    u: Float[ArrayLike, " C *spatial"], length: float = 1.0, grid: str = "periodic"
) -> Float[Array, " C"]:
    """`∫ u_c dx` of every channel with `quadrature_weights`: `(C, *spatial)` → `(C,)`."""
    _check_field(u)
    w = jnp.asarray(quadrature_weights(u.shape[1:], length, grid), u.dtype)
    axes = tuple(range(1, u.ndim))
    return jnp.sum(w * u, axis=axes)


def _variance(variance, u: Array) -> Array:
    if variance is None:
        return jnp.ones((1,) * u.ndim, u.dtype)
    variance = jnp.asarray(variance, u.dtype)
    try:
        fits = jnp.broadcast_shapes(variance.shape, u.shape) == u.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"variance of shape {variance.shape} does not broadcast to the field {u.shape}; "
            "pass one value per point (C, *spatial), per channel (C, 1, ..., 1) or a scalar"
        )
    return eqx.error_if(
        variance,
        jnp.any(variance < 0) | ~jnp.all(jnp.isfinite(variance)),
        "variance must be finite and >= 0 (zero leaves a point unchanged)",
    )


def mass_projection(
    u: Float[ArrayLike, " C *spatial"],
    mass: Float[ArrayLike, " C"] | float,
    *,
    length: float = 1.0,
    grid: str = "periodic",
    variance: Float[ArrayLike, " C *spatial"] | None = None,
) -> Float[Array, " C *spatial"]:
    """Project `u` so that `∫ u*_c dx = mass_c` for every channel (see the module docstring).

    **Arguments:**

    - `u`: one field `(C, *spatial)`.
    - `mass`: target integrals `(C,)` (or a scalar for all channels).
    - `length`, `grid`: the domain side and `"periodic"` or `"nodal"` (`quadrature_weights`).
    - `variance`: diagonal covariance σ² ≥ 0 broadcastable to `u` (e.g. a model's predicted
        variance); each channel needs some point of positive variance (an error otherwise).
        `None`: the constant shift `u* = u + (mass − ∫u)/|Ω|`, i.e. σ² ∝ 1/w, the closest
        point in the quadrature-weighted L² norm `Σ_x w (u* − u)²` (on periodic grids `w` is
        constant, so this is also uniform variance).

    **Returns:** `u*` `(C, *spatial)`, `u* = u + σ² w (mass − Σ w u) / Σ σ² w²`, `w` the
    quadrature weights: the closest point in the norm `Σ_x (u*−u)² / σ²` with that integral.
    """
    _check_field(u)
    axes = tuple(range(1, u.ndim))
    mass = jnp.asarray(mass, u.dtype)
    if mass.shape not in ((), u.shape[:1]):
        raise ValueError(f"mass must be a scalar or one value per channel {u.shape[:1]}, "
                         f"got shape {mass.shape}")  # fmt: skip
    mass = jnp.broadcast_to(mass, u.shape[:1])
    w = jnp.asarray(quadrature_weights(u.shape[1:], length, grid), u.dtype)
    # Σ gᵀ, one row per channel; the default σ² = 1/w makes it a constant shift.
    sw = jnp.ones_like(u) if variance is None else _variance(variance, u) * w
    sw = jnp.broadcast_to(sw, u.shape)
    denominator = jnp.sum(sw * w, axis=axes, keepdims=True)  # g Σ gᵀ, per channel
    denominator = eqx.error_if(
        denominator,
        jnp.any(denominator <= 0),
        "mass_projection: a channel has zero variance at every point, so its integral cannot "
        "be changed; give some points positive variance",
    )
    residual = mass.reshape((-1,) + (1,) * len(axes)) - jnp.sum(w * u, axis=axes, keepdims=True)
    return u + sw * (residual / denominator)


def linear_projection(
    u: Float[ArrayLike, " C *spatial"],
    g: Float[ArrayLike, "m C *spatial"],
    b: Float[ArrayLike, " m"],
    *,
    variance: Float[ArrayLike, " C *spatial"] | None = None,
) -> Float[Array, " C *spatial"]:
    """Gaussian conditioning on `m` linear constraints `⟨g_j, u⟩ = b_j` (sums over every
    channel and point): `u* = u + Σ gᵀ (g Σ gᵀ)⁻¹ (b − g u)`, Σ = diag(`variance`) (default
    identity). Quadrature weights belong in the rows `g` (e.g. `g_j = w x^j` for moments).

    **Arguments:** `u` `(C, *spatial)`; `g` `(m, C, *spatial)` with linearly independent rows
    (on the points of positive variance); `b` `(m,)`; `variance` as in `mass_projection`.

    **Returns:** `u*` `(C, *spatial)`; `g u* = b` up to round-off and the conditioning of
    `g Σ gᵀ`. The `(m, m)` system is solved densely: `m` should be small.
    """
    _check_field(u)
    g = jnp.asarray(g, u.dtype)
    b = jnp.asarray(b, u.dtype)
    if g.ndim != u.ndim + 1 or g.shape[1:] != u.shape:
        raise ValueError(
            f"constraint rows g must be shaped (m, *u.shape) = (m, {', '.join(map(str, u.shape))})"
            f", got {g.shape}"
        )
    if b.shape != g.shape[:1]:
        raise ValueError(f"b must have one value per constraint row, shape {g.shape[:1]}, "
                         f"got {b.shape}")  # fmt: skip
    m = g.shape[0]
    rows = g.reshape(m, -1)
    sg = (_variance(variance, u) * g).reshape(m, -1)  # rows of g Σ
    gram = rows @ sg.T
    lam = jnp.linalg.solve(gram, b - rows @ u.ravel())
    lam = eqx.error_if(
        lam,
        ~jnp.all(jnp.isfinite(lam)),
        "linear_projection: g Σ gᵀ is singular (dependent constraint rows, or rows that only "
        "touch points of zero variance)",
    )
    return u + (lam @ sg).reshape(u.shape)


def _velocity_grid(v: Array) -> tuple[int, ...]:
    """The spatial shape of a velocity `(d, *spatial)` with `d` spatial axes."""
    _check_field(v, "v")
    d = v.ndim - 1
    if v.shape[0] != d:
        raise ValueError(
            f"a velocity on a {d}-D grid has {d} components (channels); got shape {v.shape}"
        )
    return v.shape[1:]


def _symbols(spatial: tuple[int, ...], length: float) -> list[Array]:
    """`k_a` such that the spectral derivative along `a` multiplies by `i k_a` (Nyquist
    zeroed), broadcastable to the `rfftn` spectrum."""
    return [(periodic_derivative_symbol(spatial, length, a) / 1j).real for a in range(len(spatial))]


def divergence(
    v: Float[ArrayLike, " d *spatial"], length: float = 1.0
) -> Float[Array, " 1 *spatial"]:
    """Spectral divergence `Σ_a ∂v_a/∂x_a` of a periodic velocity `(d, *spatial)` on
    `[0, length)^d` (the derivatives of `pde.grids.PeriodicGrid`). Returns `(1, *spatial)`."""
    spatial, length = _velocity_grid(v), float(length)
    axes = tuple(range(1, v.ndim))
    v_hat = jnp.fft.rfftn(v, axes=axes)
    div_hat = sum(
        periodic_derivative_symbol(spatial, length, a) * v_hat[a : a + 1]
        for a in range(len(spatial))
    )
    return jnp.fft.irfftn(div_hat, s=spatial, axes=axes).astype(v.dtype)


def leray_projection(
    v: Float[ArrayLike, " d *spatial"], length: float = 1.0
) -> Float[Array, " d *spatial"]:
    """The divergence-free part `v − ∇Δ⁻¹∇·v` of a periodic velocity `(d, *spatial)` on
    `[0, length)^d`: mode by mode `v̂ ← v̂ − k (k·v̂)/|k|²`, the mean (k = 0) kept.

    Wavenumbers are those of `PeriodicGrid.derivative` (`geometry.periodic_derivative_symbol`;
    the Nyquist component of an even axis is zeroed, as in the spectral derivative), so
    `divergence` of the result vanishes to round-off, gradients `∇φ` map to zero and the map
    is an orthogonal (L²) projection: `P² = P`, `⟨P v, v − P v⟩ = 0`.
    """
    spatial, length = _velocity_grid(v), float(length)
    axes, dim = tuple(range(1, v.ndim)), len(spatial)
    k = _symbols(spatial, length)
    k2 = sum(ka**2 for ka in k)
    inverse = jnp.where(k2 > 0, 1.0 / jnp.where(k2 > 0, k2, 1.0), 0.0)
    v_hat = jnp.fft.rfftn(v, axes=axes)
    k_dot_v = sum(k[a] * v_hat[a] for a in range(dim)) * inverse
    projected = jnp.stack([v_hat[a] - k[a] * k_dot_v for a in range(dim)])
    return jnp.fft.irfftn(projected, s=spatial, axes=axes).astype(v.dtype)
