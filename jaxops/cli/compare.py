"""`jaxops compare <run or parent dirs ...>`: one table of the runs' configs and results.

    jaxops compare runs/                                  # every run below runs/
    jaxops compare runs/multirun/2026-01-01/12-00-00 --sort test_rel_l2
    jaxops compare runs/a runs/b --metrics test_rel_l2,n_params --csv results.csv

A run is a directory holding a `summary.json` (written by `jaxops train`); directories are
searched recursively. Each row shows the run, its experiment, model and seed, the config keys
whose values differ between the runs (so a multirun over `optim.lr` gets an `optim.lr`
column, shown as `lr`) and the metrics of `summary.json`. The table fits the terminal (or 80
columns when piped; `COLUMNS` sets it): too wide, it is turned on its side (a row per key, a
column per run) or split into pages; `--csv` keeps every column with its full key. The
Python API is `collect_runs` and `compare_table`; `run` is the command.
"""

import argparse
import json
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from .._config import ConfigError
from .._progress import make_console
from ..train.metrics import write_csv

# Metrics shown by default (those that no run has are left out), followed by every other
# numeric `test_*` key of the summaries, e.g. `test_rel_l2@64x64`.
DEFAULT_METRICS = (
    "test_rel_l2",
    "test_rel_l2_median",
    "baseline_rel_l2",
    "n_params",
    "epoch_seconds_median",
)
DEFAULT_SORT = "test_rel_l2"
# Columns every row has; the config keys they come from are not repeated as differing keys.
FIXED_COLUMNS = ("run", "experiment", "model", "seed")
SHOWN_CONFIG_KEYS = ("name", "model.name", "seed")
MISSING = "–"


