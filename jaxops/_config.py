"""Structured-config helpers: declare a field's valid range once, check a whole config tree.

Config schemas are dataclasses (stored in Hydra's ConfigStore by
`jaxops.experiment.schema`). Types and unknown keys are checked by OmegaConf when configs are
composed; ranges and choices are declared with `spec(...)` and checked by `validate`, which
names the full dotted key.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from omegaconf import MISSING


class ConfigError(ValueError):
    """A configuration value is missing, misspelled, of the wrong type or out of range."""


def spec(
    default: Any = MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple | None = None,
    help: str = "",
) -> Any:
    """A dataclass field with a declared valid range (`ge`, `gt`, `le`) or set of `choices`."""
    metadata = {"ge": ge, "gt": gt, "le": le, "choices": choices, "help": help}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _violation(value: Any, meta: Mapping) -> str | None:
    """Why `value` (a value, a list of values, or a range `{low, high}` checked at both ends)
    breaks the field's declared range or choices; None if it does not. Values of another
    type are left to the field's own check."""
    if isinstance(value, Mapping):
        value = [value.get("low"), value.get("high")]
    values = value if isinstance(value, list | tuple) else [value]
    for v in values:
        if v is None or (meta.get("choices") is None and not isinstance(v, int | float)):
            continue
        if meta.get("choices") is not None and v not in meta["choices"]:
            return f"must be one of {list(meta['choices'])}"
        if meta.get("ge") is not None and v < meta["ge"]:
            return f"must be >= {meta['ge']}"
        if meta.get("gt") is not None and v <= meta["gt"]:
            return f"must be > {meta['gt']}"
        if meta.get("le") is not None and v > meta["le"]:
            return f"must be <= {meta['le']}"
    return None


def validate(obj: Any, path: str = "") -> None:
    """Check every `spec` field of a dataclass tree; raise `ConfigError` naming the key."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            validate(value, key)
            continue
        problem = _violation(value, f.metadata)
        if problem is not None:
            hint = f" ({f.metadata['help']})" if f.metadata.get("help") else ""
            raise ConfigError(f"{key}={value!r} is invalid: it {problem}{hint}")
    check = getattr(obj, "check", None)
    if callable(check):
        check(path)
