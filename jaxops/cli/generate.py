"""`jaxops generate`: write the dataset of the `pde` and `data` configs to HDF5."""

from pathlib import Path

from rich.console import Console

from .._progress import make_console
from .assemble import ensure_dataset
from .schema import Config


def run(config: Config, console: Console | None = None) -> Path:
    """Generate the dataset (or find it already generated) and return its path."""
    console = console or make_console()
    return ensure_dataset(config, console)
