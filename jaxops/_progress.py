"""Rich progress bars with rate and ETA, shared by data generation and training."""

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, e.g. `12.3 samples/s`."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} {self.unit}/s" if speed else f"-- {self.unit}/s", style="cyan")


def make_console(**kwargs) -> Console:
    """A console that never hard-wraps lines (logs stay greppable) and adds no highlighting."""
    return Console(soft_wrap=True, highlight=False, **kwargs)


def progress_bar(unit: str, *, console: Console | None = None, extra: str = "") -> Progress:
    """A progress bar showing done/total, rate in `unit`/s, elapsed time, ETA and `extra`.

    `extra` is a format string over the task's fields, e.g. `"loss {task.fields[loss]}"`.
    The bar is drawn only on a terminal; in logs (CI, batch jobs) callers print lines.
    """
    console = console or make_console()
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    if extra:
        columns.append(TextColumn(extra))
    return Progress(*columns, console=console, transient=False, disable=not console.is_terminal)
