"""Config composition and validation: errors name the key, before any computation."""

import re

import pytest
from helpers import jaxops_in_process
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from jaxops._config import ConfigError
from jaxops.experiment.assemble import check_model_fits_data, sample_shapes
from jaxops.experiment.paths import config_dir
from jaxops.experiment.schema import check_training, register_configs, typed, validate_config


def composed(*overrides):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_default_experiment_composes_and_validates():
    config = validate_config(composed())
    assert config.name == "darcy_fno"
    assert config.model.modes == [12, 12]
    assert sample_shapes(config) == ((1, 32, 32), (1, 32, 32))  # 63 nodes, every 2nd


def test_paper_experiment_is_the_paper_protocol():
    config = validate_config(composed("experiment=darcy_fno_paper"))
    assert (config.data.resolution, config.data.subsample) == (421, 5)
    assert sample_shapes(config) == ((1, 85, 85), (1, 85, 85))
    assert (config.data.n_train, config.data.n_test) == (1000, 100)
    assert (config.model.modes, config.model.width, config.model.depth) == ([12, 12], 32, 4)
    assert (config.trainer.epochs, config.trainer.batch_size) == (500, 20)
    assert (config.optim.lr, config.optim.step_epochs, config.optim.gamma) == (1e-3, 100, 0.5)


def test_misspelled_key_is_rejected_by_name():
    with pytest.raises(ConfigCompositionException) as error:
        composed("model.widht=64")
    assert "widht" in str(error.value.__cause__) and "FNOConfig" in str(error.value.__cause__)


def test_wrong_type_is_rejected_by_name():
    with pytest.raises(ConfigCompositionException) as error:
        composed("trainer.epochs=ten")
    assert "trainer.epochs" in str(error.value.__cause__)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.width=-3", "model.width=-3 is invalid: it must be >= 1"),
        ("model.modes=[12,0]", "model.modes=[12, 0] is invalid"),
        ("optim.lr=-1e-3", "optim.lr=-0.001 is invalid: it must be >= 0.0"),
        ("optim.schedule=linear", "optim.schedule='linear' is invalid: it must be one of"),
        ("data.n_test=600", "n_val=0 must be smaller than data.n_samples=600"),
        ("pde.a_low=-1", "pde.a_low=-1.0 is invalid: it must be > 0.0"),
    ],
)
def test_out_of_range_values_are_rejected_by_name(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", "\\[").replace("]", "\\]")):
        check_training(validate_config(composed(override)))


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.batch_size=501", "batch_size=501 exceeds the 500 training samples"),
        ("data.n_samples=100", "data.n_test=100 plus data.n_val=0 must be smaller"),
    ],
)
def test_training_constraints_are_checked_for_training_only(override, message):
    config = validate_config(composed(override))  # fine for `generate`
    with pytest.raises(ConfigError, match=message):
        check_training(config)


def test_subsampling_that_loses_the_boundary_is_rejected_before_generation(tmp_path):
    config = validate_config(composed("data.resolution=64", f"data.dir={tmp_path}"))
    with pytest.raises(
        ConfigError,
        match="data.subsample=2: a nodal grid of 64 points cannot "
        "be subsampled by 2 \\(need n - 1 divisible by it\\); valid: \\[1, 3, 7",
    ):
        check_model_fits_data(config)
    assert list(tmp_path.iterdir()) == []


def test_model_that_does_not_fit_the_grid_is_rejected_before_generation(tmp_path):
    config = validate_config(
        composed("data.resolution=41", "data.subsample=4", f"data.dir={tmp_path}")
    )
    with pytest.raises(
        ConfigError,
        match="model=fno cannot be applied to inputs of shape "
        "\\(1, 11, 11\\).*axis 0 has 11 points but 12 Fourier modes",
    ):
        check_model_fits_data(config)
    assert list(tmp_path.iterdir()) == []


def test_missing_value_is_named():
    config = composed("model.width=???")
    with pytest.raises(ConfigError, match="model.width is missing"):
        validate_config(config)


def test_saved_config_round_trips_through_the_schemas():
    from omegaconf import OmegaConf

    config = validate_config(composed())
    plain = OmegaConf.create(OmegaConf.to_yaml(OmegaConf.structured(config)))
    assert validate_config(typed(plain)) == config
    plain.model.name = "nope"
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        typed(plain)


# Conditioned models the Darcy pairs cannot condition: Darcy records no PDE parameters and
# its pairs no lead time. Both are refused before generation with the fix.
CONDITIONED = {
    "cape": "model=cape takes params per sample, but pde=darcy records none",
    "film": "model=film takes params per sample, but pde=darcy records none",
    "time_fno": "model=time_fno takes a lead time, which pde=darcy's (input, output) pairs",
}


