"""`jaxops.experiment.generate(config)`, what `jaxops generate` runs: write the dataset of the
`pde` and `data` configs to HDF5."""

from pathlib import Path

from rich.console import Console

from .._progress import make_console
from ..parallel import is_primary
from .assemble import counted, ensure_dataset
from .schema import Config


def generate(config: Config, console: Console | None = None) -> Path:
    """Generate the dataset (or find it already generated) and return its path. Every process
    of a multi-process run takes its share of the chunks; process 0 reports."""
    console = console or make_console(quiet=not is_primary())
    return ensure_dataset(counted(config), console)
