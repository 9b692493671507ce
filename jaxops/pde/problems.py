"""Trajectory datasets of time-dependent equations: random initial conditions, parameter
sweeps, `simulate`, all vmapped over samples.

A `pde=<equation>` config (`configs/pde/`) builds a `TrajectoryProblem`. Physical parameters
given as lists are sweeps: sample i uses combination `i mod count` of their Cartesian
product (so every combination appears equally often); parameters given as ranges
`{low, high, log}` are drawn per sample (`parameters`). Either way they are passed through
the equation's constructor — a vmap over constructors — and recorded in the sample's
`params`.
"""

import dataclasses
import inspect
import itertools
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray
from omegaconf import MISSING

from .._config import ConfigError, spec
from .integrate import SOLVERS, simulate
from .parameters import Range, parameter_fields, parse
from .random_fields import fourier_series, periodic_grf, random_steps, threshold
from .registry import PROBLEMS, ProblemConfig, TrajectorySample

INITIAL_KINDS = ("grf", "fourier", "steps", "blobs")
PARAMS_STREAM = 0x706172  # folded into a sample's key for its parameter draws


@dataclass
class InitialConfig:
    """Random initial conditions, per channel `offset + scale · field`."""

    kind: str = spec(
        "grf",
        choices=INITIAL_KINDS,
        help="grf (periodic Gaussian field), fourier (sine series), steps "
        "(piecewise constant, 1D), blobs (thresholded field: 0 or 1)",
    )
    alpha: float = spec(2.5, gt=0.0, help="grf/blobs: smoothness exponent")
    tau: float = spec(7.0, gt=0.0, help="grf/blobs: inverse length scale")
    sigma: float = spec(7.0**0.75, gt=0.0, help="grf: standard deviation factor")
    n_waves: int = spec(2, ge=1, help="fourier: number of sine waves")
    max_wavenumber: int = spec(4, ge=1, help="fourier: largest integer wavenumber")
    n_steps: int = spec(4, ge=1, help="steps: number of constant pieces")
    offset: list[float] = spec([0.0], help="per channel (or one value for all)")
    scale: list[float] = spec([1.0], help="per channel (or one value for all)")


class InitialCondition(eqx.Module):
    """Draws `(C, *grid)` initial conditions from an `InitialConfig`."""

    kind: str = eqx.field(static=True)
    alpha: float
    tau: float
    sigma: float
    n_waves: int = eqx.field(static=True)
    max_wavenumber: int = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    offset: tuple = eqx.field(static=True)
    scale: tuple = eqx.field(static=True)

    def field(self, key: PRNGKeyArray, shape: tuple[int, ...], length: float) -> Array:
        if self.kind == "grf":
            return periodic_grf(key, shape, self.alpha, self.tau, sigma=self.sigma, length=length)
        if self.kind == "fourier":
            return fourier_series(key, shape, self.n_waves, self.max_wavenumber, length=length)
        if self.kind == "steps":
            if len(shape) != 1:
                raise ValueError("initial kind 'steps' is one-dimensional; use 'blobs' in 2D/3D")
            return random_steps(key, shape[0], self.n_steps)
        g = periodic_grf(key, shape, self.alpha, self.tau, length=length)
        return threshold(g, 1.0, 0.0)

    def __call__(self, key: PRNGKeyArray, channels: int, shape: tuple, length: float) -> Array:
        per_channel = lambda values: jnp.broadcast_to(
            jnp.asarray(values, jnp.float32), (channels,)
        ).reshape((-1,) + (1,) * len(shape))
        fields = jnp.stack([self.field(k, shape, length) for k in jr.split(key, channels)])
        return per_channel(self.offset) + per_channel(self.scale) * fields


@dataclass
class TrajectoryConfig(ProblemConfig):
    """Common schema of `pde=<equation>`; each equation adds its physical parameters
    (lists are sweeps)."""

    dim: int = spec(MISSING, ge=1, le=3, help="spatial dimension (grid: data.resolution^dim)")
    length: float = spec(MISSING, gt=0.0, help="side of the domain")
    bc: str | None = spec(
        None,
        choices=("periodic", "dirichlet", "neumann"),
        help="boundary condition, for equations that offer a choice",
    )
    initial: InitialConfig = dataclasses.field(default_factory=InitialConfig)
    t_end: float = spec(MISSING, gt=0.0, help="time span recorded")
    n_times: int = spec(MISSING, ge=2, help="saved states, t = 0 (after t_skip) included")
    t_skip: float = spec(0.0, ge=0.0, help="time simulated before recording (transients)")
    solver: str = spec("etdrk4", choices=tuple(SOLVERS))
    dt: float | None = spec(None, gt=0.0, help="fixed step (etdrk4 needs it); null: adaptive")
    rtol: float | None = spec(None, gt=0.0, help="adaptive tolerance; null: dtype default")

    def check(self, key: str) -> None:
        for name in parameter_fields(self):
            parse(f"{key}.{name}", getattr(self, name))
        if self.solver == "etdrk4" and self.dt is None:
            raise ConfigError(f"{key}.solver=etdrk4 takes fixed steps: set {key}.dt")


