"""From a validated `Config` to the objects the commands use: problem, dataset, model."""

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from omegaconf import OmegaConf
from rich.console import Console

from .. import models, pde
from .._config import ConfigError
from ..data.generate import generate_dataset
from ..data.store import Dataset, DatasetError, load, read_attrs, read_shapes, subsampled
from .schema import Config


def problem(config: Config) -> Any:
    """The dataset-generating problem of `config.pde` at `config.data.resolution`."""
    kwargs = pde.registry.config_kwargs(config.pde)
    return pde.build(config.pde.name, n=config.data.resolution, **kwargs)


def generating_config(config: Config) -> dict[str, Any]:
    """The part of the config that determines a dataset file's contents."""
    data = config.data
    return {
        "pde": dataclasses.asdict(config.pde),
        "data": {"n_samples": data.n_samples, "resolution": data.resolution, "seed": data.seed},
    }


def dataset_path(config: Config) -> Path:
    """`data.path` if given, else a cache file named by a hash of the generating config."""
    if config.data.path:
        return Path(config.data.path)
    spec = generating_config(config)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    data = config.data
    name = f"{config.pde.name}_n{data.resolution}_N{data.n_samples}_seed{data.seed}_{digest}.h5"
    return Path(config.data.dir) / name


def ensure_dataset(config: Config, console: Console) -> Path:
    """The dataset file for `config`, generated first if it does not exist yet."""
    path = dataset_path(config)
    if path.exists():
        console.print(f"dataset: {path} (exists)")
        return path
    if config.data.path:
        raise FileNotFoundError(
            f"data.path={path} does not exist; drop data.path to generate "
            "the dataset from the pde and data configs"
        )
    console.print(
        f"dataset: generating {config.data.n_samples} samples of "
        f"{config.pde.name} at {config.data.resolution} points per axis"
    )
    yaml = OmegaConf.to_yaml(OmegaConf.create(generating_config(config)))
    generate_dataset(
        problem(config),
        path,
        config.data.n_samples,
        seed=config.data.seed,
        chunk_size=config.data.chunk_size,
        config_yaml=yaml,
        progress=config.trainer.progress,
    )
    console.print(f"dataset: written to {path}")
    return path


def load_splits(config: Config, path: Path) -> tuple[Dataset, Dataset]:
    """(train, test): the first `n_samples - n_test` samples and the last `n_test`."""
    data = config.data
    full = load(path, subsample=data.subsample, samples=slice(0, data.n_samples))
    if len(full) < data.n_samples:
        raise DatasetError(
            f"{path} holds {len(full)} samples but data.n_samples="
            f"{data.n_samples}; lower data.n_samples or use another file"
        )
    return full.split(data.n_train)


def build_model(config: Config, in_channels: int, out_channels: int) -> Any:
    """The network of `config.model`, initialised from `config.seed`."""
    kwargs = models.config_kwargs(config.model)
    key = jr.fold_in(jr.key(config.seed), 0)
    return models.build(
        config.model.name, in_channels=in_channels, out_channels=out_channels, key=key, **kwargs
    )


def dataset_names(path: Path) -> tuple[str, str]:
    """Display names of the input and output channels of a dataset file."""
    attrs = read_attrs(path)
    names = lambda key, default: ", ".join(attrs.get(key) or []) or default
    return names("inputs_channels", "input"), names("outputs_channels", "output")


def sample_shapes(config: Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of one input and one target at the training grid, without generating data."""
    if config.data.path and Path(config.data.path).exists():
        stored = read_shapes(config.data.path)
        grid = read_attrs(config.data.path).get("grid", "nodal")
    else:
        built = problem(config)
        sample = jax.eval_shape(built.sample, jr.key(0), 0)
        stored = {k: v.shape for k, v in sample._asdict().items()}
        grid = built.grid_kind
    if "inputs" not in stored:
        raise ConfigError(
            f"pde={config.pde.name} holds {sorted(stored)}, not (inputs, outputs) pairs: "
            "`jaxops train` fits operators on pairs such as pde=darcy; create trajectory "
            f"datasets with `jaxops generate pde={config.pde.name}`"
        )
    shapes = stored["inputs"], stored["outputs"]
    try:
        return tuple(
            (s[0], *(subsampled(n, config.data.subsample, grid) for n in s[1:])) for s in shapes
        )
    except DatasetError as error:
        raise ConfigError(f"data.subsample={config.data.subsample}: {error}") from None


def check_model_applies(model: Any, input_shape: tuple, output_shape: tuple, what: str) -> None:
    """Apply `model` abstractly (no compute) to one input; raise `ConfigError` if it cannot be
    applied or returns the wrong shape, e.g. too many Fourier modes for the grid."""
    try:
        out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct(input_shape, jnp.float32))
    except TypeError as error:
        raise ConfigError(
            f"{what} takes more than the input field ({error}): conditioned models (cape, "
            "time_fno) need PDE parameters or a lead time per sample, which `jaxops train` "
            "does not provide yet; train them from Python"
        ) from None
    except ValueError as error:
        raise ConfigError(
            f"{what} cannot be applied to inputs of shape {input_shape} (channels, *grid): {error}"
        ) from None
    if out.shape != output_shape:
        raise ConfigError(
            f"{what} maps inputs {input_shape} to {out.shape}, but the targets "
            f"have shape {output_shape}"
        )


def check_model_fits_data(config: Config) -> None:
    """Build `config.model` abstractly and apply it to a training-grid sample, before any data
    are generated."""
    input_shape, output_shape = sample_shapes(config)
    try:
        network = eqx.filter_eval_shape(build_model, config, input_shape[0], output_shape[0])
    except ValueError as error:
        raise ConfigError(f"model={config.model.name}: {error}") from None
    check_model_applies(network, input_shape, output_shape, f"model={config.model.name}")
