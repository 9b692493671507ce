"""`SweepResult`: K members of one architecture trained side by side by the engine
(`engine.train_members`, behind `train.sweep`)."""

from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import numpy as np
from rich.table import Table

from ..data.normalize import Normalized, Normalizer


@dataclass
class SweepResult:
    """K trained members.

    - `params`, `static`, `norms`: stacked trainable arrays (leading axis K), the shared
        non-trainable part and the shared normalisers; `member(i)` is a `Normalized` model.
    - `seeds`: per-member seed (the int given, or `None` where a key was given);
        `hparams`: name → `(K,)` values.
    - `history[i]`: member i's records per epoch (`epoch`, `train_loss`, `lr`, metrics,
        `train_seconds` of the whole sweep's epoch); it ends before a divergence and at an
        early stop.
    - `evaluation`: metric → `(K, N)` per-sample errors of the final models; `test_errors`:
        the monitored one. A diverged member is evaluated with its last finite parameters.
    - `diverged`: member → epoch in which its loss became non-finite; `stopped`: member →
        epoch at which it stopped early; `best_epoch[i]`: member i's best evaluated epoch.
    - `compile_seconds`: compile time of the epoch and evaluation programs;
        `epoch_seconds`: wall time of each epoch's training program (all members);
        `resumed_from`: the epoch of the state checkpoint it resumed from (0: none).
    """

    params: Any
    static: Any
    norms: tuple[Normalizer | None, ...]
    seeds: list[int | None]
    hparams: dict[str, np.ndarray]
    history: list[list[dict[str, float]]]
    evaluation: dict[str, np.ndarray]
    test_errors: np.ndarray
    monitor: str
    diverged: dict[int, int]
    compile_seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    stopped: dict[int, int] = field(default_factory=dict)
    best_epoch: list[int] = field(default_factory=list)
    resumed_from: int = 0

    @property
    def size(self) -> int:
        return len(self.seeds)

    def member(self, i: int) -> Normalized:
        """Member i as an ordinary model mapping physical inputs to physical outputs."""
        if not -self.size <= i < self.size:
            raise IndexError(f"member {i} out of range for a sweep of {self.size}")
        params = jax.tree.map(lambda x: x[i], self.params)
        return Normalized(eqx.combine(params, self.static), *self.norms)

    def final(self, metric: str | None = None) -> np.ndarray:
        """`(K,)` mean final error of each member for `metric` (default: the monitored one)."""
        return self.evaluation[metric or self.monitor].mean(axis=1)

    def best(self) -> int:
        """The member with the lowest final monitored error among those that did not diverge."""
        finals = self.final()
        healthy = [i for i in range(self.size) if i not in self.diverged]
        if not healthy:
            raise ValueError("every member of the sweep diverged")
        return min(healthy, key=lambda i: finals[i])

    def status(self, i: int) -> str:
        """`diverged at epoch e`, `stopped early at epoch e` or `trained`."""
        if i in self.diverged:
            return f"diverged at epoch {self.diverged[i]}"
        if i in self.stopped:
            return f"stopped early at epoch {self.stopped[i]}"
        return "trained"

    def table(self) -> Table:
        """Member, seed, hyperparameters, final monitored error and status, as a rich table."""
        table = Table(title=f"sweep of {self.size} members")
        for name in ["member", "seed", *self.hparams, f"final {self.monitor}", "status"]:
            table.add_column(name, justify="left" if name == "status" else "right")
        finals = self.final()
        best = self.best() if len(self.diverged) < self.size else None
        for i in range(self.size):
            seed = "key" if self.seeds[i] is None else str(self.seeds[i])
            values = [f"{float(v[i]):.3g}" for v in self.hparams.values()]
            status = self.status(i) + (", best" if i == best else "")
            table.add_row(str(i), seed, *values, f"{finals[i]:.4f}", status)
        return table
