"""`Constrained(model, constraint)`: a model whose output is projected onto a hard constraint,
so the constraint holds exactly (to round-off) for every input, in training and inference.

Constraints (`layers.constraints` does the projecting; gradients flow through it):

- `MassConserving`: `∫ output_c = b_c`, with `b` the integral of the *input* channels
  (a one-step map of a conservative PDE keeps its input's mass) or given constants.
  ProbConserv's update (Hansen et al., "Learning Physical Models that Can Respect
  Conservation Laws", ICML 2023), with uniform or per-point variance.
- `DivergenceFree`: the Leray projection of a periodic velocity output.

The projection acts in the units the model's output is in: wrap a model that maps physical
inputs to physical outputs (e.g. `Constrained(train.load(run), MassConserving())`, or train
with `normalizer="none"`), not one that sees normalised data.
"""

import abc
from collections.abc import Callable, Sequence

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..layers.constraints import GRIDS, integral, leray_projection, mass_projection


class AbstractConstraint(eqx.Module):
    """A projection `constraint(output, input) -> projected output`, one sample each."""

    @abc.abstractmethod
    def __call__(self, output: Array, input: Array) -> Array:
        """Project `output` `(C_out, *spatial)`; `input` `(C_in, *spatial)` may set the target."""


class MassConserving(AbstractConstraint):
    """`∫ output_c dx = b_c` for every output channel.

    **Arguments:**

    - `mass`: `None` (default) to take `b` from the input, or the target integrals (a float
        or one per output channel), fixed.
    - `input_channels`: with `mass=None`, the input channel whose integral each output channel
        gets (default: input channel `c` for output channel `c`).
    - `length`, `grid`: the domain side and `"periodic"` (`x_i = i L/n`) or `"nodal"`
        (boundary nodes included, trapezoid rule).
    - `variance`: `None` (uniform: a constant shift per channel) or a fixed diagonal variance
        broadcastable to the output, ≥ 0; zero keeps a point (e.g. Dirichlet boundary
        nodes) unchanged. It is held constant (no gradient flows into it).
    """

    mass: tuple[float, ...] | None = eqx.field(static=True)
    input_channels: tuple[int, ...] | None = eqx.field(static=True)
    length: float = eqx.field(static=True)
    grid: str = eqx.field(static=True)
    variance: Array | None

    def __init__(
        self,
        mass: float | Sequence[float] | None = None,
        *,
        input_channels: Sequence[int] | None = None,
        length: float = 1.0,
        grid: str = "periodic",
        variance: Array | None = None,
    ):
        if grid not in GRIDS:
            raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
        if not length > 0:
            raise ValueError(f"length (the domain side) must be positive, got {length!r}")
        if mass is not None and input_channels is not None:
            raise ValueError("give either mass (fixed targets) or input_channels, not both")
        if mass is None:
            self.mass = None
        else:
            self.mass = (float(mass),) if np.ndim(mass) == 0 else tuple(map(float, mass))
        self.input_channels = None if input_channels is None else tuple(map(int, input_channels))
        self.length, self.grid = float(length), grid
        self.variance = None if variance is None else jnp.asarray(variance)

    def target(self, output: Array, input: Array) -> Array:
        """The target integrals `(C_out,)`."""
        c_out = output.shape[0]
        if self.mass is not None:
            if len(self.mass) not in (1, c_out):
                raise ValueError(
                    f"mass has {len(self.mass)} values for an output of {c_out} channels"
                )
            return jnp.broadcast_to(jnp.asarray(self.mass, output.dtype), (c_out,))
        channels = self.input_channels or tuple(range(c_out))
        if len(channels) != c_out or max(channels) >= input.shape[0] or min(channels) < 0:
            raise ValueError(
                f"input_channels {channels} must name one of the input's {input.shape[0]} "
                f"channels for each of the output's {c_out}; pass input_channels=(...)"
            )
        if input.shape[1:] != output.shape[1:]:
            raise ValueError(
                f"input grid {input.shape[1:]} differs from output grid {output.shape[1:]}: "
                "the input's mass cannot be taken; pass mass=... instead"
            )
        mass = integral(input[jnp.asarray(channels)], self.length, self.grid)
        return mass.astype(output.dtype)

    def __call__(self, output: Array, input: Array) -> Array:
        variance = None if self.variance is None else lax.stop_gradient(self.variance)
        return mass_projection(
            output,
            self.target(output, input),
            length=self.length,
            grid=self.grid,
            variance=variance,
        )


class DivergenceFree(AbstractConstraint):
    """The output is a periodic velocity `(d, *spatial)` on `[0, length)^d`: replace it by its
    divergence-free part (Leray projection, mean flow kept). **Arguments:** `length`."""

    length: float = eqx.field(static=True)

    def __init__(self, length: float = 1.0):
        if not length > 0:
            raise ValueError(f"length (the domain side) must be positive, got {length!r}")
        self.length = float(length)

    def __call__(self, output: Array, input: Array) -> Array:
        return leray_projection(output, self.length)


class Constrained(eqx.Module):
    """`constraint(model(x, *args), x)`: any single-sample model with a hard constraint on
    its output.

    **Arguments:** `model` (a callable module `(C_in, *spatial)` → `(C_out, *spatial)`; extra
    call arguments such as a lead time are passed through), `constraint` (an
    `AbstractConstraint`: `MassConserving`, `DivergenceFree`).

    **Call:** `x` `(C_in, *spatial)` → `(C_out, *spatial)`. Works under `jit`, `vmap` and
    `grad` like the wrapped model.
    """

    model: Callable
    constraint: AbstractConstraint

    def __call__(self, x: Float[Array, " C_in *spatial"], *args) -> Float[Array, " C_out *spatial"]:
        return self.constraint(self.model(x, *args), x)
