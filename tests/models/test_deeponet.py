"""DeepONet and MultiONet: shapes at several resolutions in 1D and 2D, sensor interpolation
against scipy, outputs against an independent numpy implementation from the weights,
evaluation at points without re-tracing, parameter counts (also of the shipped configs) and
argument errors (vmap, bfloat16, gradients: test_every_model.py).

Test data come from numpy and every jax computation runs under `jit`, so that each test
compiles a few whole programs instead of many small eager ones."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within
from hydra import compose, initialize_config_dir
from scipy.interpolate import RegularGridInterpolator

from jaxops import models
from jaxops.experiment.assemble import check_model_fits_data
from jaxops.experiment.paths import config_dir
from jaxops.experiment.schema import register_configs, validate_config
from jaxops.models.deeponet import DeepONet, MultiONet, interpolate_nodal
from jaxops.train import count_parameters

KINDS = ["deeponet", "multionet"]
# (in_channels, out_channels, sensors) of the two small models most tests share: each distinct
# model and input shape is one more compiled program.
CONFIGS = {"2d": (2, 2, (6, 5)), "1d": (1, 1, (9,))}


@functools.cache
def small(kind, config, dtype="float32"):
    """A small model with a random (not zero) bias, built once per configuration; other
    dtypes are the float32 model's parameters cast (drawing them again compiles again)."""
    if dtype != "float32":
        return cast(small(kind, config), dtype)
    in_channels, out_channels, sensors = CONFIGS[config]
    key = jax.random.key(0)
    if kind == "deeponet":
        net = DeepONet(in_channels, out_channels, sensors, width=16, depth=2, basis=12, key=key)
    else:
        net = MultiONet(in_channels, out_channels, sensors, width=12, depth=3, key=key)
    bias = np.random.default_rng(0).normal(size=out_channels)
    return eqx.tree_at(lambda m: m.bias, net, jnp.asarray(bias, jnp.float32))


@eqx.filter_jit
def cast(model, dtype):
    return jax.tree.map(lambda p: p.astype(dtype) if eqx.is_inexact_array(p) else p, model)


