"""`jaxops.experiment.compose` builds the `Config` of `jaxops train <overrides>` from
`configs/`: the experiment's values with the overrides applied, and a bad override is a
`ConfigError` naming the key before anything is computed. (That `experiment.run` on it equals
the command is checked in tests/cli/test_commands.py, beside the command's run.)"""

import pytest

from jaxops import experiment
from jaxops._config import ConfigError


def test_compose_applies_the_experiment_and_the_overrides():
    config = experiment.compose(["experiment=burgers_fno", "model.width=8"])
    assert config.name == "burgers_fno" and config.pde.name == "burgers"
    assert config.model.name == "fno" and config.model.width == 8
    default = experiment.compose()
    assert default.name == "darcy_fno" and default.model.width != 8
    generate = experiment.compose(["data.n_samples=10"], config_name="generate")
    assert generate.data.n_samples == 10


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.widht=3", "Key 'widht' not in 'FNOConfig'"),
        ("model.width=-3", "model.width=-3 is invalid: it must be >= 1"),
        ("experiment=nope", "Could not find 'experiment/nope'"),
    ],
)
def test_a_bad_override_is_a_config_error_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        experiment.compose([override])


def test_the_final_report_names_the_errors_on_other_grids(tmp_path):
    """`trainer.eval_subsample` errors (`test_rel_l2@<grid>` in the summary) are printed."""
    from rich.console import Console

    from jaxops.experiment.summary import print_summary

    summary = {"test_rel_l2": 0.1, "baseline_rel_l2": 0.3, "test_rel_l2@17x17": 0.125,
               "n_params": 10, "compile_seconds": 1.0, "epoch_seconds_median": 0.5,
               "total_seconds": 3.0, "figures": ["predictions.png"]}  # fmt: skip
    console = Console(record=True, width=200)
    print_summary(console, summary, tmp_path)
    text = console.export_text()
    assert "test relative L2 0.1000  (mean-prediction baseline 0.3000: 3.0x lower)" in text
    assert "test relative L2 at 17x17: 0.1250" in text