@pytest.mark.parametrize("name", sorted(p.stem for p in (config_dir() / "model").glob("*.yaml")))
def test_every_model_config_composes_and_fits_the_darcy_grid(name):
    """`jaxops train experiment=darcy model=<name>` builds each shipped (paper) configuration
    abstractly and applies it to a 32×32 training sample; conditioned models are refused with
    a message saying what they need."""
    config = validate_config(composed("experiment=darcy", f"model={name}"))
    assert config.model.name == name
    if name in CONDITIONED:
        with pytest.raises(ConfigError, match=re.escape(CONDITIONED[name])):
            check_model_fits_data(config)
    else:
        check_model_fits_data(config)


@pytest.mark.parametrize("name", sorted(p.stem for p in (config_dir() / "model").glob("*.yaml")))
def test_an_experiment_pins_the_sizes_of_its_own_model_only(name):
    """experiment=burgers_fno pins its FNO's sizes (`configs/model_for/burgers_fno/fno.yaml`);
    with model=<another> that model keeps its own config's values, on the experiment's data."""
    pinned = validate_config(composed("experiment=burgers_fno", f"model={name}"))
    assert pinned.data == validate_config(composed("experiment=burgers_fno")).data
    own = validate_config(composed("experiment=burgers", f"model={name}")).model
    if name == "fno":
        assert (
            (pinned.model.modes, pinned.model.projection_width)
            == ([16], 64)
            != (
                own.modes,
                own.projection_width,
            )
        )
    else:
        assert pinned.model == own


def test_a_key_hydra_refuses_ends_in_one_line_before_anything_is_written(tmp_path):
    for override, says in [
        ("model.widht=64", "Key 'widht' not in 'FNOConfig'; `jaxops train <overrides> --cfg job`"),
        ("trainer.epochs=abc", "Value 'abc' of type 'str' could not be converted to Integer"),
    ]:
        result = jaxops_in_process("train", override, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert says in result.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory, no dataset


# burgers.yaml takes its (1D) model from the command line; the default FNO is 2D.
EXPERIMENTS = [p.stem for p in (config_dir() / "experiment").glob("*.yaml") if p.stem != "burgers"]


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_experiment_config_composes_and_its_model_fits_its_data(experiment):
    config = validate_config(composed(f"experiment={experiment}"))
    check_training(config)
    check_model_fits_data(config)  # abstract: no data generated


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["experiment=burgers_fno", "trainer.physics.weight=1"], "trainer.physics: pde=burgers: "),
        (["trainer.physics.data_weight=0"], "needs a residual loss: set trainer.physics.weight"),
        (["trainer.physics.weight=1", "sweep.lrs=[1e-3,3e-3]"], "not available in a vmapped"),
        (["trainer.physics.norm=h1"], "trainer.physics.norm='h1' is invalid: it must be one of"),
    ],
)
def test_physics_settings_the_command_cannot_use_are_refused(overrides, message, tmp_path):
    from jaxops.experiment.assemble import physics_options

    with pytest.raises(ConfigError, match=message):
        config = validate_config(composed(*overrides, f"data.dir={tmp_path}"))
        check_training(config)
        physics_options(config)
    assert list(tmp_path.iterdir()) == []


def test_physics_loss_is_the_residual_of_the_configured_darcy_problem(x64):
    """`trainer.physics` uses the forcing and face average of `pde=darcy`: the loss vanishes on
    an independent scipy solution of that problem and not on one with the other face average."""
    import jax.numpy as jnp
    import numpy as np
    from helpers import scipy_darcy

    from jaxops.experiment.assemble import physics_options

    overrides = ["pde.forcing=2.5", "pde.face=harmonic", "trainer.physics.weight=0.5"]
    config = validate_config(composed(*overrides, "trainer.physics.data_weight=0"))
    options = physics_options(config)
    assert (options["physics_weight"], options["data_weight"]) == (0.5, 0.0)
    rng = np.random.default_rng(0)
    a = np.where(rng.standard_normal((17, 17)) > 0, 12.0, 3.0)
    f = np.full((17, 17), 2.5)
    exact, other = scipy_darcy(a, f, "harmonic"), scipy_darcy(a, f, "arithmetic")
    loss = lambda u: float(options["physics"](jnp.asarray(a)[None], jnp.asarray(u)[None]))
    assert loss(exact) < 1e-24 and loss(other) > 1e-2  # measured 6e-30 and 0.11
    assert physics_options(validate_config(composed())) == {}  # off by default
