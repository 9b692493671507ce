"""Regularisers against hand values: total variation of a step (jump × length), Tikhonov of
Fourier modes and linear fields (exact discrete sums), RED's value and gradient for linear
denoisers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxops.inverse import RED, Tikhonov, TotalVariation


def test_total_variation_of_a_step_nodal(x64):
    n, jump, eps = 17, 2.0, 1e-3
    h = 1.0 / (n - 1)
    x = jnp.where(jnp.arange(n)[:, None] >= 8, jump, 0.0) * jnp.ones((n, n))
    cells, jumping = (n - 1) ** 2, n - 1  # the column of cells the step crosses
    exact = h**2 * (jumping * np.sqrt((jump / h) ** 2 + eps**2) + (cells - jumping) * eps)
    assert float(TotalVariation(eps=eps)(x)) == pytest.approx(exact, rel=1e-12)
    # ε → 0: jump × length of the line it crosses (1), whatever the resolution.
    assert float(TotalVariation(eps=1e-9)(x[None])) == pytest.approx(jump, rel=1e-7)


def test_total_variation_of_a_step_periodic(x64):
    n, length, jump = 16, 2.0, 0.5
    x = jnp.where(jnp.arange(n) >= n // 2, jump, 0.0)[None, None, :] * jnp.ones((1, n, n))
    tv = TotalVariation(eps=1e-9, grid="periodic", length=length)
    # Two jumps (at the middle and across the periodic end), each jump × length.
    assert float(tv(x)) == pytest.approx(2 * jump * length, rel=1e-7)


def test_tikhonov_of_a_fourier_mode(x64):
    n, length, (m0, m1) = 16, 2.0, (1, 2)
    i, j = jnp.meshgrid(jnp.arange(n), jnp.arange(n), indexing="ij")
    x = jnp.sin(2 * jnp.pi * (m0 * i + m1 * j) / n)
    h1 = Tikhonov(order=1, grid="periodic", length=length)
    # Σ_edges h^d (Δx/h)² = 2 n² (sin²(π m0/n) + sin²(π m1/n)) in 2D (independent of L).
    exact = n**2 * (np.sin(np.pi * m0 / n) ** 2 + np.sin(np.pi * m1 / n) ** 2)
    assert float(h1(x)) == pytest.approx(exact, rel=1e-12)
    # Continuum limit ½ ∫|∇x|² = ½ · ½ L² (2π/L)² |m|².
    fine = 256
    i, j = jnp.meshgrid(jnp.arange(fine), jnp.arange(fine), indexing="ij")
    xf = jnp.sin(2 * jnp.pi * (m0 * i + m1 * j) / fine)
    limit = 0.25 * (2 * np.pi) ** 2 * (m0**2 + m1**2)
    assert float(h1(xf)) == pytest.approx(limit, rel=1e-3)
    l2 = Tikhonov(order=0, grid="periodic", length=length)
    assert float(l2(x)) == pytest.approx(0.25 * length**2, rel=1e-12)  # ½ ∫ sin² = ¼ L²


def test_tikhonov_nodal_exact_on_linear_fields(x64):
    n, length = 9, 3.0
    x0, x1 = jnp.meshgrid(*(jnp.linspace(0.0, length, n),) * 2, indexing="ij")
    field = (3 * x0 + 2 * x1 + 1.0)[None]
    # Trapezoid weights and differences are exact for linear fields.
    h1 = Tikhonov(order=1, length=length)
    assert float(h1(field)) == pytest.approx(0.5 * 13 * length**2, rel=1e-12)
    l2 = Tikhonov(order=0, reference=1.0, length=length)
    assert float(l2(jnp.full((n, n), 5.0))) == pytest.approx(0.5 * 16 * length**2, rel=1e-12)


class Linear(eqx.Module):
    matrix: jax.Array

    def __call__(self, x):
        return (self.matrix @ x.ravel()).reshape(x.shape)


@pytest.mark.parametrize("symmetric", [True, False])
def test_red_value_and_gradient_for_a_linear_denoiser(x64, getkey, symmetric):
    n = 4
    a = jax.random.normal(getkey(), (n * n, n * n)) / n
    w = 0.5 * (a + a.T) if symmetric else a
    x = jax.random.normal(getkey(), (1, n, n))
    scale = 1.0 / n**2  # V/N on the unit square
    residual = x.ravel() - w @ x.ravel()
    red, exact = RED(Linear(w)), RED(Linear(w), exact_gradient=True)
    value = 0.5 * scale * x.ravel() @ residual
    assert float(red(x)) == pytest.approx(float(value), rel=1e-12)
    assert float(exact(x)) == pytest.approx(float(value), rel=1e-12)
    # RED's gradient is (V/N)(x − Wx); the value's gradient is (V/N)(x − ½(W + Wᵀ)x): the
    # same for a symmetric W only.
    np.testing.assert_allclose(jax.grad(red)(x).ravel(), scale * residual, rtol=1e-12)
    sym = x.ravel() - 0.5 * (w + w.T) @ x.ravel()
    np.testing.assert_allclose(jax.grad(exact)(x).ravel(), scale * sym, rtol=1e-12)
    if not symmetric:
        assert np.abs(residual - sym).max() > 1e-2


def test_regularizer_errors(no_type_checks):
    with pytest.raises(ValueError, match="order"):
        Tikhonov(order=2)
    with pytest.raises(ValueError, match="grid"):
        TotalVariation(grid="dirichlet")
    with pytest.raises(ValueError, match="spatial axes"):
        TotalVariation()(jnp.ones((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="same shape"):
        RED(lambda x: x[:, :-1])(jnp.ones((1, 8, 8)))
