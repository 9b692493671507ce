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
import numpy as np
from omegaconf import OmegaConf
from rich.console import Console

from .. import models, pde
from .._config import ConfigError
from ..data import formats
from ..data.generate import generate_dataset
from ..data.held_out import held_out_mask
from ..data.store import (
    Dataset,
    DatasetError,
    load,
    read_attrs,
    read_shapes,
    sample_count,
    subsampled,
)
from ..data.stream import ChunkedArrays
from ..parallel import config as parallel_config
from ..parallel import is_primary
from ..train import checkpoint, conditions, finetune
from ..train.physics import problem_physics
from ..train.temporal import check_mode, check_model, input_channels
from .schema import Config


def problem(config: Config) -> Any:
    """The dataset-generating problem of `config.pde` at `config.data.resolution`."""
    kwargs = pde.registry.config_kwargs(config.pde)
    return pde.build(config.pde.name, n=config.data.resolution, **kwargs)


def physics_options(config: Config) -> dict[str, Any]:
    """`train.fit`'s physics arguments from `trainer.physics` (PINO): the residual the
    `pde` problem owns (`residual(input, output)`, e.g. Darcy's with its forcing), on the
    training grid (`data.subsample` keeps the boundary nodes, so the grid spacing is known);
    `{}` when the weight is 0."""
    settings = config.trainer.physics
    if not settings.active:
        return {}
    try:
        residual = problem_physics(
            problem(config), norm=settings.norm, boundary_weight=settings.boundary_weight
        )
    except ValueError as error:
        raise ConfigError(
            f"trainer.physics: pde={config.pde.name}: {error}; set trainer.physics.weight=0, "
            "or pass physics=... to jaxops.train.fit (e.g. jaxops.train.physics.time_residual "
            "for time-dependent equations)"
        ) from None
    return dict(physics=residual, physics_weight=settings.weight, data_weight=settings.data_weight)


def generating_config(config: Config) -> dict[str, Any]:
    """The part of the config that determines a dataset file's contents."""
    data = config.data
    return {
        "pde": dataclasses.asdict(config.pde),
        "data": {"n_samples": data.n_samples, "resolution": data.resolution, "seed": data.seed},
    }


def dataset_path(config: Config) -> Path:
    """The jaxops file of `data.path` (PDEBench, The Well and FNO `.mat` files, and lists of
    files, converted once into `data.dir`: `data.formats.prepare`), else the file of generated data,
    named by a hash of the generating config."""
    files = config.data.files("path")
    if files:
        return formats.prepare(files, config.data.dir)
    spec = generating_config(config)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    data = config.data
    name = f"{config.pde.name}_n{data.resolution}_N{data.n_samples}_seed{data.seed}_{digest}.h5"
    return Path(config.data.dir) / name


def test_dataset_path(config: Config) -> Path | None:
    """The jaxops file of `data.test_path` (converted as `data.path` is), or None."""
    files = config.data.files("test_path")
    return formats.prepare(files, config.data.dir) if files else None


def counted(config: Config) -> Config:
    """`config` with `data.n_samples` set to what `data.path` holds where it is null."""
    data = config.data
    if data.n_samples is not None:
        return config
    if not data.path:
        raise ConfigError(
            "data.n_samples=null means every sample of data.path, but no data.path is given; "
            "set data.n_samples to generate a dataset"
        )
    n = sample_count(dataset_path(config))
    return dataclasses.replace(config, data=dataclasses.replace(data, n_samples=n))


def ensure_dataset(config: Config, console: Console) -> Path:
    """The dataset file for `config`, generated first if it does not exist yet."""
    path = dataset_path(config)
    if config.data.path:  # the file, or its copy converted by dataset_path
        files = config.data.files("path")
        origin = "" if [str(path)] == files else f" (converted from {', '.join(files)})"
        console.print(f"dataset: {path}{origin}")
        return path
    if path.exists():
        console.print(f"dataset: {path} (exists)")
        return path
    parallel = parallel_config.build(config.parallel)
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
        progress=config.trainer.progress and is_primary(),
        mesh=None if parallel is None else parallel.mesh,
    )
    console.print(f"dataset: written to {path}")
    return path


