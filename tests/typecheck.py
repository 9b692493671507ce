"""The runtime type checker of the suite: jaxtyping's import hook (`--jaxtyping-packages`)
checks every annotated function and dataclass of `jaxops` with beartype. Python's numeric
tower applies (an int is a float), as it does for the type checkers the annotations are
written for."""

import dataclasses
import typing

import equinox as eqx
import jaxtyping
from beartype import BeartypeConf, beartype
from beartype.door import is_bearable

CONF = BeartypeConf(is_pep484_tower=True)
checker = beartype(conf=CONF)


def field_violations(tree, path: str = "model") -> list[str]:
    """The fields of every equinox module in `tree` whose value breaks the field's annotation.
    The import hook checks the arguments of a constructor, not the fields a custom `__init__`
    computes, so these are checked here; array dimensions bind per module."""
    found = []
    if isinstance(tree, eqx.Module):
        hints = typing.get_type_hints(type(tree), include_extras=True)
        with jaxtyping.jaxtyped("context"):
            for field in dataclasses.fields(tree):
                value, hint = getattr(tree, field.name), hints.get(field.name)
                if hint is not None and not is_bearable(value, hint, conf=CONF):
                    shape = getattr(value, "shape", "")
                    found.append(f"{path}.{field.name} = {type(value).__name__}{shape}: {hint}")
        children = {f.name: getattr(tree, f.name) for f in dataclasses.fields(tree)}
    elif isinstance(tree, list | tuple):
        children = dict(enumerate(tree))
    elif isinstance(tree, dict):
        children = tree
    else:
        return found
    for name, child in children.items():
        found += field_violations(child, f"{path}.{name}")
    return found