def collect_runs(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Find the run directories in or below `paths` and read their records.

    **Arguments:**

    - `paths`: run directories and/or directories to search recursively for `summary.json`
        (a `summary.json` file itself is accepted too). Directories without runs are skipped.

    **Returns:**

    One dict per run, in path order: `path` (the run directory, relative to the working
    directory where it lies below it), `summary` (the dict of `summary.json`) and `config`
    (its `config.yaml` flattened to dotted keys, e.g. `{"optim.lr": 0.001, ...}`; empty if
    the run has no config.yaml).

    Raises `FileNotFoundError` if a path does not exist or no run is found, and `ConfigError`
    if a `summary.json` or `config.yaml` cannot be read.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise FileNotFoundError(
            "no run directories given; e.g. jaxops compare runs/ (runs are found recursively)"
        )
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; pass run directories or runs/")
        if path.is_file():
            if path.name != "summary.json":
                raise FileNotFoundError(
                    f"{path} is not a run directory; pass a directory holding summary.json"
                )
            found[path.parent] = None
            continue
        for summary in sorted(path.rglob("summary.json")):
            found[summary.parent] = None
    if not found:
        raise FileNotFoundError(
            f"no runs (directories with a summary.json) found in {', '.join(map(str, paths))}; "
            "pass the directories written by `jaxops train`, e.g. runs/ or runs/<experiment>"
        )
    by_resolved = {d.resolve(): d for d in found}
    return [_read_run(by_resolved[d]) for d in sorted(by_resolved)]


def compare_table(
    runs: Sequence[dict[str, Any]],
    metrics: Sequence[str] | None = None,
    *,
    sort: str | None = DEFAULT_SORT,
) -> tuple[list[str], list[list[Any]]]:
    """The comparison table of `runs` (from `collect_runs`) as plain values.

    **Arguments:**

    - `runs`: the runs, as returned by `collect_runs`.
    - `metrics`: summary keys to show (a key found only in the configs, e.g. `optim.lr`,
        is taken from there). Default: `DEFAULT_METRICS` that any run has, then every other
        numeric `test_*` key.
    - `sort`: the column to sort by, ascending; a leading `-` sorts descending. Missing values
        go last. `None` keeps the order of `runs`; the default is skipped if no run has it.

    **Returns:**

    `(columns, rows)`: the column names (`run`, `experiment`, `model`, `seed`, the config
    keys whose values differ between runs, then the metrics) and one list of values per run,
    `None` where a run has no value.
    """
    if not runs:
        raise FileNotFoundError("no runs to compare")
    summaries = [r["summary"] for r in runs]
    configs = [r["config"] for r in runs]
    if metrics is None:
        metrics = _default_metrics(summaries)
    else:
        metrics = list(metrics)
        unknown = [
            m
            for m in metrics
            if not any(m in s for s in summaries) and not any(m in c for c in configs)
        ]
        if unknown:
            available = sorted({k for s in summaries for k in s})
            raise ConfigError(
                f"metrics {','.join(unknown)} not found in any run's summary.json or "
                f"config.yaml; summary keys are {', '.join(available)}"
            )
    differing = [k for k in differing_keys(configs) if k not in metrics]
    columns = [*FIXED_COLUMNS, *differing, *metrics]
    rows = []
    for run, summary, config in zip(runs, summaries, configs, strict=True):
        row = [
            str(run["path"]),
            summary.get("experiment", config.get("name")),
            summary.get("model", config.get("model.name")),
            summary.get("seed", config.get("seed")),
            *(config.get(k) for k in differing),
            *(summary[m] if m in summary else config.get(m) for m in metrics),
        ]
        rows.append(row)
    if sort is not None:
        rows = _sorted(columns, rows, sort)
    return columns, rows


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Dotted config keys whose values are not the same in all `configs` (or missing in some),
    in first-seen order, leaving out those shown as fixed columns (`name`, `model.name`,
    `seed`)."""
    keys = dict.fromkeys(k for c in configs for k in c)
    return [
        k
        for k in keys
        if k not in SHOWN_CONFIG_KEYS
        and len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1
    ]


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one dict with dotted keys; lists and scalars are values."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    sort: str | None,
    names: Sequence[str] | None = None,
) -> Table:
    """A rich table: run paths shortened by their common parent (named in the title), dotted
    config keys by `short_names` (or shown as `names`), numbers right-aligned and rounded to 4
    significant digits, missing values as `–`."""
    title, labels = _title_and_labels(columns, rows, sort)
    sort_column = sort.lstrip("-") if sort else None
    table = Table(title=title, title_justify="left")
    names = short_names(columns) if names is None else names
    for index, (name, short) in enumerate(zip(columns, names, strict=True)):
        numeric = index > 0 and all(_is_number(row[index]) or row[index] is None for row in rows)
        style = "bold" if name == sort_column else None
        justify = "right" if numeric else "left"
        table.add_column(short, justify=justify, style=style, overflow="fold")
    for row, label in zip(rows, labels, strict=True):
        table.add_row(label, *(_display(v) for v in row[1:]))
    return table


def render_transposed(
    columns: Sequence[str], rows: Sequence[Sequence], *, sort: str | None
) -> Table:
    """The table turned on its side: one row per column (key or metric), one column per run."""
    title, labels = _title_and_labels(columns, rows, sort)
    table = Table(title=title, title_justify="left")
    table.add_column("run", overflow="fold")
    for label in labels:
        table.add_column(label, justify="right", overflow="fold")
    for index, short in enumerate(short_names(columns)[1:], start=1):
        table.add_row(short, *(_display(row[index]) for row in rows))
    return table


def fitted_tables(
    columns: Sequence[str], rows: Sequence[Sequence], console: Console, *, sort: str | None
) -> list[Table]:
    """The table at the console's width without folding a cell: as it is if it fits; else
    turned on its side (`render_transposed`) if that fits; else split into pages of whole
    columns, each led by the run column (the CSV always holds everything)."""
    width, unbounded = console.width, console.options.update_width(100_000)
    fits = lambda table: Measurement.get(console, unbounded, table).maximum <= width  # noqa: E731
    table = render_table(columns, rows, sort=sort)
    if fits(table):
        return [table]
    transposed = render_transposed(columns, rows, sort=sort)
    if fits(transposed):
        return [transposed]
    names = short_names(columns)  # of all columns, so that every page names a key alike
    page_of = lambda indices: render_table(  # noqa: E731
        [columns[i] for i in indices], [[row[i] for i in indices] for row in rows],
        sort=sort, names=[names[i] for i in indices],
    )  # fmt: skip
    pages, page = [], [0]
    for index in range(1, len(columns)):
        trial = page + [index]
        if len(page) > 1 and not fits(page_of(trial)):
            pages.append(page)
            trial = [0, index]
        page = trial
    pages.append(page)
    tables = [page_of(indices) for indices in pages]
    for number, table in enumerate(tables, start=1):
        table.title = f"{table.title} (page {number} of {len(tables)})"
    return tables


def short_names(columns: Sequence[str]) -> list[str]:
    """Column names with dotted config keys cut to their shortest trailing part that no other
    column shares: `optim.lr` → `lr`, `trainer.rollout.mode` → `mode`, or `rollout.mode`
    beside a `pde.mode`."""
    tail = lambda name, k: ".".join(name.split(".")[-k:])  # noqa: E731
    short = []
    for name in columns:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            candidate = tail(name, k)
            if not any(other != name and tail(other, k) == candidate for other in columns):
                break
        short.append(candidate)
    return short


def run(argv: Sequence[str], console: Console | None = None) -> tuple[list[str], list[list]]:
    """`jaxops compare` with command-line arguments `argv`; prints the table and returns it."""
    parser = argparse.ArgumentParser(
        prog="jaxops compare",
        description="Compare trained runs: differing config keys and summary metrics.",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="DIR", help="run directories or directories holding runs"
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated summary keys to show (default: the main errors and costs, "
        "and every test_* key)",
    )
    parser.add_argument("--csv", metavar="PATH", help="also write the table to PATH as CSV")
    parser.add_argument(
        "--sort",
        default=DEFAULT_SORT,
        metavar="COLUMN",
        help=f"column to sort by, ascending (default {DEFAULT_SORT}); --sort=-COLUMN: descending",
    )
    args = parser.parse_args(list(argv))
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    columns, rows = compare_table(collect_runs(args.paths), metrics, sort=args.sort)
    console = console or make_console()
    for table in fitted_tables(columns, rows, console, sort=args.sort):
        console.print(table)
    if args.csv:
        console.print(f"csv: {write_csv(args.csv, columns, rows)}")
    return columns, rows


def _read_run(run_dir: Path) -> dict[str, Any]:
    summary_path = run_dir / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {summary_path}: {error}") from None
    if not isinstance(summary, dict):
        raise ConfigError(f"{summary_path} does not hold a JSON object")
    config: dict[str, Any] = {}
    config_path = run_dir / "config.yaml"
    if config_path.exists():
        try:
            loaded = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
        except Exception as error:  # noqa: BLE001 - any parse error is reported the same way
            raise ConfigError(f"cannot read {config_path}: {error}") from None
        config = flatten(loaded) if isinstance(loaded, dict) else {}
    return {"path": _relative(run_dir), "summary": summary, "config": config}


def _relative(path: Path) -> Path:
    """`path` relative to the working directory if it lies below it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve())
    except ValueError:
        return absolute


