"""Losses and metrics on one sample `(C, *spatial)`; `jax.vmap` them for batches.

Trajectories are `(T, C, *spatial)`. Spatial grids are uniform; `lengths` (a float, or one
float per spatial axis) is the physical size of the domain along each axis and must be a
Python number (it sets quadrature weights and wavenumbers at trace time). The spectral
functions (`sobolev_norm`, `relative_h1`, `relative_hs`, `h_minus1_norm`, `relative_h_minus1`,
`energy_spectrum`, `spectrum_error`) assume periodic data on `[0, L_1) × … × [0, L_d)` sampled
without the end point.
"""

import functools
import math
import numbers
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, ScalarLike

Lengths = float | Sequence[float]


def _check_shapes(pred: ArrayLike, target: ArrayLike) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from target shape {target.shape}")


def axis_lengths(lengths: Lengths, spatial: tuple[int, ...]) -> tuple[float, ...]:
    """The domain side along each of the `len(spatial)` axes: `(L_1, …, L_d)` floats from
    `lengths` (one float for every axis, or one per axis; a mismatch raises)."""
    if isinstance(lengths, numbers.Real):
        return (float(lengths),) * len(spatial)
    lengths = tuple(float(length) for length in lengths)
    if len(lengths) != len(spatial):
        raise ValueError(
            f"lengths {lengths} has {len(lengths)} entries for {len(spatial)} spatial axes"
        )
    return lengths


def _spatial(u: ArrayLike) -> tuple[int, ...]:
    if u.ndim < 2:
        raise ValueError(f"expected one sample shaped (C, *spatial), got shape {u.shape}")
    return u.shape[1:]


def _mode_numbers(spatial: tuple[int, ...]) -> Sequence[np.ndarray]:
    """Integer mode numbers `m_i` (FFT order) on the full grid, one array per spatial axis."""
    return np.meshgrid(*(np.fft.fftfreq(n, 1.0 / n) for n in spatial), indexing="ij")


def _fourier_coefficients(u: ArrayLike) -> Array:
    """`c_m = fftn(u)/N` over the spatial axes, so that `u(x) = Σ_m c_m exp(i k_m·x)`."""
    axes = tuple(range(1, u.ndim))
    return jnp.fft.fftn(u, axes=axes) / math.prod(u.shape[1:])


