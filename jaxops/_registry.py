"""Name → (class, config schema) registries, used by configs to build models and PDE problems.

A registry also loads plugins: every entry point of its group (`jaxops.models`, `jaxops.pde`)
names a module of a third-party package that registers on import with the same decorator as
the built-in classes. They are loaded on the first lookup, so importing jaxops stays cheap
and a plugin may import jaxops itself.
"""

import dataclasses
import importlib.metadata
from collections.abc import Callable
from typing import Any


class UnknownNameError(LookupError):
    """No class is registered under the requested name."""


class PluginError(ImportError):
    """A plugin named by an entry point could not be loaded or registered."""


class Registry:
    """Maps config names to classes and to the dataclass schema of their config group.

    **Arguments:** `kind` (used in messages), `base` (the class every schema must extend),
    `group` (the entry-point group whose modules are imported on the first lookup)."""

    def __init__(self, kind: str, base: type | None = None, group: str | None = None):
        self.kind = kind
        self.base = base
        self.group = group
        self._entries: dict[str, tuple[type, type]] = {}
        self._plugins_loaded = group is None

    def register(self, name: str, schema: type) -> Callable[[Callable], Callable]:
        """Class decorator: make `cls` (a class, or any builder `**config -> object`)
        buildable as `name`, its config checked by `schema` (a dataclass extending the
        registry's base schema)."""
        if self.base is not None and not (
            isinstance(schema, type) and issubclass(schema, self.base)
        ):
            raise TypeError(
                f"the config schema of {self.kind} {name!r} must be a dataclass subclass of "
                f"{self.base.__module__}.{self.base.__name__}, got {schema!r}"
            )

        def decorate(cls: Callable) -> Callable:
            if name in self._entries and self._entries[name][0] is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = (cls, schema)
            return cls

        return decorate

    def load_plugins(self) -> None:
        """Import every module of the entry-point group (once); a failing one is a
        `PluginError` naming the plugin and its distribution."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in importlib.metadata.entry_points(group=self.group):
            try:
                point.load()
            except Exception as error:  # noqa: BLE001 - any failure of third-party code
                where = f" of {point.dist.name}" if point.dist is not None else ""
                raise PluginError(
                    f"{self.kind} plugin {point.name!r}{where} ({point.value}) failed to load: "
                    f"{type(error).__name__}: {error}"
                ) from error

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._entries)

    def _entry(self, name: str) -> tuple[Callable, type]:
        self.load_plugins()
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}"
            )
        return self._entries[name]

    def get(self, name: str) -> Callable:
        return self._entry(name)[0]

    def schema(self, name: str) -> type:
        return self._entry(name)[1]

    def schemas(self) -> dict[str, type]:
        self.load_plugins()
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
