"""Neural operators (equinox modules), single sample `(C, *spatial)`; batch with `jax.vmap`.

`build(name, **kwargs)` constructs a model by the name its config uses (`configs/model/`).
"""

from .conditioned import ParameterConditioned as ParameterConditioned
from .conditioned import TimeConditionedFNO as TimeConditionedFNO
from .constrained import AbstractConstraint as AbstractConstraint
from .constrained import Constrained as Constrained
from .constrained import DivergenceFree as DivergenceFree
from .constrained import MassConserving as MassConserving
from .deeponet import DeepONet as DeepONet
from .deeponet import MultiONet as MultiONet
from .fno import FNO as FNO
from .fno import FNOConfig as FNOConfig
from .lsm import LSM as LSM
from .mgno import MgNO as MgNO
from .registry import MODELS as MODELS
from .registry import ModelConfig as ModelConfig
from .registry import build as build
from .registry import config_kwargs as config_kwargs
from .unet import UNet as UNet
