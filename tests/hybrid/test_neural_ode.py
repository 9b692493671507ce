"""`NeuralODE` with a known linear vector field du/dt = A u (a pointwise linear layer, A a
damped rotation of two channels): the adaptive solution matches expm(A t) u0 to the
tolerance, takes more steps for tighter tolerances, and its gradient with respect to A
matches the exact derivative with either adjoint; the one-step flow map jits and vmaps."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxops import layers
from jaxops.hybrid import NeuralODE, NeuralODEStep

A = np.array([[-0.5, 2.0], [-2.0, -0.5]])
TS = np.linspace(0.0, 2.0, 5)


def linear_field(matrix, key):
    layer = layers.PointwiseLinear(2, 2, key=key, use_bias=False, dtype=jnp.float64)
    return eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(matrix, jnp.float64))


def exact(u0):
    """`(T, 2, n)`: expm(A t) applied pointwise."""
    return np.stack([np.einsum("ij,jx->ix", scipy.linalg.expm(A * t), u0) for t in TS])


@pytest.fixture
def u0(getkey):
    return np.asarray(jax.random.normal(getkey(), (2, 8), jnp.float64))


def test_linear_vector_field_matches_the_exact_solution(x64, getkey, u0):
    errors, steps = [], []
    for rtol in (1e-4, 1e-8):
        ode = NeuralODE(linear_field(A, getkey()), rtol=rtol, atol=rtol * 1e-2)
        solution = eqx.filter_jit(ode.solve)(jnp.asarray(u0), TS)
        error = np.max(np.abs(solution.ys - exact(u0))) / np.max(np.abs(u0))
        errors.append(error)
        steps.append(int(solution.stats["num_steps"]))
        assert error < 20 * rtol, (rtol, error)
    assert steps[0] < steps[1], steps
    assert errors[1] < 1e-3 * errors[0], errors


@pytest.mark.parametrize(
    "adjoint", [None, diffrax.BacksolveAdjoint()], ids=["checkpoint", "backsolve"]
)
def test_gradient_matches_the_exact_derivative(x64, getkey, u0, adjoint):
    """d/dλ of Σ u(T) for A − λI is −T Σ expm((A − λI) T) u0 at λ = 0, by discretise-then-
    optimise (recursive checkpointing) and by Chen et al.'s continuous adjoint (backsolve)."""
    field = linear_field(A, getkey())
    t_end = TS[-1]

    def total(shift):
        shifted = eqx.tree_at(lambda m: m.weight, field, field.weight - shift * jnp.eye(2))
        ode = NeuralODE(shifted, rtol=1e-10, atol=1e-12, adjoint=adjoint)
        return jnp.sum(ode(jnp.asarray(u0), jnp.array([0.0, t_end]))[-1])

    gradient = jax.jit(jax.grad(total))(0.0)
    expected = -t_end * np.sum(exact(u0)[-1])
    assert abs(float(gradient) - expected) < 1e-6 * abs(expected)


def test_one_step_form_jits_and_vmaps(getkey):
    layer = layers.PointwiseLinear(2, 2, key=getkey(), use_bias=False)
    field = eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(A, jnp.float32))
    step = NeuralODEStep(NeuralODE(field), 0.5)
    batch = jax.random.normal(getkey(), (3, 2, 8))
    batched = eqx.filter_jit(lambda b: jax.vmap(step)(b))(batch)
    expected = np.einsum("ij,bjx->bix", scipy.linalg.expm(A * 0.5), np.asarray(batch))
    assert batched.shape == (3, 2, 8)
    assert np.max(np.abs(batched - expected)) < 1e-4
    with pytest.raises(ValueError, match="dt must be a positive"):
        NeuralODEStep(NeuralODE(field), -1.0)
    with pytest.raises(ValueError, match="rtol and atol"):
        NeuralODE(field, rtol=0.0)