def relative_l2(
    pred: Float[ArrayLike, " C *spatial"], target: Float[ArrayLike, " C *spatial"]
) -> Array:
    """‖pred − target‖₂ / ‖target‖₂ over all channels and points (a uniform grid's quadrature
    weights cancel). The FNO paper's metric (`LpLoss` with p = 2)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from target shape {target.shape}")
    return jnp.linalg.norm((pred - target).ravel()) / jnp.linalg.norm(target.ravel())


def lp_norm(u: Float[ArrayLike, " C *spatial"], p: float = 2, lengths: Lengths = 1.0) -> Array:
    """Absolute Lp norm `(Σ_c Σ_x h |u_c(x)|^p)^(1/p)` with the uniform quadrature weight
    `h = Π_i L_i / n_i`; `p = inf` gives `max |u|`. E.g. `lp_norm(sin(x)[None], 2, 2π)² = π`
    on `[0, 2π)`.

    **Arguments:** `u` `(C, *spatial)`; `p ≥ 1` (a Python number); `lengths` (domain size,
    a float or one per spatial axis).

    **Returns:** a scalar.
    """
    spatial = _spatial(u)
    if p == math.inf:
        return jnp.max(jnp.abs(u))
    h = math.prod(axis_lengths(lengths, spatial)) / math.prod(spatial)
    return (h * jnp.sum(jnp.abs(u) ** p)) ** (1.0 / p)


def relative_lp(
    pred: Float[ArrayLike, " C *spatial"], target: Float[ArrayLike, " C *spatial"], p: float = 2
) -> Array:
    """‖pred − target‖_p / ‖target‖_p over all channels and points (uniform quadrature
    weights cancel); `p = 2` is `relative_l2`. neuraloperator's `LpLoss` (Li et al., FNO,
    ICLR 2021). Returns a scalar."""
    _check_shapes(pred, target)
    return lp_norm(pred - target, p) / lp_norm(target, p)


def sobolev_norm(
    u: Float[ArrayLike, " C *spatial"], s: ScalarLike, lengths: Lengths = 1.0
) -> Array:
    """Periodic Sobolev norm computed spectrally:
    `‖u‖²_{H^s} = V Σ_c Σ_m (1 + |k_m|²)^s |c_m|²`, where `c = fftn(u)/N` over the spatial
    axes, `k_m = (2π m_1/L_1, …, 2π m_d/L_d)` are physical wavenumbers and `V = Π_i L_i`.
    By Parseval, `s = 0` gives `lp_norm(u, 2, lengths)`. Assumes periodic data.

    **Arguments:** `u` `(C, *spatial)`; `s` (any real, e.g. 1 for H¹, −1 for H⁻¹; may be
    traced); `lengths` (domain size, a float or one per spatial axis).

    **Returns:** a scalar.
    """
    spatial = _spatial(u)
    lengths = axis_lengths(lengths, spatial)
    k2 = sum((2 * np.pi * m / L) ** 2 for m, L in zip(_mode_numbers(spatial), lengths, strict=True))
    power = jnp.abs(_fourier_coefficients(u)) ** 2
    weight = ((1.0 + jnp.asarray(k2, dtype=power.dtype)) ** s).astype(power.dtype)
    return jnp.sqrt(math.prod(lengths) * jnp.sum(weight * power))


def relative_hs(
    pred: Float[ArrayLike, " C *spatial"],
    target: Float[ArrayLike, " C *spatial"],
    s: ScalarLike,
    lengths: Lengths = 1.0,
) -> Array:
    """`‖pred − target‖_{H^s} / ‖target‖_{H^s}` with `sobolev_norm` (periodic data). With
    `s = 1` this is the relative H¹ loss MgNO trains with (He et al., ICLR 2024)."""
    _check_shapes(pred, target)
    return sobolev_norm(pred - target, s, lengths) / sobolev_norm(target, s, lengths)


def relative_h1(
    pred: Float[ArrayLike, " C *spatial"],
    target: Float[ArrayLike, " C *spatial"],
    lengths: Lengths = 1.0,
) -> Array:
    """`‖pred − target‖_{H¹} / ‖target‖_{H¹}`: `relative_hs` with `s = 1` (MgNO's loss,
    He et al., ICLR 2024). Periodic data."""
    return relative_hs(pred, target, 1.0, lengths)


def h_minus1_norm(u: Float[ArrayLike, " C *spatial"], lengths: Lengths = 1.0) -> Array:
    """`‖u‖_{H⁻¹}`: `sobolev_norm` with `s = −1`, i.e. `(V Σ |c_m|² / (1 + |k_m|²))^(1/2)`.
    The negative Sobolev norm Spectral-Refiner evaluates residuals in via Parseval
    (Cao et al., ICLR 2025). Periodic data; returns a scalar."""
    return sobolev_norm(u, -1.0, lengths)


def relative_h_minus1(
    pred: Float[ArrayLike, " C *spatial"],
    target: Float[ArrayLike, " C *spatial"],
    lengths: Lengths = 1.0,
) -> Array:
    """`‖pred − target‖_{H⁻¹} / ‖target‖_{H⁻¹}`: `relative_hs` with `s = −1`. Periodic data."""
    return relative_hs(pred, target, -1.0, lengths)


def nrmse(
    pred: Float[ArrayLike, "T C *spatial"],
    target: Float[ArrayLike, "T C *spatial"],
    *,
    spatial_ndim: int | None = None,
) -> Array:
    """PDEBench's normalised RMSE (Takamoto et al., NeurIPS 2022 Datasets & Benchmarks):
    `‖pred − target‖₂ / ‖target‖₂` over the spatial axes only, separately for every time
    step and channel.

    **Arguments:** `pred`, `target` shaped `(T, C, *spatial)`; `spatial_ndim` (keyword): the
    number of trailing spatial axes, by default `ndim − 2` (a trajectory). For one sample
    `(C, *spatial)` pass `spatial_ndim=u.ndim - 1`.

    **Returns:** `(T, C)` (or `(C,)` for one sample).
    """
    _check_shapes(pred, target)
    if spatial_ndim is None:
        spatial_ndim = pred.ndim - 2
    if not 1 <= spatial_ndim < pred.ndim:
        raise ValueError(f"spatial_ndim={spatial_ndim} does not fit shape {pred.shape}")
    axes = tuple(range(pred.ndim - spatial_ndim, pred.ndim))
    err = jnp.sqrt(jnp.sum((pred - target) ** 2, axis=axes))
    return err / jnp.sqrt(jnp.sum(target**2, axis=axes))


def relative_l1(
    pred: Float[ArrayLike, " C *spatial"], target: Float[ArrayLike, " C *spatial"]
) -> Array:
    """`Σ |pred − target| / Σ |target|` over all channels and points: Poseidon's relative L¹
    error (Herde et al., NeurIPS 2024). Returns a scalar."""
    _check_shapes(pred, target)
    return jnp.sum(jnp.abs(pred - target)) / jnp.sum(jnp.abs(target))


def median_relative_l1(
    preds: Float[ArrayLike, "N C *spatial"], targets: Float[ArrayLike, "N C *spatial"]
) -> Array:
    """Median over the leading sample axis of `relative_l1`: the test metric Poseidon reports
    (Herde et al., NeurIPS 2024). Returns a scalar."""
    _check_shapes(preds, targets)
    return jnp.median(jax.vmap(relative_l1)(preds, targets))


def energy_spectrum(
    u: Float[ArrayLike, " C *spatial"], lengths: Lengths = 1.0
) -> tuple[Array, Array]:
    """Shell-summed kinetic-energy spectrum of a periodic 1D/2D/3D field (all channels, e.g.
    velocity components, together).

    Convention: `c = fftn(u)/N` over the spatial axes; mode `m` (integer mode numbers) falls in
    shell `K = round(|m|)`; `E(K) = ½ Σ_c Σ_{m in shell K} |c_{c,m}|²`. By Parseval
    `Σ_K E(K) = ½ mean_x Σ_c u_c(x)²` (the mean kinetic energy per unit volume; independent
    of `lengths`). A single mode `sin(2π·3x/L)` has all its energy, ¼, in shell 3. All shells
    `0 … max round(|m|)` are returned; those above `min(n_i)/2` are incomplete (grid
    corners). The domain must be isotropic (equal lengths) so that shells are spheres.

    **Arguments:** `u` `(C, *spatial)`; `lengths` (domain size, a float or equal per axis).

    **Returns:** `(k, E)`, both `(K_max + 1,)`: physical wavenumbers `k = 2π K / L` and the
    energies `E(K)`.
    """
    spatial = _spatial(u)
    lengths = axis_lengths(lengths, spatial)
    if len(set(lengths)) != 1:
        raise ValueError(f"energy_spectrum needs equal lengths per axis, got {lengths}")
    shell = np.rint(np.sqrt(sum(m**2 for m in _mode_numbers(spatial)))).astype(np.int32)
    n_shells = int(shell.max()) + 1
    power = jnp.sum(jnp.abs(_fourier_coefficients(u)) ** 2, axis=0)
    energy = 0.5 * jax.ops.segment_sum(power.ravel(), shell.ravel(), num_segments=n_shells)
    k = jnp.asarray(2 * np.pi * np.arange(n_shells) / lengths[0], dtype=energy.dtype)
    return k, energy


def spectrum_error(
    pred: Float[ArrayLike, " C *spatial"],
    target: Float[ArrayLike, " C *spatial"],
    lengths: Lengths = 1.0,
) -> Array:
    """Relative L2 error of the energy spectrum, `‖E_pred − E_target‖₂ / ‖E_target‖₂` over the
    complete shells `K = 1 … min(n_i) // 2` (the mean, `K = 0`, and the corner shells are
    left out). `E` from `energy_spectrum`; periodic data. Returns a scalar."""
    _check_shapes(pred, target)
    k_max = min(_spatial(pred)) // 2
    e_pred = energy_spectrum(pred, lengths)[1][1 : k_max + 1]
    e_target = energy_spectrum(target, lengths)[1][1 : k_max + 1]
    return jnp.linalg.norm(e_pred - e_target) / jnp.linalg.norm(e_target)


# Registry for configs: single-sample losses `loss(pred, target, *, lengths, ...)`.


def _rel_l2(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths) -> Array:
    return relative_l2(pred, target)  # uniform quadrature weights cancel


def _rel_l1(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths) -> Array:
    return relative_l1(pred, target)


def _rel_h1(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths) -> Array:
    return relative_h1(pred, target, lengths)


def _rel_h_minus1(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths) -> Array:
    return relative_h_minus1(pred, target, lengths)


def _rel_hs(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths, s: float) -> Array:
    return relative_hs(pred, target, s, lengths)


def _mse(pred: ArrayLike, target: ArrayLike, *, lengths: Lengths) -> Array:
    """Mean squared error (in the engine's normalised units). It does not divide by the
    target: for data whose states decay to about zero, where relative losses blow up."""
    _check_shapes(pred, target)
    return jnp.mean((jnp.asarray(pred) - jnp.asarray(target)) ** 2)


LOSSES: dict[str, Callable[..., Array]] = {
    "rel_l2": _rel_l2,
    "rel_l1": _rel_l1,
    "rel_h1": _rel_h1,
    "rel_h_minus1": _rel_h_minus1,
    "rel_hs": _rel_hs,
    "mse": _mse,
}
"""Config name → single-sample loss `loss(pred, target, *, lengths)`; `"rel_hs"` also takes
the keyword `s`. Use `get_loss` to bind the keywords."""


def get_loss(name: str, lengths: Lengths = 1.0, s: float = 1.0) -> Callable[[Array, Array], Array]:
    """The registered loss `name` (see `LOSSES`) as `loss(pred, target) -> scalar` on one
    sample, with `lengths` (and `s`, used by `"rel_hs"` only) bound.

    Raises `ValueError` for an unknown name.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(sorted(LOSSES))}")
    if name == "rel_hs":
        return functools.partial(LOSSES[name], lengths=lengths, s=s)
    return functools.partial(LOSSES[name], lengths=lengths)
