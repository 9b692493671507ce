"""The model registry: config names → operator classes (`models.build("fno", ...)`)."""

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from .._registry import Registry

MODELS = Registry("model")
register = MODELS.register


@dataclass
class ModelConfig:
    """Base schema of the `model` config group; each model extends it with its arguments."""

    name: str = MISSING


def build(name: str, **kwargs: Any) -> Any:
    """Build a registered model by name, e.g. `build("fno", in_channels=1, ..., key=key)`."""
    return MODELS.build(name, **kwargs)


def config_kwargs(config: ModelConfig) -> dict[str, Any]:
    """Constructor keyword arguments from a model config (its fields except `name`)."""
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    fields.pop("name")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
