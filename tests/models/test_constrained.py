"""`Constrained(model, constraint)`: the constraint holds exactly for any weights, under jit and
vmap; gradients through the projection agree with finite differences (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within, directional_derivatives, with_numpy_parameters

from jaxops.layers import divergence, integral
from jaxops.models import FNO, Constrained, DivergenceFree, MassConserving


def _batch(shape, seed=0, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape) + 0.5, dtype)


def test_mass_from_input_under_jit_and_vmap(getkey):
    fno = FNO(2, 2, modes=(8,), width=8, depth=1, grid="periodic", key=getkey())
    x = _batch((5, 2, 48))

    @eqx.filter_jit
    def run(fno, x):
        model = Constrained(fno, MassConserving(length=3.0))
        masses = jax.vmap(lambda s: integral(s, 3.0))
        y, bare = jax.vmap(model)(x), jax.vmap(fno)(x)
        return y - bare, masses(y), masses(bare), masses(x), masses(jnp.abs(y))

    shift, mass_y, mass_bare, mass_x, scale = run(fno, x)
    # float32 round-off: two 48-point integrals (each within 48 eps ∫|·|) and the projection
    assert np.max(np.abs(mass_y - mass_x) / scale) < (2 * 48 + 4) * EPS32
    assert np.max(np.abs(mass_bare - mass_x) / scale) > 1e-2  # the bare model does not
    # Uniform variance on a periodic grid: a constant shift per channel and sample.
    np.testing.assert_allclose(shift, jnp.broadcast_to(shift[..., :1], shift.shape), atol=1e-5)


def test_mass_options(getkey):
    x = _batch((3, 17))
    fno = FNO(3, 2, modes=(4,), width=4, depth=1, key=getkey())
    # Output channels take the integrals of input channels 2 and 0 (nodal grid, trapezoid);
    # fixed targets with zero variance at the boundary nodes (kept: e.g. Dirichlet values).
    variance = jnp.ones((2, 17)).at[:, jnp.array([0, -1])].set(0.0)
    from_input = MassConserving(input_channels=(2, 0), grid="nodal")
    fixed = MassConserving((1.0, -2.0), grid="nodal", variance=variance)

    @eqx.filter_jit
    def run(fno, x):
        a, b = Constrained(fno, from_input)(x), Constrained(fno, fixed)(x)
        nodal = lambda u: integral(u, grid="nodal")
        return nodal(a), nodal(x), nodal(b), b, fno(x)

    mass_a, mass_x, mass_b, out, bare = run(fno, x)
    # float32 17-node trapezoid sums, each within 17 eps ∫|·|, and the projection's few
    # roundings; the output moves the model's by its mass defect: ∫|a| <= ∫|x| + 2 ∫|bare|
    nodal = lambda u: float(np.max(integral(jnp.abs(u), grid="nodal")))
    atol = (2 * 17 + 4) * EPS32 * (nodal(x) + 2 * nodal(bare))
    np.testing.assert_allclose(mass_a, mass_x[np.array([2, 0])], rtol=0, atol=atol)
    np.testing.assert_allclose(mass_b, [1.0, -2.0], rtol=0, atol=atol)
    np.testing.assert_array_equal(out[:, np.array([0, -1])], bare[:, np.array([0, -1])])
    with pytest.raises(ValueError, match="not both"):
        MassConserving(1.0, input_channels=(0,))
    with pytest.raises(ValueError, match="input_channels"):
        MassConserving(input_channels=(0, 5)).target(bare, x)
    with pytest.raises(ValueError, match="mass has 3 values"):
        MassConserving((1.0, 2.0, 3.0)).target(bare, x)
    with pytest.raises(ValueError, match="input grid"):
        MassConserving().target(bare, x[:, :9])
    with pytest.raises(ValueError, match="grid must be one of"):
        MassConserving(grid="cell")


def test_divergence_free_output(getkey):
    fno = FNO(1, 2, modes=(6, 6), width=8, depth=1, grid="periodic", key=getkey())
    x = _batch((2, 1, 24, 24))

    @eqx.filter_jit
    def run(fno, x):
        y, bare = jax.vmap(Constrained(fno, DivergenceFree(length=2.0)))(x), jax.vmap(fno)(x)
        div = jax.vmap(lambda v: divergence(v, 2.0))
        ratio = jnp.max(jnp.abs(div(y))) / jnp.max(jnp.abs(div(bare)))
        size = jnp.maximum(jnp.abs(y).mean(axis=(2, 3)), jnp.abs(bare).mean(axis=(2, 3)))
        return ratio, y.mean(axis=(2, 3)), bare.mean(axis=(2, 3)), size

    ratio, mean_y, mean_bare, size = run(fno, x)
    assert float(ratio) < 1e-5
    # the mean flow is the model's: two float32 means of 24² values, each within
    # 576 eps · mean|·|, and the projection's rounding of y (a few eps · mean|y|)
    assert_within(mean_y, mean_bare, (2 * 576 + 4) * EPS32 * np.asarray(size))


@pytest.mark.parametrize("constraint", ["mass", "divergence"])
def test_gradient_matches_finite_differences(x64, getkey, constraint):
    # Generic float64 weights drawn by numpy (nothing to compile for the initialisation).
    build = lambda c_out, modes: with_numpy_parameters(eqx.filter_eval_shape(
        FNO, 1, c_out, modes, 6, 1, grid="periodic", key=getkey(), dtype=jnp.float64))  # fmt: skip
    if constraint == "mass":
        fno = build(1, (5,))
        variance = jnp.exp(_batch((1, 20), seed=3, dtype=jnp.float64))
        c = MassConserving(length=2.0, variance=variance)
        x, y = _batch((1, 20), 1, jnp.float64), _batch((1, 20), 2, jnp.float64)
    else:
        fno = build(2, (3, 3))
        c = DivergenceFree()
        x, y = _batch((1, 10, 12), 1, jnp.float64), _batch((2, 10, 12), 2, jnp.float64)
    # The derivative with respect to the wrapped model's weights, through the projection.
    loss = lambda f: jnp.sum((Constrained(f, c)(x) - y) ** 2)
    ad, fd = directional_derivatives(loss, fno, eps=1e-5)
    assert ad == pytest.approx(fd, rel=1e-7)
    if constraint == "mass":  # no gradient flows into the fixed variance
        grad = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum((m(x) - y) ** 2)))
        grads = grad(Constrained(jnp.sin, c))
        assert float(jnp.max(jnp.abs(grads.constraint.variance))) == 0.0
