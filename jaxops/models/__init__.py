"""Neural operators (equinox modules), single sample `(C, *spatial)`; batch with `jax.vmap`.

`build(name, **kwargs)` constructs a model by the name its config uses (`configs/model/`).
A new model is one module here (found by discovery, no edit of this file) registering with
`@register(name, ConfigClass)`, plus optionally a yaml; plug-ins from other packages use the
entry-point group `jaxops.models` (see the README).
"""

import importlib as _importlib
import pkgutil as _pkgutil

from .conditioned import ParameterConditioned as ParameterConditioned
from .conditioned import TimeConditionedFNO as TimeConditionedFNO
from .constrained import AbstractConstraint as AbstractConstraint
from .constrained import Constrained as Constrained
from .constrained import DivergenceFree as DivergenceFree
from .constrained import MassConserving as MassConserving
from .deeponet import DeepONet as DeepONet
from .deeponet import MultiONet as MultiONet
from .film import FiLMConditioned as FiLMConditioned
from .fno import FNO as FNO
from .fno import FNOConfig as FNOConfig
from .lsm import LSM as LSM
from .mgno import MgNO as MgNO
from .registry import MODELS as MODELS
from .registry import ModelConfig as ModelConfig
from .registry import build as build
from .registry import config_kwargs as config_kwargs
from .registry import register as register
from .unet import UNet as UNet

for _module in _pkgutil.iter_modules(__path__):  # every model module registers on import
    _importlib.import_module(f"{__name__}.{_module.name}")
