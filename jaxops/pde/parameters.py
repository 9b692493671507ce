"""Physical parameters of `pde=<equation>` configs: how each one varies over a dataset.

A parameter is given as
- a list, `nu: [0.005, 0.01, 0.02]`: a sweep; sample i takes combination `i mod count` of
  the Cartesian product of all listed parameters (every combination equally often);
- a range, `nu: {low: 1e-3, high: 1e-1, log: true}`: drawn per sample, uniformly (or
  log-uniformly) in `[low, high)`, from the sample's own key, so a dataset does not depend
  on how it is chunked or split over devices.

Both kinds are recorded, in config order, in each sample's `params` (and their names in the
file's `param_names`). A single number is a constant and is not recorded.
"""

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray
from omegaconf import MISSING

from .._config import ConfigError, spec

# The annotation of a parameter field in a config schema: a number, a list or a range.
Parameter = Any
RANGE_KEYS = frozenset({"low", "high", "log"})


class Range(NamedTuple):
    """A parameter drawn per sample in `[low, high)`, log-uniformly if `log`."""

    low: float
    high: float
    log: bool = False

    def draw(self, key: PRNGKeyArray) -> Array:
        if self.log:
            value = jr.uniform(key, minval=jnp.log(self.low), maxval=jnp.log(self.high))
            return jnp.exp(value)
        return jr.uniform(key, minval=self.low, maxval=self.high)


def parameter(default: Any = MISSING, *, help: str = "", **bounds: Any) -> Any:
    """A config field for a physical parameter (a number, a sweep or a range), its valid
    values declared as with `spec` (`ge`, `gt`, `le`); its form is checked by `parse`."""
    field = spec(default, help=f"{help}: a list sweeps it, {{low, high, log}} draws it per sample",
                 **bounds)  # fmt: skip
    field.metadata = MappingProxyType({**field.metadata, "parameter": True})
    return field


def parameter_fields(schema: Any) -> list[str]:
    """The names of the parameter fields of a config dataclass."""
    return [f.name for f in dataclasses.fields(schema) if f.metadata.get("parameter")]


def parse(key: str, value: Any) -> float | tuple[float, ...] | Range:
    """A parameter's config value as a constant, a sweep (tuple) or a `Range`; a
    `ConfigError` naming `key` and the accepted forms otherwise."""
    number = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
    if number(value):
        return float(value)
    if isinstance(value, list | tuple) and value and all(map(number, value)):
        return tuple(float(v) for v in value)
    if isinstance(value, Mapping) and {"low", "high"} <= set(value) <= RANGE_KEYS:
        low, high, log = value["low"], value["high"], value.get("log", False)
        if number(low) and number(high) and isinstance(log, bool) and low < high:
            if log and low <= 0:
                raise ConfigError(f"{key}={dict(value)}: log: true needs low > 0")
            return Range(float(low), float(high), log)
    raise ConfigError(
        f"{key}={value!r} is invalid: give a number, a list of numbers (a sweep) or a range "
        f"{{low: a, high: b, log: false}} with a < b (drawn per sample), e.g. "
        f"{key}={{low:0.001,high:0.1,log:true}}"
    )
