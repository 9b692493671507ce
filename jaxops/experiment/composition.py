"""Compose a validated `Config` from `configs/` and overrides, as `jaxops train` does: the same
defaults, experiments and checks, for Python users and tests.

    config = compose(["experiment=darcy_fno", "trainer.epochs=5"])

Overrides of the keys that take a value, a list or a mapping (a PDE parameter: a number, a
sweep or a range; `data.test_params`, `data.path`, `data.test_path`) replace the value the
config files give instead of merging into it (`replacing`): Hydra merges a mapping into a
mapping and refuses a mapping over a list, so `pde.nu={low:0.001,high:0.1}` over the
default `nu: [0.01]` would fail, and `data.test_params={nu:[0.02]}` would add to an
experiment's selection instead of replacing it.
"""

import re
from collections.abc import Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from .. import pde
from .._config import ConfigError
from ..pde.parameters import parameter_fields
from .paths import config_dir
from .schema import Config, config_error, register_configs, validate_config


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> Config:
    """The `Config` of `jaxops train <overrides>` (`config_name="generate"`: of `jaxops
    generate`), typed and range-checked; a `ConfigError` naming the key otherwise."""
    register_configs()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            composed = hydra_compose(config_name=config_name, overrides=replacing(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise config_error(error) from None
    return validate_config(composed)


REPLACED_DATA_KEYS = ("data.test_params", "data.path", "data.test_path")


def replacing(overrides: Sequence[str]) -> list[str]:
    """`overrides` with `key=null` put before each `key={...}` or `key=[...]` of a key that
    takes any value (see the module docstring), so that the new value replaces the old.
    `~experiment` is refused: config.yaml selects the experiment's model sizes by its name."""
    names = {
        f"pde.{n}" for s in pde.registry.PROBLEMS.schemas().values() for n in parameter_fields(s)
    }
    if "~experiment" in overrides:  # the model_for entry of config.yaml interpolates it
        raise ConfigError(
            "~experiment: every run has an experiment; for a model's own configuration on "
            "plain data use experiment=darcy, burgers or navier_stokes"
        )
    out = []
    for override in overrides:
        match = re.fullmatch(r"([\w.]+)=\s*[\[{].*", override, flags=re.S)
        if match and (match[1] in names or match[1] in REPLACED_DATA_KEYS):
            out.append(f"{match[1]}=null")
        out.append(override)
    return out
