"""Structured config schemas of experiments (the `jaxops` command and `jaxops.experiment`),
stored in Hydra's ConfigStore.

The top-level `Config` holds one node per config group. Each group's YAML files extend the
schema stored for them (`defaults: [<name>_schema, _self_]`), so an unknown key or a value
of the wrong type is rejected when Hydra composes the config; `validate_config` then checks
ranges and cross-field constraints, naming the key. Model and PDE schemas live beside their
classes and are found through the registries.
"""

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .. import models, pde
from .._config import ConfigError, spec, validate
from ..models.registry import ModelConfig
from ..parallel.config import ParallelConfig
from ..pde.registry import ProblemConfig
from ..train.optim import OptimConfig
from ..train.temporal import RolloutConfig
from .paths import config_dir


@dataclass
class DataConfig:
    """`data=...`: how many samples, at what resolution, from which seed, stored where."""

    n_samples: int | None = spec(
        ge=2, help="samples in the dataset (train + test); null: all that data.path holds"
    )
    n_test: int = spec(
        ge=1, help="the last n_test samples are the test set (unless data.test_path is given)"
    )
    n_val: int = spec(
        0, ge=0, help="validation samples just before the test set (monitored if > 0)"
    )
    resolution: int = spec(ge=3, help="grid points per axis of the generated data")
    subsample: int = spec(ge=1, help="train on every subsample-th grid point")
    seed: int = spec(ge=0, help="dataset seed (independent of the training seed)")
    chunk_size: int = spec(ge=1, help="samples generated per compiled call")
    dir: str = spec(help="folder for generated datasets")
    path: Any = spec(
        help="existing dataset file(s) to use instead of generating: jaxops, PDEBench or The "
        "Well HDF5, FNO .mat; a list of files forms one dataset"
    )
    test_path: Any = spec(
        None, help="file(s) of the test set (as data.path); every sample of data.path trains"
    )
    test_params: Any = spec(
        None,
        help="hold out by PDE parameter: {nu: [0.01]} (values) or {nu: {low: a, high: b}}; "
        "those samples are the test set and every other one trains",
    )
    stream_chunk: int | None = spec(
        None,
        ge=1,
        help="stream the training split from HDF5 in chunks of this many samples "
        "(data larger than memory; pair datasets); null: load it into memory",
    )

    def files(self, key: str) -> list[str]:
        """`data.path` or `data.test_path` as a list of files ([] when not given)."""
        value = getattr(self, key)
        files = [] if value is None else [value] if isinstance(value, str) else list(value)
        if not all(isinstance(f, str) and f for f in files):
            raise ConfigError(f"data.{key}={value!r} must be a file name or a list of them")
        return files

    def check_split(self) -> None:
        """The train/test split, which `generate` does not need (subsampling is checked against
        the problem's grid by `assemble.sample_shapes`). `n_samples` must be known
        (`assemble.counted` fills in what `data.path` holds)."""
        if self.test_params is not None:
            if self.test_path:
                raise ConfigError(
                    "data.test_params and data.test_path both choose the test set; give one"
                )
            if not isinstance(self.test_params, dict) or not self.test_params:
                raise ConfigError(
                    f"data.test_params={self.test_params!r} must map parameter names to "
                    "values or ranges, e.g. data.test_params={nu:[0.01]}"
                )
            if self.stream_chunk:
                raise ConfigError(
                    "data.test_params picks test samples anywhere in the file; the streamed "
                    "training split is one contiguous range: drop data.stream_chunk"
                )
        held_out = self.n_val + self.n_test_split
        if held_out >= self.n_samples:
            tested = f"data.n_test={self.n_test} plus " if self.n_test_split else ""
            raise ConfigError(
                f"{tested}data.n_val={self.n_val} must be smaller than "
                f"data.n_samples={self.n_samples} to leave training samples"
            )

    @property
    def n_test_split(self) -> int:
        """Test samples taken from the end of `data.path` (0 with `data.test_path` or
        `data.test_params`)."""
        return 0 if self.test_path or self.test_params is not None else self.n_test

    @property
    def n_train(self) -> int:
        return self.n_samples - self.n_test_split - self.n_val


