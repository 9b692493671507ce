"""MgConv: the V-cycle recomposed from its convolutions, linearity, any grid size,
translation equivariance with circular padding, jit/vmap/grad, the paper's parameter count."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal

from jaxops.layers import MgConv
from jaxops.train import count_parameters


def test_two_level_cycle_is_the_multigrid_formula(getkey):
    """Pre-smooth u = S₀f, u ← u + S₁(f − A₁u); restrict f_c = R f, u_c = Π u, smooth
    u_c ← u_c + S(f_c − A u_c); prolongate and add; post-smooth u ← u + S(f − A u)."""
    mg = MgConv(2, 2, 3, [[2, 1], [1, 0]], key=getkey())
    f = normal((2, 11, 9))

    @eqx.filter_jit
    def by_hand(mg, f):
        (s0, s1), (c0,) = mg.pre
        u = s0.S(f)
        u = u + s1.S(f - s1.A(u))
        f_c, u_c = mg.restrict_f[0](f), mg.restrict_u[0](u)
        u_c = u_c + c0.S(f_c - c0.A(u_c))
        u = u + mg.prolong[0](u_c, (11, 9))
        (post,) = mg.post[0]
        return u + post.S(f - post.A(u))

    assert mg.pre[0][0].A is None and mg.post[1] == ()
    np.testing.assert_allclose(eqx.filter_jit(mg)(f), by_hand(mg, f), atol=1e-5)


def test_linear_in_its_input(getkey):
    mg = MgConv(2, 2, 4, [[1, 1], [1, 1], [2, 0]], key=getkey())
    f, g = normal((2, 2, 20, 20))
    apply = eqx.filter_jit(mg)
    np.testing.assert_allclose(apply(2.0 * f - 3.0 * g), 2.0 * apply(f) - 3.0 * apply(g), atol=1e-4)


@pytest.mark.parametrize("spatial", [(17,), (63, 85), (16, 16)])
def test_any_grid_size(spatial, getkey):
    mg = MgConv(len(spatial), 1, 3, [[1, 0]] * 4, key=getkey())
    out = jax.eval_shape(mg, jax.ShapeDtypeStruct((1, *spatial), jnp.float32))
    assert out.shape == (3, *spatial)


def test_circular_padding_is_equivariant_to_shifts_by_the_coarsest_stride(getkey):
    mg = MgConv(2, 2, 3, [[1, 0], [1, 1], [2, 0]], padding="periodic", key=getkey())
    f = normal((2, 32, 24))
    apply = eqx.filter_jit(mg)
    shifted = lambda x, s: jnp.roll(x, s, axis=(1, 2))
    scale = float(jnp.abs(apply(f)).max())
    np.testing.assert_allclose(
        apply(shifted(f, (8, -4))), shifted(apply(f), (8, -4)), atol=1e-5 * scale
    )
    # A shift that is not a multiple of 2^(levels-1) = 4 changes the coarse grids: not equivariant.
    assert (
        float(jnp.abs(apply(shifted(f, (1, 0))) - shifted(apply(f), (1, 0))).max()) > 1e-2 * scale
    )
    # Zero padding breaks equivariance at the boundary.
    zeros = eqx.filter_jit(MgConv(2, 2, 3, [[1, 0], [1, 1], [2, 0]], key=getkey()))
    assert float(jnp.abs(zeros(shifted(f, (8, -4))) - shifted(zeros(f), (8, -4))).max()) > 1e-3


def test_jit_vmap_grad_and_no_retracing(getkey):
    mg = MgConv(2, 1, 2, [[1, 0], [1, 0]], key=getkey())

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def loss(model, f):
        return jnp.mean(jax.vmap(model)(f) ** 2)

    f = normal((3, 1, 12, 12))
    batched = eqx.filter_jit(lambda m, f: jax.vmap(m)(f))(mg, f)
    single = eqx.filter_jit(mg)
    for fi, yi in zip(f, batched, strict=True):
        np.testing.assert_allclose(single(fi), yi, atol=1e-6)
    grads = eqx.filter_grad(loss)(mg, f)
    eqx.filter_grad(loss)(mg, f + 1.0)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads.restrict_u[0].weight).sum()) > 0


def test_bfloat16(getkey):
    mg32 = MgConv(2, 1, 2, [[1, 0], [1, 0]], key=getkey())
    mg16 = jax.tree.map(lambda w: w.astype(jnp.bfloat16) if eqx.is_array(w) else w, mg32)
    f = normal((1, 16, 16))
    apply = eqx.filter_jit(lambda model, x: model(x))
    y16, y32 = apply(mg16, f.astype(jnp.bfloat16)), apply(mg32, f)
    assert y16.dtype == jnp.bfloat16
    np.testing.assert_allclose(y16.astype(jnp.float32), y32, atol=0.05 * float(jnp.abs(y32).max()))


def test_parameter_count_of_the_paper_darcy_cycle(getkey):
    """24 channels, 6 levels, (1, 0) steps and (2, 0) on the coarsest, 3×3 S, A, Π, R and
    4×4 prolongations, no biases: 5 184 + 5 coarse levels × (Π + R) 10 368 + 6 steps ×
    (S + A) 10 368 + 5 × 9 216 = 165 312."""
    shape = eqx.filter_eval_shape(MgConv, 2, 24, 24, [[1, 0]] * 5 + [[2, 0]], key=jax.random.key(0))
    assert count_parameters(shape) == 5184 + 5 * 10368 + 6 * 10368 + 5 * 9216 == 165_312


def test_bad_smoothing_is_named(getkey, no_type_checks):
    with pytest.raises(ValueError, match="smoothing must list"):
        MgConv(2, 1, 1, [[0, 1]], key=getkey())
    with pytest.raises(ValueError, match="smoothing must list"):
        MgConv(2, 1, 1, [3, 2], key=getkey())
    with pytest.raises(ValueError, match="expects one sample"):
        MgConv(2, 2, 1, [[1, 0]], key=getkey())(jnp.ones((1, 8, 8)))