def random(shape, seed=0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@eqx.filter_jit
def call(model, a):
    return model(a)


@eqx.filter_jit
def evaluate(model, a, points):
    return model.evaluate(a, points)


def nodal_axes(spatial):
    return [np.linspace(0.0, 1.0, n) for n in spatial]


def nodal_points(spatial) -> np.ndarray:
    """`(P, d)` nodal grid points in C order, built independently of the library."""
    mesh = np.meshgrid(*nodal_axes(spatial), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def reference_sensor_values(a: np.ndarray, sensors) -> np.ndarray:
    """scipy's multilinear interpolation of `(C, *spatial)` onto the sensor grid."""
    points = nodal_points(sensors)
    return np.stack(
        [
            RegularGridInterpolator(nodal_axes(a.shape[1:]), channel)(points).reshape(sensors)
            for channel in a
        ]
    )


def reference_preactivations(mlp, x: np.ndarray) -> list[np.ndarray]:
    """Pre-activations of every layer of an MLP, in numpy from the extracted weights."""
    states = []
    for weight, bias in zip(mlp.weights, mlp.biases, strict=True):
        weight, bias = np.asarray(weight, np.float64), np.asarray(bias, np.float64)
        z = weight @ x + (bias if x.ndim == 1 else bias[:, None])
        states.append(z)
        x = np.tanh(z)
    return states


def reference_output(net, a: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The DeepONet / MultiONet formula in float64 numpy, tanh activations: `(out, P)`."""
    values = reference_sensor_values(a.astype(np.float64), net.sensors).ravel()
    branch = reference_preactivations(net.branch, values)
    trunk = reference_preactivations(net.trunk, points.T)
    bias = np.asarray(net.bias, np.float64)[:, None]
    if isinstance(net, DeepONet):
        coefficients = branch[-1].reshape(net.out_channels, net.basis)  # no output activation
        return coefficients @ np.tanh(trunk[-1]) + bias
    total = 0.0
    for beta, tau in zip(branch, trunk, strict=True):
        beta, tau = np.tanh(beta), np.tanh(tau)
        groups = np.split(np.arange(beta.shape[0]), net.out_channels)
        total = total + np.stack([beta[g] @ tau[g] for g in groups])
    return total / len(trunk) + bias


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "config, resolutions",
    [("1d", [(9,), (16,), (50,)]), ("2d", [(6, 5), (13, 21), (64, 32)])],
)
def test_shapes_at_several_resolutions(kind, config, resolutions):
    """Shapes only (concrete values at other resolutions: the numpy-reference test)."""
    net = small(kind, config)
    c_in, c_out, sensors = CONFIGS[config]
    points = jax.ShapeDtypeStruct((5, len(sensors)), jnp.float32)
    for spatial in resolutions:
        a = jax.ShapeDtypeStruct((c_in, *spatial), jnp.float32)
        out = jax.eval_shape(net, a)
        assert out.shape == (c_out, *spatial) and out.dtype == jnp.float32
        assert jax.eval_shape(net.evaluate, a, points).shape == (c_out, 5)


def test_interpolation_reproduces_linear_functions_and_matches_scipy(x64):
    x, y = np.meshgrid(*nodal_axes((17, 23)), indexing="ij")
    linear = np.stack([1 + 2 * x - 3 * y, 0.5 * x])
    rough = random((2, 17, 23), dtype=np.float64)
    for target in [(32, 9), (5, 40)]:
        both = jax.jit(interpolate_nodal, static_argnums=1)(
            jnp.asarray(np.concatenate([linear, rough])), target
        )
        sx, sy = np.meshgrid(*nodal_axes(target), indexing="ij")
        np.testing.assert_allclose(both[:2], np.stack([1 + 2 * sx - 3 * sy, 0.5 * sx]), atol=1e-13)
        np.testing.assert_allclose(both[2:], reference_sensor_values(rough, target), atol=1e-13)


def test_interpolation_is_the_identity_on_the_sensor_grid():
    a = jnp.asarray(random((2, 6, 5)))
    assert interpolate_nodal(a, (6, 5)) is a  # nothing to do: not even a copy
    net = small("deeponet", "2d")
    assert np.array_equal(eqx.filter_jit(net.sensor_values)(a), a)
    # Shared nodes keep their values exactly: every 2nd node of 11 points is a node of 6.
    fine = jnp.asarray(random((2, 11, 5), seed=1))
    assert np.array_equal(eqx.filter_jit(net.sensor_values)(fine), fine[:, ::2])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config, other", [("1d", (14,)), ("2d", (11, 9))])
def test_outputs_match_an_independent_numpy_implementation(kind, config, other, x64):
    """At the sensor resolution and another one: `evaluate` at random points and at the grid
    nodes against numpy, and the grid call equal to `evaluate` at the grid nodes."""
    net = small(kind, config, "float64")
    c_in, c_out, sensors = CONFIGS[config]
    for spatial in [sensors, other]:
        a = random((c_in, *spatial), seed=2, dtype=np.float64)
        points = np.concatenate(
            [np.random.default_rng(1).uniform(size=(7, len(sensors))), nodal_points(spatial)]
        )
        at_points = np.asarray(evaluate(net, jnp.asarray(a), points))
        np.testing.assert_allclose(at_points, reference_output(net, a, points), atol=1e-12)
    grid = np.asarray(call(net, jnp.asarray(a)))  # at the other resolution
    np.testing.assert_allclose(grid.reshape(c_out, -1), at_points[:, 7:], atol=1e-14)


def test_multionet_is_the_mean_of_the_layer_inner_products():
    """Written out per layer with the library's own hidden states: the average (not the sum,
    not only the last layer) of ⟨β⁽ˡ⁾, τ⁽ˡ⁾⟩, plus the bias."""
    net = small("multionet", "1d")
    a, x = jnp.asarray(random((1, 9))), jnp.array([[0.3], [0.75]])

    @eqx.filter_jit
    def parts(net, a, x):
        return net.branch.hidden(a.reshape(-1)), net.trunk.hidden(x.T), net.evaluate(a, x)

    betas, taus, out = parts(net, a, x)
    assert len(betas) == len(taus) == 3 and betas[0].shape == (12,) and taus[0].shape == (12, 2)
    f64 = lambda v: np.asarray(v, np.float64)  # noqa: E731
    inner = np.stack([f64(beta) @ f64(tau) for beta, tau in zip(betas, taus, strict=True)])
    size = np.stack([np.abs(f64(b)) @ np.abs(f64(t)) for b, t in zip(betas, taus, strict=True)])
    bias = float(net.bias[0])
    # float32: 12-term dot products, their mean over 3 layers and the bias: within
    # (12 + 3 + 1) eps (mean |β| |τ| + |bias|) of the float64 value
    atol = (12 + 3 + 1) * EPS32 * (size.mean(axis=0) + abs(bias))
    assert_within(out[0], inner.mean(axis=0) + bias, atol)
    assert np.abs(inner.sum(axis=0) - inner.mean(axis=0)).max() > 1e-3  # a real difference


@pytest.mark.parametrize("kind", KINDS)
def test_same_output_function_for_a_linear_input_at_any_resolution(kind):
    """A (bi)linear input is interpolated exactly, so grids that share nodes agree there."""
    net = small(kind, "2d")
    outputs = []
    for spatial in [(11, 9), (21, 17)]:
        x, y = np.meshgrid(*nodal_axes(spatial), indexing="ij")
        a = np.stack([1 + x - 2 * x * y, y])
        outputs.append(np.asarray(call(net, jnp.asarray(a, jnp.float32))))
    np.testing.assert_allclose(outputs[1][:, ::2, ::2], outputs[0], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_no_retracing_for_same_shapes(kind):
    net = small(kind, "2d")

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def apply(model, x, points):
        return jax.vmap(model)(x), jax.vmap(model.evaluate, in_axes=(0, None))(x, points)

    rng = np.random.default_rng(4)
    for _ in range(3):
        x = jnp.asarray(rng.normal(size=(2, 2, 16, 12)), jnp.float32)
        apply(net, x, rng.uniform(size=(5, 2)))


def deeponet_count(c_in, c_out, sensors, width, depth, basis):
    """Linear layers m → w → … → w → p·C (branch) and d → w → … → w → p (trunk), plus C."""
    linear = lambda n_in, n_out: n_in * n_out + n_out
    m, d = c_in * math.prod(sensors), len(sensors)
    hidden = (depth - 1) * linear(width, width)
    branch = linear(m, width) + hidden + linear(width, basis * c_out)
    trunk = linear(d, width) + hidden + linear(width, basis)
    return branch + trunk + c_out


def multionet_count(c_in, c_out, sensors, width, depth):
    """Linear layers m → w → … → w (branch) and d → w → … → w (trunk), plus C biases."""
    linear = lambda n_in, n_out: n_in * n_out + n_out
    m, d = c_in * math.prod(sensors), len(sensors)
    hidden = (depth - 1) * linear(width, width)
    return linear(m, width) + linear(d, width) + 2 * hidden + c_out


@pytest.mark.parametrize(
    "c_in, c_out, sensors, width, depth, basis",
    [(1, 1, (32, 32), 128, 3, 128), (2, 3, (10,), 7, 1, 5), (3, 2, (4, 5, 6), 8, 4, 9)],
)
def test_parameter_count_formula(c_in, c_out, sensors, width, depth, basis):
    key = jax.random.key(0)
    deeponet = eqx.filter_eval_shape(
        DeepONet, c_in, c_out, sensors, width=width, depth=depth, basis=basis, key=key
    )
    assert count_parameters(deeponet) == deeponet_count(c_in, c_out, sensors, width, depth, basis)
    width = c_out * width  # MultiONet splits its width between the output channels
    multionet = eqx.filter_eval_shape(
        MultiONet, c_in, c_out, sensors, width=width, depth=depth, key=key
    )
    assert count_parameters(multionet) == multionet_count(c_in, c_out, sensors, width, depth)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("deeponet", deeponet_count(1, 1, (32, 32), 128, 3, 128)),
        ("multionet", multionet_count(1, 1, (32, 32), 100, 5)),
    ],
)
def test_shipped_configs_compose_fit_the_default_data_and_count(name, expected):
    """`configs/model/<name>.yaml` composes against its schema, passes the pre-flight check on
    the default experiment's 32×32 training grid, and has the documented size."""
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        config = validate_config(compose(config_name="config", overrides=[f"model={name}"]))
    assert config.model.name == name and config.model.sensors == [32, 32]
    check_model_fits_data(config)
    kwargs = models.config_kwargs(config.model)
    net = eqx.filter_eval_shape(
        models.build, name, in_channels=1, out_channels=1, key=jax.random.key(0), **kwargs
    )
    assert count_parameters(net) == expected == {"deeponet": 230_657, "multionet": 183_601}[name]


def test_invalid_arguments_are_rejected_before_compute(no_type_checks):
    key = jax.random.key(0)
    for sensors in [32, (), (32, 1), (32, 0), (8.0, 8), "32", (True, 4)]:
        with pytest.raises(ValueError, match="sensors must be a sequence"):
            DeepONet(1, 1, sensors, key=key)
        with pytest.raises(ValueError, match="sensors must be a sequence"):
            MultiONet(1, 1, sensors, key=key)
    with pytest.raises(ValueError, match="basis must be a positive int, got 0"):
        DeepONet(1, 1, (8,), basis=0, key=key)
    with pytest.raises(ValueError, match="depth must be a positive int"):
        MultiONet(1, 1, (8,), depth=0, key=key)
    with pytest.raises(ValueError, match="in_channels must be a positive int, got 0"):
        DeepONet(0, 1, (8,), key=key)
    with pytest.raises(ValueError, match="multiple of out_channels"):
        MultiONet(1, 3, (8,), width=10, key=key)
    with pytest.raises(ValueError, match="activation must be one of"):
        DeepONet(1, 1, (8,), activation="sigmoidd", key=key)

    net = small("multionet", "2d")
    shaped = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)  # no data: nothing computed
    with pytest.raises(ValueError, match=r"in_channels=2, \*spatial\) with 2 spatial axes"):
        net(shaped(3, 16, 16))  # wrong channel count
    with pytest.raises(ValueError, match="with 2 spatial axes"):
        net(shaped(2, 16))  # wrong dimension
    with pytest.raises(ValueError, match="with 2 spatial axes.*use jax.vmap"):
        net(shaped(4, 2, 16, 16))  # a batch
    with pytest.raises(ValueError, match="at least 2 points per spatial axis"):
        net(shaped(2, 16, 1))
    with pytest.raises(ValueError, match=r"points must be shaped \(P, 2\)"):
        net.evaluate(shaped(2, 16, 16), shaped(5, 3))
    with pytest.raises(ValueError, match=r"points must be shaped \(P, 2\)"):
        net.evaluate(shaped(2, 16, 16), shaped(10))
    with pytest.raises(ValueError, match="in_channels=2"):
        net.evaluate(shaped(1, 16, 16), shaped(5, 2))
    with pytest.raises(ValueError, match="cannot interpolate 1 spatial axes"):
        interpolate_nodal(shaped(1, 8), (8, 8))