class TrajectoryProblem(eqx.Module):
    """Samples `(T, C, *grid)` trajectories of an equation from random initial conditions.

    **Arguments:** `equation_cls`; `n` (grid shape); `fixed` (constructor keywords that do
    not vary); `param_names` (the varying parameters, in config order: a sample's `params`);
    `swept` and `table` (`(combinations, len(swept))`, the sweep); `ranges` (`(name, Range)`
    pairs, drawn per sample); `initial`; `ts` (save times, after `t_skip`); `t_skip`;
    `solver`, `dt`, `rtol`.
    """

    equation_cls: type = eqx.field(static=True)
    n: tuple[int, ...] = eqx.field(static=True)
    fixed: tuple = eqx.field(static=True)  # sorted (name, value) pairs
    param_names: tuple[str, ...] = eqx.field(static=True)
    swept: tuple[str, ...] = eqx.field(static=True)
    table: Array
    ranges: tuple[tuple[str, Range], ...] = eqx.field(static=True)
    initial: InitialCondition
    ts: tuple[float, ...] = eqx.field(static=True)
    t_skip: float = eqx.field(static=True)
    solver: str = eqx.field(static=True)
    dt: float | None = eqx.field(static=True)
    rtol: float | None = eqx.field(static=True)

    @property
    def grid_kind(self) -> str:
        return self.equation(self.params(jr.key(0))).grid.kind

    @property
    def channel_names(self) -> dict[str, tuple[str, ...]]:
        return {"trajectories": self.equation(self.params(jr.key(0))).channel_names}

    def equation(self, params: Array):
        return self.equation_cls(
            self.n, **dict(self.fixed), **dict(zip(self.param_names, params, strict=True))
        )

    def params(self, key: PRNGKeyArray, index: ArrayLike = 0) -> Array:
        """The parameters `(P,)` of sample `index` drawn with `key`: its sweep combination
        and its draws from the ranges (from a key of their own, so the initial condition is
        the one it would be without ranges)."""
        values = dict(zip(self.swept, self.table[index % len(self.table)], strict=True))
        keys = jr.split(jr.fold_in(key, PARAMS_STREAM), max(len(self.ranges), 1))
        for (name, span), k in zip(self.ranges, keys, strict=False):
            values[name] = span.draw(k)
        return jnp.stack([values[n] for n in self.param_names]) if values else self.table[0]

    def coords(self) -> dict[str, Array]:
        grid = self.equation(self.params(jr.key(0))).grid
        return {**{f"x{i}": c for i, c in enumerate(grid.coords())}, "t": jnp.asarray(self.ts)}

    def sample(self, key: PRNGKeyArray, index: ArrayLike = 0) -> TrajectorySample:
        params = self.params(key, index)
        equation = self.equation(params)
        grid = equation.grid
        u0 = self.initial(key, equation.channels, grid.shape, grid.length)
        if grid.kind == "nodal":  # fields vanish where the boundary condition says so
            u0 = grid.from_spectral(grid.to_spectral(u0))
        times = np.asarray(self.ts)
        if self.t_skip:
            times = np.concatenate([[0.0], self.t_skip + times])
        trajectory = simulate(equation, u0, times, solver=self.solver, dt=self.dt, rtol=self.rtol)
        return TrajectorySample(trajectory[-len(self.ts) :], params)


def build_trajectory_problem(
    equation_cls: type, n: int, parameters: tuple[str, ...] = (), **config: Any
) -> TrajectoryProblem:
    """A `TrajectoryProblem` from a `TrajectoryConfig`'s fields and the points per axis `n`;
    `parameters`: the fields that are physical parameters (a number, a sweep or a range)."""
    dim = config.pop("dim")
    initial = InitialCondition(
        **{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in dict(config.pop("initial")).items()
        }
    )
    t_end, n_times = config.pop("t_end"), config.pop("n_times")
    t_skip = config.pop("t_skip")
    solver, dt, rtol = config.pop("solver"), config.pop("dt"), config.pop("rtol")
    bc = config.pop("bc", None)
    if bc is not None:
        if "bc" not in inspect.signature(equation_cls).parameters:
            raise ConfigError(
                f"pde.bc={bc}: {equation_cls.__name__} is periodic only; set pde.bc=null"
            )
        config["bc"] = bc
    forms = {k: parse(f"pde.{k}", config[k]) for k in parameters if k in config}
    varying = {k: v for k, v in forms.items() if not isinstance(v, float)}
    config.update({k: v for k, v in forms.items() if isinstance(v, float)})
    ranges = tuple((k, v) for k, v in varying.items() if isinstance(v, Range))
    swept = {k: v for k, v in varying.items() if not isinstance(v, Range)}
    fixed = tuple(sorted((k, v) for k, v in config.items() if k not in varying))
    table = np.array(list(itertools.product(*swept.values())) or [()], dtype=np.float32)
    ts = tuple(float(t) for t in np.linspace(0.0, t_end, n_times))
    return TrajectoryProblem(
        equation_cls,
        (n,) * dim,
        fixed,
        tuple(varying),
        tuple(swept),
        jnp.asarray(table),
        ranges,
        initial,
        ts,
        t_skip,
        solver,
        dt,
        rtol,
    )


def register_equation(name: str, equation_cls: type, schema: type) -> None:
    """Make `pde=<name>` generate trajectories of `equation_cls` configured by `schema`."""
    names = tuple(parameter_fields(schema))
    builder = lambda n, **config: build_trajectory_problem(equation_cls, n, names, **config)
    PROBLEMS.register(name, schema)(builder)
