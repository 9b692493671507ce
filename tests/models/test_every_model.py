"""What every registered model promises, checked for each in one module: one sample
`(C_in, *grid)`, with the conditions the model declares (`train.conditions`), maps to
`(C_out, *grid)` at several resolutions; `jax.vmap` equals the loop; new values of the same
shapes never re-trace; every field of the model and its layers matches its annotation;
parameters and inputs in bfloat16 give a bfloat16 output near the
float32 one, and `dtype=` at construction sets every parameter; in float64 the gradient
matches a central finite difference. Every registered model needs a small configuration
below (a test says so). Model-specific properties (padding, parameter counts, equivariance,
paper configurations) stay in test_<model>.py."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import astype, directional_derivatives, normal
from typecheck import field_violations

from jaxops import models
from jaxops.train import conditions

# Small configurations (sizes cut so that each check compiles in about a second).
SMALL = {
    "fno": dict(modes=(3, 3), width=4, depth=2, projection_width=8),
    "time_fno": dict(modes=(3, 3), width=4, depth=2, projection_width=8),
    "mgno": dict(width=4, depth=1, smoothing=[[1, 0], [1, 0]]),
    "unet": dict(width=4, levels=2, projection_width=8, norm_groups=2),
    "lsm": dict(
        width=4,
        levels=2,
        patch_size=(2, 2),
        num_basis=3,
        num_tokens=2,
        heads=2,
        projection_width=8,
        norm_groups=2,
    ),  # fmt: skip
    "film": dict(
        n_params=2,
        base="fno",
        embed=2,
        hidden=8,
        base_config=dict(modes=(3, 3), width=4, depth=2, projection_width=8),
    ),  # fmt: skip
    "deeponet": dict(sensors=(6, 6), width=8, depth=2, basis=8),
    "multionet": dict(sensors=(6, 6), width=8, depth=2),
    "cape": dict(
        n_params=2,
        base="fno",
        cape_modes=(3, 3),
        cape_width=4,
        kernel_size=3,
        base_config=dict(modes=(3, 3), width=4, depth=2, projection_width=8),
    ),  # fmt: skip
}
NAMES = models.MODELS.names()
C_IN, C_OUT = 2, 1
GRID = (12, 10)


def build(name: str):
    kwargs = SMALL.get(name, {})
    return models.build(name, in_channels=C_IN, out_channels=C_OUT, key=jax.random.key(0),
                        **kwargs)  # fmt: skip


def condition_values(model, name, batch=(), seed: int = 0, dtype=jnp.float32) -> tuple:
    """Values of the conditions `model` declares: a parameter vector `(P,)` per sample (P from
    its configuration's `n_params`) and a scalar lead time, with leading `batch` axes."""
    n_params = SMALL.get(name, {}).get("n_params", 1)
    values = []
    for i, condition in enumerate(conditions.declared(model)):
        shape = (*batch, n_params) if condition == "params" else batch
        values.append(0.5 + 0.1 * normal(shape, seed=seed + 10 * i + 1, dtype=dtype))
    return tuple(values)


def test_every_registered_model_has_a_small_configuration():
    assert sorted(SMALL) == sorted(NAMES)  # a new model: add its small configuration


@pytest.mark.parametrize("name", NAMES)
def test_every_field_matches_its_annotation(name):
    """Arrays, shapes and static settings of the model and every layer inside it, against
    the annotations of their classes (a custom `__init__` fills fields unchecked)."""
    assert field_violations(build(name)) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("grid", [GRID, (17, 17)])
def test_one_sample_maps_to_the_output_channels_on_its_grid(name, grid):
    model = build(name)
    x = jax.ShapeDtypeStruct((C_IN, *grid), jnp.float32)
    out = eqx.filter_eval_shape(model, x, *condition_values(model, name))
    assert out.shape == (C_OUT, *grid) and out.dtype == jnp.float32


@pytest.mark.parametrize("name", NAMES)
def test_dtype_sets_every_parameter(name):
    """`dtype=bfloat16` at construction: every floating-point parameter in bfloat16."""
    made = eqx.filter_eval_shape(
        lambda: models.build(name, in_channels=C_IN, out_channels=C_OUT, key=jax.random.key(0),
                             dtype=jnp.bfloat16, **SMALL.get(name, {}))
    )  # fmt: skip
    leaves = [leaf for leaf in jax.tree.leaves(made) if isinstance(leaf, jax.ShapeDtypeStruct)]
    wrong = {leaf.dtype for leaf in leaves} - {jnp.dtype(jnp.bfloat16)}
    assert leaves and not wrong, wrong


@pytest.mark.parametrize("name", NAMES)
def test_vmap_equals_loop_bfloat16_and_no_retracing(name):
    model = build(name)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=2)  # once for float32, once for bfloat16
    def apply(model, x, args):
        return jax.vmap(model)(x, *args)

    x, args = normal((3, C_IN, *GRID)), condition_values(model, name, (3,))
    y = apply(model, x, args)
    single = eqx.filter_jit(lambda m, xi, a: m(xi, *a))
    samples, sample_args = np.asarray(x), [np.asarray(a) for a in args]  # indexed on the host
    for i in range(3):
        # The same float32 arithmetic, batched or not: XLA may order the sums differently
        # (at most ~n·eps of each n-term sum), far below 1e-5 of the output's scale.
        looped = single(model, samples[i], tuple(a[i] for a in sample_args))
        np.testing.assert_allclose(looped, y[i], atol=1e-5 * float(jnp.abs(y).max()))
    for seed in (1, 2):  # same shapes, new values: no new trace
        apply(model, normal((3, C_IN, *GRID), seed=seed), condition_values(model, name, (3,), seed))
    low = apply(
        astype(model, jnp.bfloat16),
        x.astype(jnp.bfloat16),
        tuple(a.astype(jnp.bfloat16) for a in args),
    )
    assert low.dtype == jnp.bfloat16
    low, y = np.asarray(low).astype(np.float32), np.asarray(y)
    # bfloat16 keeps 8 significant bits (eps 2⁻⁷ ≈ 7.8e-3): a few roundings along the network
    # stay within a few eps of the float32 output; a float32 path left in would not change
    # the dtype, a broken one would not be finite.
    assert np.isfinite(low).all()
    assert np.linalg.norm(low - y) / np.linalg.norm(y) < 4 * 2.0**-7


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name, x64):
    """d/dt of the mean square output along a random direction in parameter space, by
    reverse-mode AD and by a central difference with step 1e-6 in float64 (truncation
    O(1e-12), rounding O(eps64 / 1e-6) ≈ 1e-10 relative)."""
    model = astype(build(name), jnp.float64)
    x = normal((C_IN, *GRID), seed=3, dtype=jnp.float64)
    args = condition_values(model, name, dtype=jnp.float64)
    ad, fd = directional_derivatives(lambda m: jnp.mean(m(x, *args) ** 2), model)
    np.testing.assert_allclose(ad, fd, rtol=1e-6)
