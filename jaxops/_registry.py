"""Name → (class, config schema) registries, used by configs to build models and PDE problems."""

import dataclasses
from collections.abc import Callable
from typing import Any


class UnknownNameError(LookupError):
    """No class is registered under the requested name."""


class Registry:
    """Maps config names to classes and to the dataclass schema of their config group."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[type, type]] = {}

    def register(self, name: str, schema: type) -> Callable[[type], type]:
        """Class decorator: make `cls` buildable as `name`, its config checked by `schema`."""

        def decorate(cls: type) -> type:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = (cls, schema)
            return cls

        return decorate

    def names(self) -> list[str]:
        return sorted(self._entries)

    def _entry(self, name: str) -> tuple[type, type]:
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}"
            )
        return self._entries[name]

    def get(self, name: str) -> type:
        return self._entry(name)[0]

    def schema(self, name: str) -> type:
        return self._entry(name)[1]

    def schemas(self) -> dict[str, type]:
        return {name: schema for name, (_, schema) in self._entries.items()}

    def build(self, name: str, **kwargs: Any) -> Any:
        """Construct the class registered as `name` with keyword arguments."""
        return self.get(name)(**kwargs)

    @staticmethod
    def config_kwargs(config: Any) -> dict[str, Any]:
        """Constructor keyword arguments from a config node (its fields except `name`;
        lists become tuples)."""
        fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        fields.pop("name")
        return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