@dataclass
class PhysicsConfig:
    """`trainer.physics.*`: a PDE-residual loss on the model's output added to the data loss
    (PINO, `jaxops.train.physics`); for pde=darcy. `weight: 0` turns it off."""

    weight: float = spec(0.0, ge=0.0, help="weight of the residual loss (0: off)")
    data_weight: float = spec(
        1.0, ge=0.0, help="weight of the data loss; 0 trains on the residual alone (data-free)"
    )
    norm: str = spec("h-1", choices=("mse", "h-1"), help="norm of the interior residual")
    boundary_weight: float = spec(1.0, ge=0.0, help="weight of mean(u^2) on the boundary")

    @property
    def active(self) -> bool:
        return self.weight > 0


@dataclass
class TrainerConfig:
    """`trainer=...`: epochs, batch size, loss, normalisation, evaluation, checkpoints, logging."""

    epochs: int = spec(ge=1)
    batch_size: int = spec(ge=1)
    eval_batch_size: int = spec(ge=1)
    normalizer: str = spec(choices=("global", "pointwise", "none"))
    loss: str = spec(
        "rel_l2",
        choices=("rel_l2", "rel_l1", "rel_h1", "rel_h_minus1", "mse"),
        help="training loss (jaxops.train.losses.LOSSES); test metrics stay relative L2",
    )
    eval_every: int = spec(1, ge=1, help="evaluate on the test set(s) every eval_every epochs")
    eval_subsample: list[int] = spec(
        [], ge=1, help="also test at these data.subsample strides, e.g. [1]: full resolution"
    )
    patience: int | None = spec(
        None, ge=1, help="early stopping: evaluations without improvement (null: off)"
    )
    min_delta: float = spec(0.0, ge=0.0, help="early stopping: smallest improvement that counts")
    keep_best: bool = spec(False, help="return and save the best evaluated model, not the last")
    checkpoint_every: int = spec(1, ge=1, help="write the resumable training state every k epochs")
    checkpoint_seconds: float = spec(
        10.0,
        ge=0.0,
        help="... once this many seconds have passed since the last write "
        "(the last epoch always; 0: every k epochs)",
    )
    epoch_program: str = spec(
        "auto",
        choices=("auto", "scan", "steps"),
        help="scan: one compiled program per epoch; steps: a host loop over a compiled step; "
        "auto: steps for convolutional models on CPU, else scan",
    )
    init_from: str | None = spec(
        None,
        help="fine-tune: start from the weights of a trained run (its directory); the "
        "optimiser starts anew, arrays whose shape changed (heads for other channels) start fresh",
    )
    freeze: list[str] = spec(
        [], help="parts kept fixed, by attribute path of the model, e.g. [lift, spectral.0]"
    )
    rollout: RolloutConfig = dataclasses.field(default_factory=RolloutConfig)
    physics: PhysicsConfig = dataclasses.field(default_factory=PhysicsConfig)
    log_every: int = spec(ge=1, help="print a line every log_every epochs")
    plot_samples: int = spec(ge=0, help="test samples shown in predictions.png")
    progress: bool = spec(help="show progress bars")


@dataclass
class SweepConfig:
    """`sweep.*`: train K members in one vmapped program (pair datasets). Each list has K
    entries or one (shared); all empty: a single run."""

    lrs: list[float] = spec([], gt=0.0, help="learning rate of each member")
    weight_decays: list[float] = spec([], ge=0.0, help="weight decay of each member")
    seeds: list[int] = spec([], ge=0, help="initialisation and shuffling seed of each member")

    @property
    def active(self) -> bool:
        return bool(self.lrs or self.weight_decays or self.seeds)


@dataclass
class Config:
    """The whole configuration of a `jaxops` command."""

    name: str = spec("default", help="experiment name: runs/<name>/<time>")
    seed: int = spec(0, ge=0, help="seed of model initialisation and shuffling")
    resume: bool = spec(
        False, help="continue the latest unfinished run of this experiment (or hydra.run.dir)"
    )
    pde: ProblemConfig = MISSING
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    optim: OptimConfig = MISSING
    trainer: TrainerConfig = MISSING
    sweep: SweepConfig = dataclasses.field(default_factory=SweepConfig)
    parallel: ParallelConfig = dataclasses.field(default_factory=ParallelConfig)


