"""DeepONet and MultiONet: branch–trunk operator networks on the library's grid interface.

DeepONet — Lu, Jin, Pang, Zhang, Karniadakis, "Learning nonlinear operators via DeepONet
based on the universal approximation theorem of operators", Nature Machine Intelligence 3,
218–229 (2021), arXiv:1910.03193. A branch MLP reads the input function at `m` fixed sensors,
a trunk MLP reads a query point `x`, and `G(a)(x) = Σ_k b_k(a) t_k(x) + b₀`.

MultiONet — Zang, Koutsourelakis, "DGenNO: a novel physics-aware neural operator for solving
forward and inverse PDE problems based on deep, generative probabilistic modeling",
arXiv:2502.06250 (2025; v1 titled DGNO). Branch and trunk have the same depth and width and
the output averages the inner products of *every* pair of hidden layers,
`G(a)(x) = (1/L) Σ_l ⟨β⁽ˡ⁾(a), τ⁽ˡ⁾(x)⟩ + b₀`, instead of DeepONet's single one.

Both fit the grid-to-grid interface of the other models: one sample `(C_in, *spatial)` on a
nodal grid of `[0, 1]^d` (`x_i = i/(n−1)`, boundary included) at any resolution is linearly
interpolated onto the fixed nodal sensor grid (`interpolate_nodal`; the identity when the
grids agree), and the output is evaluated by the trunk at the input grid's nodes, giving
`(C_out, *spatial)`. `evaluate(a, points)` evaluates at arbitrary points `(P, d)` instead;
`__call__` is `evaluate` at the grid nodes.
"""

import abc
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import positive_ints
from .._config import spec
from .._random import uniform
from ..layers.pointwise import gelu, grid_coordinates
from .registry import ModelConfig, register

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": gelu,
    "silu": jax.nn.silu,
    "sin": jnp.sin,
}


def _activation(activation: str | Callable[[Array], Array]) -> Callable[[Array], Array]:
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)} or a callable, got {activation!r}"
        )
    return ACTIVATIONS[activation]


def _check_sensors(sensors: Sequence[int]) -> tuple[int, ...]:
    if (
        isinstance(sensors, int | str)
        or not isinstance(sensors, Sequence)
        or len(sensors) == 0
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 2 for s in sensors)
    ):
        raise ValueError(
            "sensors must be a sequence of sensor points per spatial axis, each an int >= 2 "
            f"(a nodal grid of [0, 1]^d, e.g. (32, 32) in 2D), got {sensors!r}"
        )
    return tuple(sensors)


