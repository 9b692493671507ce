"""Every `jaxops train` and `jaxops generate` command line in the README's shell blocks
composes into a valid config, and for `train` its model fits its data (abstractly: nothing is
generated or trained). A `-m` sweep is checked for each of its jobs. Lines that need a user's
own files or runs (`<...>`, `data.path=`, `trainer.init_from=`, `...`) are listed as skipped,
and tested end to end by the tests of those features."""

import itertools
import re
import shlex
from pathlib import Path

import pytest

from jaxops.experiment import compose
from jaxops.experiment.assemble import check_model_fits_data
from jaxops.experiment.schema import check_training

README = Path(__file__).resolve().parents[2] / "README.md"
NEEDS_FILES = ("<", "...", "data.path=", "trainer.init_from=")


def commands() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if re.match(r"jaxops (train|generate)\b", line):
                lines.append(line)
    return lines


def jobs(arguments: list[str]) -> list[list[str]]:
    """The jobs of a Hydra `-m` sweep: one per combination of comma-separated values."""
    if "-m" not in arguments:
        return [arguments]
    arguments = [a for a in arguments if a != "-m"]
    choices = [
        [f"{a.split('=')[0]}={v}" for v in a.split("=", 1)[1].split(",")]
        if "=" in a and "," in a and not re.search(r"[\[{]", a)
        else [a]
        for a in arguments
    ]
    return [list(job) for job in itertools.product(*choices)]


CHECKED = [c for c in commands() if not any(s in c for s in NEEDS_FILES) and "--cfg" not in c]


def test_the_readme_has_the_commands_it_should():
    assert len(CHECKED) >= 30 and any("-m" in c for c in CHECKED)


@pytest.mark.parametrize("command", CHECKED)
def test_a_documented_command_composes_and_its_model_fits_its_data(command):
    program, name, *arguments = shlex.split(command)
    for job in jobs(arguments):
        config = compose(job, config_name="config" if name == "train" else "generate")
        if name == "train":
            check_training(config)
            check_model_fits_data(config)