def load_splits(
    config: Config,
    path: Path,
    subsample: int | None = None,
    stream: bool = False,
    lazy: bool = False,
) -> tuple[Dataset | ChunkedArrays, Dataset | None, Dataset]:
    """(train, validation, test): the first `n_train` samples, the next `n_val` (None if 0)
    and the last `n_test` (or all of `data.test_path`), at `subsample` (default
    `data.subsample`). With `data.test_params` the test set is the samples of those
    parameters (`data.held_out`), validation the last `n_val` others. With `stream` the
    training split is not read: it is a `ChunkedArrays` of `inputs` and `outputs` in chunks
    of `data.stream_chunk` samples. With `lazy` its arrays are `store.Rows`, read when
    placed on the devices (each process of a multi-host run reads only its rows)."""
    data = config.data
    stride = data.subsample if subsample is None else subsample
    first = data.n_train if stream else 0
    full = load(path, subsample=stride, samples=slice(first, data.n_samples))
    if first + len(full) < data.n_samples:
        raise DatasetError(
            f"{path} holds {first + len(full)} samples but data.n_samples="
            f"{data.n_samples}; lower data.n_samples (null: all) or use another file"
        )
    check_finite(full, path, first)
    if data.test_params is not None:
        names = full.attrs.get("param_names", [])
        params = full.arrays.get("params", np.zeros((len(full), 0)))
        held = held_out_mask(params, names, data.test_params, str(path))
        test, rest = full.partition(held)
        train, validation = rest.split(len(rest) - data.n_val)
        return train, (validation if data.n_val else None), test
    if stream:
        train = ChunkedArrays(path, ("inputs", "outputs"), stop=data.n_train,
                              chunk_size=data.stream_chunk, subsample=stride)  # fmt: skip
        rest = full
    else:
        train, rest = full.split(data.n_train)
        if lazy:
            train = load(path, subsample=stride, samples=slice(0, data.n_train), lazy=True)
    validation, test = rest.split(data.n_val)
    test_path = test_dataset_path(config)
    if test_path is not None:  # the test files, in place of the (empty) tail of data.path
        test = load(test_path, subsample=stride)
        check_finite(test, test_path)
        check_same_layout(full, path, test, test_path)
    return train, (validation if data.n_val else None), test


def check_finite(dataset: Dataset, path: Path, first: int = 0) -> None:
    """A `DatasetError` naming the first sample (and time step and channel) holding a NaN or
    an infinity, before anything is compiled; `first`: the file's index of sample 0."""
    for name, array in dataset.arrays.items():
        bad = ~np.isfinite(np.asarray(array))
        if bad.any():
            where = np.argwhere(bad)[0]
            sample = f"sample {first + int(where[0])}"
            if name == "trajectories":
                sample += f", time step {int(where[1])}, channel {int(where[2])}"
            elif bad.ndim > 1:
                sample += f", channel {int(where[1])}"
            value = np.asarray(array)[tuple(where)]
            raise DatasetError(
                f"{path}: {name} of {sample} is {value}; remove or repair that sample "
                "(e.g. data.n_samples below it) before training"
            )


def check_same_layout(train: Dataset, path: Path, test: Dataset, test_path: Path) -> None:
    """The test files' arrays must have the training data's channels (and grid)."""
    shapes = lambda d: {k: tuple(v.shape[1:]) for k, v in d.arrays.items()}  # noqa: E731
    if shapes(train) != shapes(test):
        raise DatasetError(
            f"data.test_path {test_path} holds {shapes(test)}, data.path {path} holds "
            f"{shapes(train)}: the test set needs the training data's arrays, channels and grid"
        )


def build_model(config: Config, in_channels: int, out_channels: int) -> Any:
    """The network of `config.model`, initialised from `config.seed`."""
    kwargs = models.config_kwargs(config.model)
    key = jr.fold_in(jr.key(config.seed), 0)
    return models.build(
        config.model.name, in_channels=in_channels, out_channels=out_channels, key=key, **kwargs
    )


def initial_model(config: Config, in_channels: int, out_channels: int, console) -> tuple:
    """The network a run starts from, and the filter spec of the arrays that train (None:
    all): `build_model`, then with `trainer.init_from` the source run's weights wherever path
    and shape match (`train.finetune.transfer`), with `trainer.freeze` those parts fixed."""
    network = build_model(config, in_channels, out_channels)
    trainer = config.trainer
    if trainer.init_from:
        source = checkpoint.load(trainer.init_from).model
        spec = checkpoint.read_spec(trainer.init_from)
        try:
            channels = spec["in_channels"], spec["out_channels"]
            finetune.check_same_sizes(eqx.filter_eval_shape(build_model, config, *channels), source)
            network, fresh = finetune.transfer(network, source)
        except ValueError as error:
            raise ConfigError(f"trainer.init_from={trainer.init_from}: {error}") from None
        console.print(
            f"fine-tune: weights from {trainer.init_from}"
            + (f"; initialised fresh: {', '.join(fresh)}" if fresh else "")
        )
    trainable = finetune.trainable_mask(network, trainer.freeze) if trainer.freeze else None
    return network, trainable


def check_fine_tuning(config: Config, network: Any) -> None:
    """`trainer.init_from` names a trained run and `trainer.freeze` parts of the model."""
    trainer = config.trainer
    if trainer.init_from:
        path = Path(trainer.init_from)
        if (
            not (path / checkpoint.CHECKPOINT_DIR).is_dir()
            and not (path / "_CHECKPOINT_METADATA").is_file()
        ):
            raise ConfigError(
                f"trainer.init_from={path} holds no trained model; pass the directory of a "
                "finished `jaxops train` run (runs/<experiment>/<time>)"
            )
    if trainer.freeze:
        try:
            finetune.trainable_mask(network, trainer.freeze)
        except ValueError as error:
            raise ConfigError(f"trainer.freeze: {error}") from None


