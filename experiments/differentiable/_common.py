"""What the worked experiments share: the command line, the results folder, the JSON + PNG they
write, wall time."""

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax

RESULTS = Path(__file__).resolve().parent / "results"


def script_parser(doc: str) -> argparse.ArgumentParser:
    """A script's parser: its description the first paragraph of its docstring (whole
    sentences), every option's default shown in `--help`."""
    return argparse.ArgumentParser(
        description=" ".join(doc.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def write_results(name: str, figures: dict, figure=None, out: Path | None = None) -> Path:
    """Print `figures`, write them to `<out>/<name>.json` and `figure` (matplotlib) to
    `<out>/<name>.png`; returns the JSON path. `out` defaults to `results/` beside this file."""
    out = RESULTS if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for key, value in figures.items():
        print(f"{key:>40}: {value}")
    path = out / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    if figure is not None:
        figure.savefig(out / f"{name}.png", dpi=120, bbox_inches="tight")
        print(f"wrote {path} and {path.with_suffix('.png')}")
    return path


def wall_time(fn: Callable[[], object]) -> tuple[object, float]:
    """`(fn(), seconds)`, waiting for JAX's asynchronous results before stopping the clock."""
    start = time.perf_counter()
    value = jax.block_until_ready(fn())
    return value, time.perf_counter() - start
