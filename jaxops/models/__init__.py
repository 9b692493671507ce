"""Neural operators (equinox modules), single sample `(C, *spatial)`; batch with `jax.vmap`.

`build(name, **kwargs)` constructs a model by the name its config uses (`configs/model/`).
"""

from .fno import FNO as FNO
from .fno import FNOConfig as FNOConfig
from .registry import MODELS as MODELS
from .registry import ModelConfig as ModelConfig
from .registry import build as build
from .registry import config_kwargs as config_kwargs
