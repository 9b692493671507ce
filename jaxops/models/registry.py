"""The model registry: config names → operator classes (`models.build("fno", ...)`).

A model registers with `@register(name, ConfigClass)`, `ConfigClass` a dataclass extending
`ModelConfig`. Built-in models are the modules of this package, imported by discovery;
third-party packages add theirs through the entry-point group `jaxops.models`.
"""

from dataclasses import dataclass

from omegaconf import MISSING

from .._registry import Registry


@dataclass
class ModelConfig:
    """Base schema of the `model` config group; each model extends it with its arguments."""

    name: str = MISSING


MODELS = Registry("model", base=ModelConfig, group="jaxops.models")
register = MODELS.register


build = MODELS.build
config_kwargs = MODELS.config_kwargs