def _default_metrics(summaries: Sequence[dict[str, Any]]) -> list[str]:
    present = {k for s in summaries for k in s}
    metrics = [m for m in DEFAULT_METRICS if m in present]
    extra = dict.fromkeys(
        k
        for s in summaries
        for k, v in s.items()
        if k.startswith("test_") and k not in metrics and (_is_number(v) or v is None)
    )
    return metrics + sorted(extra)


def _sorted(columns: Sequence[str], rows: list[list], sort: str) -> list[list]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in columns:
        if sort == DEFAULT_SORT:
            return rows
        raise ConfigError(f"--sort {sort}: no such column; columns are {', '.join(columns)}")
    index = columns.index(name)
    present = [r for r in rows if r[index] is not None]
    missing = [r for r in rows if r[index] is None]

    def key(row):
        value = row[index]
        return (0, float(value), "") if _is_number(value) else (1, 0.0, str(value))

    return sorted(present, key=key, reverse=descending) + missing


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _display(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.4g}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def _common_parent(paths: Sequence[Path]) -> Path | None:
    """The deepest directory holding all `paths` (a strict parent of each), or None."""
    parents = [p.parent.parts for p in paths]
    common = []
    for parts in zip(*parents, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return Path(*common) if common else None


def _title_and_labels(columns, rows, sort) -> tuple[str, list[str]]:
    """The title (how many runs, where, sorted how) and each run's path below that folder."""
    paths = [Path(row[0]) for row in rows]
    root = _common_parent(paths)
    title = f"{len(rows)} run{'s' if len(rows) != 1 else ''}"
    if root is not None:
        title += f" in {root}"
    sort_column = sort.lstrip("-") if sort else None
    if sort_column in columns:
        title += f", sorted by {sort_column}{' (descending)' if sort.startswith('-') else ''}"
    labels = [str(p.relative_to(root)) if root is not None else str(p) for p in paths]
    return title, labels
