"""Hard-constraint projections: conservation to round-off, idempotence, closest point (against
a KKT solve in numpy), Leray projection against exact divergence-free / gradient fields."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import trig_field

from jaxops.layers import (
    divergence,
    integral,
    leray_projection,
    linear_projection,
    mass_projection,
    quadrature_weights,
)
from jaxops.pde.grids import PeriodicGrid

# Relative round-off tolerances of the conserved integral (relative to ∫|u|).
TOL = {"float32": 1e-6, "float64": 1e-13}


def _field(shape, dtype, seed=0, offset=0.3):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.standard_normal(shape) + offset, dtype)


def _kkt(u, rows, b, variance):
    """argmin Σ (x − u)² / σ² subject to rows @ x = b, by the dense KKT system (numpy, f64),
    over the points of positive variance (the others are held fixed)."""
    u, rows, variance = (np.asarray(a, np.float64).ravel() for a in (u, rows, variance))
    rows = rows.reshape(len(b), -1)
    free = variance > 0
    rhs_b = np.asarray(b, np.float64) - rows[:, ~free] @ u[~free]
    g = rows[:, free]
    n, m = free.sum(), len(b)
    kkt = np.zeros((n + m, n + m))
    kkt[:n, :n] = np.diag(1.0 / variance[free])
    kkt[:n, n:] = g.T
    kkt[n:, :n] = g
    solution = np.linalg.solve(kkt, np.concatenate([u[free] / variance[free], rhs_b]))
    out = u.copy()
    out[free] = solution[:n]
    return out


def test_quadrature_weights_integrate_exactly():
    # Periodic rule: exact for trigonometric polynomials; trapezoid: exact for linear functions.
    x = np.arange(16) * 2.0 / 16
    w = quadrature_weights((16,), 2.0, "periodic")
    assert np.sum(w * np.cos(np.pi * x) ** 2) == pytest.approx(1.0, abs=1e-14)
    xn = np.linspace(0.0, 3.0, 7)
    wn = quadrature_weights((7, 5), 3.0, "nodal")
    yn = np.linspace(0.0, 3.0, 5)
    f = 2.0 * xn[:, None] + yn[None, :] + 1.0
    assert np.sum(wn * f) == pytest.approx(9 * 3 + 3 * 4.5 + 9, rel=1e-14)  # ∫∫ 2x + y + 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grid", ["periodic", "nodal"])
@pytest.mark.parametrize("shape, weighted", [((2, 64), False), ((1, 24, 20), True)])
def test_mass_projection_conserves_and_is_idempotent(dtype, grid, shape, weighted):
    with jax.enable_x64(dtype == "float64"):
        u = _field(shape, dtype)
        variance = jnp.exp(_field(shape, dtype, seed=1)) if weighted else None
        mass = jnp.asarray([1.5, -0.7][: shape[0]], dtype)
        project = jax.jit(lambda u: mass_projection(u, mass, length=2.0, grid=grid,
                                                    variance=variance))  # fmt: skip
        p = project(u)
        assert p.dtype == u.dtype
        scale = np.asarray(integral(jnp.abs(p), 2.0, grid))
        error = np.abs(np.asarray(integral(p, 2.0, grid)) - np.asarray(mass)) / scale
        assert error.max() < TOL[dtype]
        assert float(jnp.max(jnp.abs(u - p))) > 0.01  # it did move
        # Projecting twice = once; a field that already satisfies the constraint is kept.
        assert float(jnp.max(jnp.abs(project(p) - p))) < 10 * TOL[dtype]


@pytest.mark.parametrize("grid", ["periodic", "nodal"])
def test_mass_projection_is_the_weighted_closest_point(x64, grid):
    u = _field((2, 12, 9), "float64")
    w = quadrature_weights(u.shape[1:], 1.5, grid)
    rows = np.zeros((2, *u.shape))
    rows[0, 0], rows[1, 1] = w, w
    mass = np.array([0.4, 2.0])
    # Given variance, with zeros: KKT in the norm Σ (x − u)²/σ²; zero-variance points fixed.
    variance = np.exp(np.asarray(_field(u.shape, "float64", seed=2)))
    variance[0, :3] = 0.0
    variance[1, :, -2:] = 0.0
    p = mass_projection(u, mass, length=1.5, grid=grid, variance=variance)
    np.testing.assert_allclose(np.asarray(p).ravel(), _kkt(u, rows, mass, variance), atol=1e-13)
    assert np.array_equal(np.asarray(p)[variance == 0], np.asarray(u)[variance == 0])
    # The general linear projection gives the same point.
    q = linear_projection(u, rows, mass, variance=variance)
    np.testing.assert_allclose(np.asarray(q), np.asarray(p), atol=1e-13)
    # Default: constant shift = the closest point in the quadrature-weighted L² norm.
    p0 = np.asarray(mass_projection(u, mass, length=1.5, grid=grid))
    shift = (mass - np.asarray(integral(u, 1.5, grid))) / 1.5**2
    np.testing.assert_allclose(p0, np.asarray(u) + shift[:, None, None], atol=1e-14)
    np.testing.assert_allclose(p0.ravel(), _kkt(u, rows, mass, 1 / np.stack([w, w])), atol=1e-13)
    # Pythagoras for any y with the target masses: the projected field is never farther from
    # y (in the weighted norm), so projecting a prediction of such a target cannot hurt it.
    y = np.asarray(mass_projection(_field(u.shape, "float64", seed=9), mass, length=1.5,
                                   grid=grid))  # fmt: skip
    norm2 = lambda a: np.sum(w * a**2)
    u = np.asarray(u)
    assert norm2(u - y) == pytest.approx(norm2(u - p0) + norm2(p0 - y), rel=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_projection_two_moments(dtype):
    with jax.enable_x64(dtype == "float64"):
        u = _field((1, 128), dtype)
        x = np.arange(128) / 128
        w = quadrature_weights((128,), 1.0)
        rows = np.stack([w, w * np.cos(2 * np.pi * x)])[:, None]  # mass and a Fourier moment
        b = np.array([1.0, 0.25])
        p = linear_projection(u, rows, b)
        got = np.tensordot(rows, np.asarray(p, np.float64), axes=2)
        np.testing.assert_allclose(got, b, rtol=TOL[dtype], atol=TOL[dtype])
        if dtype == "float64":
            np.testing.assert_allclose(np.asarray(p).ravel(), _kkt(u, rows, b, np.ones(128)),
                                       atol=1e-13)  # fmt: skip


def test_projection_errors(no_type_checks):
    u = jnp.ones((1, 8))
    with pytest.raises(ValueError, match="grid must be one of"):
        mass_projection(u, 1.0, grid="chebyshev")
    with pytest.raises(ValueError, match=r"\(C, \*spatial\)"):
        mass_projection(jnp.ones(8), 1.0)
    with pytest.raises(ValueError, match="one value per channel"):
        mass_projection(u, jnp.ones(3))
    with pytest.raises(ValueError, match="does not broadcast"):
        mass_projection(u, 1.0, variance=jnp.ones((3, 8)))
    with pytest.raises(Exception, match="zero variance at every point"):
        mass_projection(u, 1.0, variance=jnp.zeros((1, 8)))
    with pytest.raises(Exception, match="finite and >= 0"):
        mass_projection(u, 1.0, variance=-jnp.ones((1, 8)))
    with pytest.raises(ValueError, match="constraint rows g"):
        linear_projection(u, jnp.ones((2, 8)), jnp.ones(2))
    with pytest.raises(ValueError, match="2-D grid has 2 components"):
        leray_projection(jnp.ones((1, 8, 8)))


def _curl(fields, grid):
    g = lambda c, axis: grid.gradient(fields[c : c + 1], axis)
    if grid.dim == 2:  # ∇^⊥ψ of a stream function
        return jnp.concatenate([g(0, 1), -g(0, 0)])
    return jnp.concatenate([g(2, 1) - g(1, 2), g(0, 2) - g(2, 0), g(1, 0) - g(0, 1)])


@pytest.mark.parametrize(
    "dtype, shape",
    [("float32", (32, 24)), ("float64", (16, 15)), ("float32", (8, 10, 12)),
     ("float64", (8, 10, 12))],
)  # fmt: skip
def test_leray_projection(dtype, shape):
    tol = TOL[dtype]
    with jax.enable_x64(dtype == "float64"):
        length = 2.0
        grid = PeriodicGrid(shape, length)
        d = len(shape)
        v = _field((d, *shape), dtype, seed=3)
        phi = _field((1, *shape), dtype, seed=4)
        potential = _field((1 if d == 2 else 3, *shape), dtype, seed=5)
        mean = jnp.asarray([0.5, -1.0, 2.0][:d], dtype).reshape((d,) + (1,) * d)
        axes = tuple(range(1, d + 1))

        @jax.jit
        def figures(v, phi, potential):
            P = lambda v: leray_projection(v, length)
            p = P(v)
            curl = _curl(potential, grid)
            gradient = jnp.concatenate([grid.gradient(phi, a) for a in range(d)])
            y = P(gradient + v[::-1])  # any divergence-free field: ‖v−y‖² = ‖v−Pv‖² + ‖Pv−y‖²
            n2 = lambda a: jnp.vdot(a, a)
            size = lambda a: jnp.max(jnp.abs(a))
            return {
                "div": size(divergence(p, length)) / size(divergence(v, length)),
                "idempotent": size(P(p) - p),
                "orthogonal": jnp.vdot(p, v - p) / jnp.vdot(v, v),
                "mean": size(p.mean(axis=axes) - v.mean(axis=axes)),
                "gradient": size(P(gradient + mean) - mean),  # ∇φ + c ↦ c
                "curl": size(P(curl) - curl) / size(curl),  # divergence-free: unchanged
                "pythagoras": (n2(v - y) - n2(v - p) - n2(p - y)) / n2(v - y),
                "dtype": p.dtype == v.dtype,
            }

        out = {k: abs(float(x)) for k, x in figures(v, phi, potential).items()}
        assert out.pop("dtype") == 1.0
        assert out.pop("div") < 10 * tol
        for name in ("idempotent", "orthogonal", "mean", "pythagoras"):
            assert out[name] < 10 * tol, name
        assert out["gradient"] < 100 * tol
        assert out["curl"] < 100 * tol


def test_leray_projection_exact_fields(x64):
    # v = (cos 2πx + cos 2πy, sin 2πx): the first term is ∇(sin 2πx / 2π), the rest
    # divergence-free, so P v = (cos 2πy, sin 2πx) exactly (band-limited).
    n = 16
    x, y = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    v = np.stack([np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y), np.sin(2 * np.pi * x)])
    expected = np.stack([np.cos(2 * np.pi * y), np.sin(2 * np.pi * x)])
    # A random band-limited divergence-free field ∇^⊥ψ is unchanged, also on a domain of side 3.
    psi = jnp.asarray(trig_field((n, n), key_seed=7))
    g = PeriodicGrid((n, n), 3.0)

    @jax.jit
    def run(v, psi):
        curl = jnp.concatenate([g.gradient(psi, 1), -g.gradient(psi, 0)])
        return leray_projection(v), leray_projection(curl, 3.0), curl

    pv, p_curl, curl = run(jnp.asarray(v), psi)
    np.testing.assert_allclose(pv, expected, atol=1e-14)
    np.testing.assert_allclose(p_curl, curl, atol=1e-13)
