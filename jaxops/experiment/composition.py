"""Compose a validated `Config` from `configs/` and overrides, as `jaxops train` does: the same
defaults, experiments and checks, for Python users and tests.

    config = compose(["experiment=darcy_fno", "trainer.epochs=5"])
"""

from collections.abc import Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from .paths import config_dir
from .schema import Config, config_error, register_configs, validate_config


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> Config:
    """The `Config` of `jaxops train <overrides>` (`config_name="generate"`: of `jaxops
    generate`), typed and range-checked; a `ConfigError` naming the key otherwise."""
    register_configs()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            composed = hydra_compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise config_error(error) from None
    return validate_config(composed)
