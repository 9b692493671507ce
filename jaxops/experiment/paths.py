"""Where the `jaxops` command finds its Hydra configs (no heavy imports: `jaxops --help` and
the schema registration both use it)."""

from pathlib import Path


def config_dir() -> Path:
    """`configs/` of a source checkout, or the copy packaged inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "configs", here.parent / "configs"):
        if (candidate / "config.yaml").exists():
            return candidate
    raise FileNotFoundError(f"jaxops configs not found next to {here}")