def _linear_stencil(n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Left neighbours and weights of the nodes `j/(s−1)` in the nodal grid `i/(n−1)`.

    Positions `j (n−1)/(s−1)` are split in integer arithmetic, so nodes shared by both grids
    get weight exactly 0 (or 1 at the right end)."""
    numerator = np.arange(s) * (n - 1)
    lower = np.minimum(numerator // (s - 1), n - 2)
    weight = (numerator - lower * (s - 1)) / (s - 1)
    return lower, weight


def interpolate_nodal(
    u: Float[Array, " C *spatial"], shape: Sequence[int]
) -> Float[Array, " C *shape"]:
    """Multilinear interpolation between nodal grids of `[0, 1]^d`: `(C, *spatial)` sampled at
    `x_i = i/(n−1)` → `(C, *shape)` at `x_j = j/(s−1)`, one axis at a time. Axes whose sizes
    agree are left untouched (exact identity); linear functions are reproduced exactly up to
    rounding."""
    spatial = u.shape[1:]
    if len(spatial) != len(shape):
        raise ValueError(
            f"cannot interpolate {len(spatial)} spatial axes {tuple(spatial)} onto a grid with "
            f"{len(shape)} axes {tuple(shape)}"
        )
    for axis, (n, s) in enumerate(zip(spatial, shape, strict=True), start=1):
        if n == s:
            continue
        if n < 2 or s < 2:
            raise ValueError(f"nodal grids need at least 2 points per axis, got {n} and {s}")
        lower, weight = _linear_stencil(n, s)
        broadcast = (-1,) + (1,) * (u.ndim - axis - 1)
        w = jnp.asarray(weight, u.dtype).reshape(broadcast)
        u = (1 - w) * jnp.take(u, lower, axis=axis) + w * jnp.take(u, lower + 1, axis=axis)
    return u


@functools.partial(jax.jit, static_argnames=("shapes", "dtype"))
def _draw_layers(key: PRNGKeyArray, shapes: tuple[tuple[int, int], ...], dtype):
    """Weights `(fan_out, fan_in)` and biases `(fan_out,)` of each layer, uniform on
    ±1/√fan_in like `torch.nn.Linear`: one flat draw, split and scaled in one compiled program
    (drawing, slicing and reshaping layer by layer compiles a small program per shape)."""
    counts = [n_out * n_in + n_out for n_out, n_in in shapes]
    draws = uniform(key, (sum(counts),), dtype, -1.0, 1.0)
    weights, biases, start = [], [], 0
    for count, (n_out, n_in) in zip(counts, shapes, strict=True):
        piece = draws[start : start + count] * jnp.asarray(n_in**-0.5, dtype)
        weights.append(piece[: n_out * n_in].reshape(n_out, n_in))
        biases.append(piece[n_out * n_in :])
        start += count
    return tuple(weights), tuple(biases)


class _MLP(eqx.Module):
    """Fully connected network applied to the leading axis: `(sizes[0], *rest)` →
    `(sizes[-1], *rest)`, i.e. a vector `(n,)` or a set of points `(d, P)` at once."""

    weights: tuple[Float[Array, " _out _in"], ...]
    biases: tuple[Float[Array, " _out"], ...]
    activation: Callable[[Array], Array]

    @staticmethod
    def init_many(
        key: PRNGKeyArray, activation, dtype, *sizes: Sequence[int]
    ) -> tuple["_MLP", ...]:
        """Networks with layer sizes `sizes[i]`, initialised like `torch.nn.Linear` (and
        `PointwiseLinear`) in one draw."""
        shapes = [tuple(zip(s[1:], s[:-1], strict=True)) for s in sizes]  # (fan_out, fan_in)
        weights, biases = _draw_layers(key, sum(shapes, ()), jnp.dtype(dtype))
        networks, start = [], 0
        for layers in shapes:
            stop = start + len(layers)
            networks.append(_MLP(weights[start:stop], biases[start:stop], activation))
            start = stop
        return tuple(networks)

    def _layer(self, i: int, x: Array) -> Array:
        y = jnp.tensordot(self.weights[i].astype(x.dtype), x, axes=1)
        return y + self.biases[i].astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))

    def hidden(self, x: Array) -> list[Array]:
        """The activated output of every layer."""
        states = []
        for i in range(len(self.weights)):
            x = self.activation(self._layer(i, x))
            states.append(x)
        return states

    def __call__(self, x: Array, *, final_activation: bool) -> Array:
        for i in range(len(self.weights) - 1):
            x = self.activation(self._layer(i, x))
        x = self._layer(len(self.weights) - 1, x)
        return self.activation(x) if final_activation else x


class AbstractSensorOperator(eqx.Module):
    """Interface shared by `DeepONet` and `MultiONet`: sensor interpolation, argument checks,
    `evaluate` at points and `__call__` on the input grid. Subclasses define `_expand`."""

    sensors: eqx.AbstractVar[tuple[int, ...]]
    in_channels: eqx.AbstractVar[int]
    out_channels: eqx.AbstractVar[int]

    @abc.abstractmethod
    def _expand(
        self, values: Float[Array, " m"], coordinates: Float[Array, " d P"]
    ) -> Float[Array, " out P"]:
        """The output at points `coordinates` from the flattened sensor values."""

    def _check_input(self, a: Array) -> None:
        name = type(self).__name__
        d = len(self.sensors)
        if a.ndim != d + 1 or a.shape[0] != self.in_channels:
            raise ValueError(
                f"{name} expects one sample (in_channels={self.in_channels}, *spatial) with "
                f"{d} spatial axes (len(sensors)={d}), got shape {a.shape}; use jax.vmap for "
                "batches"
            )
        if min(a.shape[1:]) < 2:
            raise ValueError(
                f"{name} input {a.shape} is a nodal grid of [0, 1]^{d} and needs at least 2 "
                "points per spatial axis"
            )

    def sensor_values(self, a: Float[Array, " in *spatial"]) -> Float[Array, " in *sensors"]:
        """The input interpolated onto the sensor grid: `(in_channels, *sensors)`."""
        self._check_input(a)
        return interpolate_nodal(a, self.sensors)

    def evaluate(
        self, a: Float[Array, " in *spatial"], points: Float[Array, " P d"]
    ) -> Float[Array, " out P"]:
        """The output function at arbitrary `points` `(P, d)` of `[0, 1]^d` (the trunk
        extrapolates outside): `(out_channels, P)`. `a` is on any nodal grid."""
        self._check_input(a)
        d = len(self.sensors)
        if points.ndim != 2 or points.shape[1] != d:
            raise ValueError(
                f"points must be shaped (P, {d}): one row of {d} coordinates per query point, "
                f"got shape {points.shape}"
            )
        values = interpolate_nodal(a, self.sensors).reshape(-1)
        return self._expand(values, points.T.astype(a.dtype))

    def __call__(self, a: Float[Array, " in *spatial"]) -> Float[Array, " out *spatial"]:
        """`evaluate` at the nodes of the input's own grid: `(out_channels, *spatial)`."""
        self._check_input(a)
        spatial = a.shape[1:]
        points = grid_coordinates(spatial, "nodal", a.dtype).reshape(len(spatial), -1).T
        return self.evaluate(a, points).reshape(self.out_channels, *spatial)


def _check_common(in_channels, out_channels, sensors, width, depth, activation):
    positive_ints(in_channels=in_channels, out_channels=out_channels, width=width, depth=depth)
    return _check_sensors(sensors), _activation(activation)


@dataclass
class DeepONetConfig(ModelConfig):
    """`model=deeponet`: the arguments of `DeepONet` other than channels and key."""

    name: str = "deeponet"
    sensors: list[int] = spec(ge=2, help="sensor points per axis of a nodal grid on [0,1]^d")
    width: int = spec(ge=1, help="hidden units of branch and trunk")
    depth: int = spec(ge=1, help="hidden layers of branch and trunk")
    basis: int = spec(ge=1, help="trunk basis functions p, shared by the output channels")
    activation: str = spec(choices=tuple(ACTIVATIONS), help="activation of both networks")


@register("deeponet", DeepONetConfig)
class DeepONet(AbstractSensorOperator):
    """Unstacked DeepONet (Lu et al., Nature Machine Intelligence 2021):
    `u_c(x) = Σ_k b_{c,k}(a) t_k(x) + bias_c`.

    The branch maps the `in_channels · Π sensors` sensor values through `depth` hidden layers
    of `width` units (activated) to `basis · out_channels` linear outputs, reshaped
    `(out_channels, basis)`: each output channel has its own coefficients on one shared trunk
    basis (DeepXDE's "split branch" multi-output strategy; with one channel it is the paper's
    network). The trunk maps a point through `depth` hidden layers to `basis` outputs,
    activated as in the paper. Linear layers are initialised like `torch.nn.Linear`; the
    bias starts at zero.

    **Arguments:**

    - `in_channels`, `out_channels`: channels of the input and output functions.
    - `sensors`: sensor points per axis of the nodal sensor grid, e.g. `(32, 32)`; its
        length is the spatial dimension `d`.
    - `width`, `depth`: hidden units and hidden layers of branch and trunk (128, 3).
    - `basis`: trunk basis functions `p` (128).
    - `activation`: `"tanh"`, `"relu"`, `"gelu"`, `"silu"`, `"sin"` or a callable.
    - `key`: a `jax.random.key`; `dtype`: of the parameters.

    **Call:** `(in_channels, *spatial)` at any nodal resolution (≥ 2 points per axis) →
    `(out_channels, *spatial)`; `evaluate(a, points)` with points `(P, d)` → `(out_channels, P)`.

    Darcy configuration (`configs/model/deeponet.yaml`): the 2021 paper has no Darcy example,
    and the DeepONet of the Darcy benchmarks in Lu et al., "A comprehensive and fair comparison
    of two neural operators", CMAME 393 (2022) uses a CNN branch. The shipped configuration
    is therefore not a paper's: an MLP branch on a 32×32 sensor grid (the default experiment's
    training grid), width 128, depth 3, p = 128, tanh — 230,657 parameters for 1 → 1 channels.
    """

    branch: _MLP
    trunk: _MLP
    bias: Float[Array, " out"]
    sensors: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    basis: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        sensors: Sequence[int],
        *,
        width: int = 128,
        depth: int = 3,
        basis: int = 128,
        activation: str | Callable[[Array], Array] = "tanh",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        sensors, act = _check_common(in_channels, out_channels, sensors, width, depth, activation)
        positive_ints(basis=basis)
        m = in_channels * math.prod(sensors)
        hidden = [width] * depth
        self.branch, self.trunk = _MLP.init_many(
            key, act, dtype, [m, *hidden, basis * out_channels], [len(sensors), *hidden, basis]
        )
        self.bias = jnp.asarray(np.zeros(out_channels), dtype)
        self.sensors = sensors
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.basis = basis

    def _expand(self, values, coordinates):
        coefficients = self.branch(values, final_activation=False)
        coefficients = coefficients.reshape(self.out_channels, self.basis)
        basis = self.trunk(coordinates, final_activation=True)  # (basis, P)
        return coefficients @ basis + self.bias[:, None].astype(basis.dtype)


@dataclass
class MultiONetConfig(ModelConfig):
    """`model=multionet`: the arguments of `MultiONet` other than channels and key."""

    name: str = "multionet"
    sensors: list[int] = spec(ge=2, help="sensor points per axis of a nodal grid on [0,1]^d")
    width: int = spec(ge=1, help="hidden units of every layer of branch and trunk")
    depth: int = spec(ge=1, help="hidden layers L of branch and trunk (inner products averaged)")
    activation: str = spec(choices=tuple(ACTIVATIONS), help="activation of both networks")


@register("multionet", MultiONetConfig)
class MultiONet(AbstractSensorOperator):
    """MultiONet (Zang & Koutsourelakis, arXiv:2502.06250):
    `u(x) = (1/L) Σ_{l=1..L} ⟨β⁽ˡ⁾(a), τ⁽ˡ⁾(x)⟩ + bias`.

    Branch (on the `in_channels · Π sensors` sensor values) and trunk (on a point) are MLPs of
    `L = depth` activated hidden layers of `width` units; `β⁽ˡ⁾`, `τ⁽ˡ⁾` are their layer-`l`
    outputs, and there are no output layers. With `out_channels = C > 1` the `width` units of
    each layer are split into `C` consecutive groups and channel `c` averages the inner
    products over group `c` (`width` must be a multiple of `C`); with one channel this is the
    paper's formula. The authors' released code (github.com/yaohua32/DGenNO,
    `Networks/MultiONets.py`) further scales each inner product by a learnable scalar and sums
    only the last 4 of 5 layers; this class is the plain average over all layers.

    **Arguments:** `in_channels`, `out_channels`, `sensors`, `width` (100), `depth` (5),
    `activation`, `key`, `dtype` as for `DeepONet`.

    **Call:** `(in_channels, *spatial)` → `(out_channels, *spatial)`; `evaluate(a, points)`
    with points `(P, d)` → `(out_channels, P)`.

    Darcy configuration (`configs/model/multionet.yaml`): the authors' supervised MultiONet for
    piecewise-constant Darcy flow (29×29 grid, 1000 samples) has branch and trunk of 5 layers
    of 100 units, but its branch input is a 256-feature CNN encoding of the coefficient and its
    activations are custom ("Tanh_Sin" trunk, "SiLU_Id" branch). The shipped configuration
    keeps width 100 and depth 5 with an MLP branch directly on a 32×32 sensor grid (the default
    experiment's training grid) and tanh — an approximation, 183,601 parameters for 1 → 1.
    """

    branch: _MLP
    trunk: _MLP
    bias: Float[Array, " out"]
    sensors: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        sensors: Sequence[int],
        *,
        width: int = 100,
        depth: int = 5,
        activation: str | Callable[[Array], Array] = "tanh",
        key: PRNGKeyArray,
        dtype=jnp.float32,
    ):
        sensors, act = _check_common(in_channels, out_channels, sensors, width, depth, activation)
        if width % out_channels:
            raise ValueError(
                f"MultiONet splits the width={width} hidden units into out_channels="
                f"{out_channels} groups; choose a width that is a multiple of out_channels"
            )
        m = in_channels * math.prod(sensors)
        hidden = [width] * depth
        self.branch, self.trunk = _MLP.init_many(
            key, act, dtype, [m, *hidden], [len(sensors), *hidden]
        )
        self.bias = jnp.asarray(np.zeros(out_channels), dtype)
        self.sensors = sensors
        self.in_channels = in_channels
        self.out_channels = out_channels

    def _expand(self, values, coordinates):
        groups = self.out_channels
        total = 0
        for beta, tau in zip(
            self.branch.hidden(values), self.trunk.hidden(coordinates), strict=True
        ):
            beta = beta.reshape(groups, -1)  # (C, width / C)
            tau = tau.reshape(groups, beta.shape[1], -1)  # (C, width / C, P)
            total = total + jnp.einsum("ck,ckp->cp", beta, tau)
        return total / len(self.branch.weights) + self.bias[:, None].astype(total.dtype)