def dataset_names(path: Path) -> tuple[str, str]:
    """Display names of the input and output channels of a dataset file."""
    attrs = read_attrs(path)
    names = lambda key, default: ", ".join(attrs.get(key) or []) or default
    return names("inputs_channels", "input"), names("outputs_channels", "output")


def is_trajectory_data(config: Config) -> bool:
    """Whether the dataset of `config` holds trajectories (else (input, output) pairs)."""
    return "trajectories" in _stored(config)[0]


def _stored(config: Config) -> tuple[dict[str, tuple[int, ...]], str]:
    """Per-sample array shapes and grid kind of the dataset, without generating data."""
    if config.data.path:
        path = dataset_path(config)
        return read_shapes(path), read_attrs(path).get("grid", "nodal")
    built = problem(config)
    sample = jax.eval_shape(built.sample, jr.key(0), 0)
    return {k: v.shape for k, v in sample._asdict().items()}, built.grid_kind


def condition_arguments(model: Any, config: Config) -> tuple:
    """Abstract values of the conditions `model` declares (`train.conditions`): the dataset's
    per-sample `params` `(P,)` and a scalar lead time; a `ConfigError` naming the fix when the
    data cannot supply them."""
    stored = _stored(config)[0]
    arguments = []
    for name in conditions.declared(model):
        if name == "lead_time":
            arguments.append(jax.ShapeDtypeStruct((), jnp.float32))
            continue
        shape = stored.get(name)
        if shape is None or 0 in shape:
            raise ConfigError(
                f"model={config.model.name} takes {name} per sample, but pde={config.pde.name} "
                f"records none: sweep a parameter in the pde config (e.g. a list of values, "
                f"pde.nu=[0.005,0.01,0.02]) or use a model that takes the field alone"
            )
        arguments.append(jax.ShapeDtypeStruct(shape, jnp.float32))
    return tuple(arguments)


def sample_shapes(config: Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of one model input and one target at the training grid, without generating
    data: `(C_in, *grid)` and `(C_out, *grid)` for pair datasets; for trajectory datasets the
    stacked `history` states `(history·C, *grid)` (one state for all-to-all) and a state."""
    stored, grid = _stored(config)
    try:
        sub = lambda shape: tuple(subsampled(n, config.data.subsample, grid) for n in shape)
        if "inputs" in stored:
            (c_in, *g_in), (c_out, *g_out) = stored["inputs"], stored["outputs"]
            return (c_in, *sub(g_in)), (c_out, *sub(g_out))
        if "trajectories" in stored:
            n_times, channels, *g = stored["trajectories"]
            rollout = config.trainer.rollout
            try:
                check_mode(rollout.mode, rollout.history, rollout.steps, n_times)
            except ValueError as error:
                raise ConfigError(f"trainer.rollout: {error}") from None
            stacked = input_channels(rollout.mode, rollout.history, channels)
            return (stacked, *sub(g)), (channels, *sub(g))
    except DatasetError as error:
        raise ConfigError(f"data.subsample={config.data.subsample}: {error}") from None
    raise ConfigError(
        f"pde={config.pde.name} holds {sorted(stored)}, neither (inputs, outputs) pairs nor "
        "trajectories; `jaxops train` cannot fit it"
    )


def check_model_applies(
    model: Any, input_shape: tuple, output_shape: tuple, what: str, args: tuple = ()
) -> None:
    """Apply `model` abstractly (no compute) to one input and its condition arguments `args`;
    raise `ConfigError` if it cannot be applied or returns the wrong shape, e.g. too many
    Fourier modes for the grid, or a parameter vector of another length than the data's."""
    given = ", ".join(f"{name} {tuple(a.shape)}" for name, a in
                      zip(conditions.declared(model), args, strict=True))  # fmt: skip
    try:
        out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct(input_shape, jnp.float32), *args)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{what} cannot be applied to inputs of shape {input_shape} (channels, *grid)"
            + (f" with {given}" if given else "")
            + f": {str(error).splitlines()[0]}"
        ) from None
    if out.shape != output_shape:
        raise ConfigError(
            f"{what} maps inputs {input_shape} to {out.shape}, but the targets "
            f"have shape {output_shape}"
        )


def check_model_fits_data(config: Config) -> None:
    """Build `config.model` abstractly and apply it to a training-grid sample, with the
    conditions it declares, before any data are generated."""
    input_shape, output_shape = sample_shapes(config)
    try:
        network = eqx.filter_eval_shape(build_model, config, input_shape[0], output_shape[0])
    except ValueError as error:
        raise ConfigError(f"model={config.model.name}: {error}") from None
    if is_trajectory_data(config):
        try:
            check_model(network, config.trainer.rollout.mode)
        except ValueError as error:
            raise ConfigError(f"model={config.model.name}: {error}") from None
    elif conditions.takes_lead_time(network):
        raise ConfigError(
            f"model={config.model.name} takes a lead time, which pde={config.pde.name}'s "
            "(input, output) pairs do not hold: train it on trajectories with "
            "trainer.rollout.mode=all_to_all"
        )
    args = condition_arguments(network, config)
    check_model_applies(network, input_shape, output_shape, f"model={config.model.name}", args)
    check_fine_tuning(config, network)
