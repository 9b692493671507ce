"""The model registry: config names → operator classes (`models.build("fno", ...)`)."""

from dataclasses import dataclass

from omegaconf import MISSING

from .._registry import Registry

MODELS = Registry("model")
register = MODELS.register


@dataclass
class ModelConfig:
    """Base schema of the `model` config group; each model extends it with its arguments."""

    name: str = MISSING


build = MODELS.build
config_kwargs = MODELS.config_kwargs