def check_training(config: Config) -> None:
    """Constraints that only training needs (not `generate`)."""
    config.data.check_split()
    if config.sweep.active and config.data.stream_chunk is not None:
        raise ConfigError(
            "a vmapped sweep needs the training data in memory: drop data.stream_chunk"
        )
    physics = config.trainer.physics
    if physics.data_weight != 1.0 and not physics.active:
        raise ConfigError(
            f"trainer.physics.data_weight={physics.data_weight} needs a residual loss: set "
            "trainer.physics.weight > 0 (or leave data_weight at 1)"
        )
    if physics.active and config.sweep.active:
        raise ConfigError(
            "trainer.physics is not available in a vmapped sweep (sweep.*): run the members "
            "one by one with Hydra multirun (-m optim.lr=...)"
        )
    if config.sweep.active and (config.trainer.init_from or config.trainer.freeze):
        raise ConfigError(
            "trainer.init_from and trainer.freeze are not available in a vmapped sweep "
            "(sweep.*): run the members one by one with Hydra multirun (-m optim.lr=...)"
        )
    if config.data.test_params is None and config.trainer.batch_size > config.data.n_train:
        raise ConfigError(
            f"trainer.batch_size={config.trainer.batch_size} exceeds the "
            f"{config.data.n_train} training samples (data.n_samples - data.n_test - data.n_val)"
        )


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="jaxops_schema", node=Config)
    store.store(group="data", name="data_schema", node=DataConfig)
    store.store(group="optim", name="optim_schema", node=OptimConfig)
    store.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    store.store(group="parallel", name="parallel_schema", node=ParallelConfig)
    configs = config_dir()
    for group, registry in (("model", models.MODELS), ("pde", pde.PROBLEMS)):
        for name, schema in registry.schemas().items():
            store.store(group=group, name=f"{name}_schema", node=schema)
            if not (configs / group / f"{name}.yaml").exists():
                # A plug-in without a yaml: its schema's defaults are the `<group>=<name>`
                # option (a field without a default must then be set on the command line).
                node = OmegaConf.structured(schema)
                node.name = name
                store.store(group=group, name=name, node=node)


def typed(config: DictConfig | dict) -> DictConfig:
    """Attach the schemas to a plain config (e.g. a saved run's `config.yaml`)."""
    plain = OmegaConf.create(config)
    try:
        base = OmegaConf.structured(Config)
        base.model = OmegaConf.structured(models.MODELS.schema(plain.model.name))
        base.pde = OmegaConf.structured(pde.PROBLEMS.schema(plain.pde.name))
        return OmegaConf.merge(base, plain)
    except (LookupError, OmegaConfBaseException) as error:
        raise config_error(error) from None


def validate_config(config: DictConfig) -> Config:
    """The typed, range-checked `Config` object, or a `ConfigError` naming the key."""
    try:
        obj = OmegaConf.to_object(config)
    except OmegaConfBaseException as error:
        raise config_error(error) from None
    validate(obj)
    return obj


def config_error(error: Exception) -> ConfigError:
    """A one-line `ConfigError` from an OmegaConf or Hydra error, naming the key."""
    key = getattr(error, "full_key", None)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:  # "In 'experiment/x': ... composing config:"
        text = f"{text} {lines[1]}"
    options = re.search(r"Available options in '(\w+)':\n((?:\t.*\n?)+)", str(error))
    if options:  # an unknown config option: name the ones there are
        names = [n for n in options[2].split() if not n.endswith("_schema")]
        text = f"{text}; {options[1]} is one of: {', '.join(names)}"
    cause = error.__cause__
    if cause is not None and str(cause):  # Hydra's "Could not override 'x'" and its reason
        text = f"{text} {str(cause).splitlines()[0]}"
    if type(error).__name__ == "MissingMandatoryValue" and key:
        return ConfigError(
            f"{key} is missing: set it in its YAML file or on the command line ({key}=...)"
        )
    if re.search(r"Key '\w+' not in '\w+'", text):
        text += "; `jaxops train <overrides> --cfg job` prints every key"
    return ConfigError(f"{key}: {text}" if key else text)
