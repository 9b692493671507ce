"""What the engine's epoch loop carries from epoch to epoch (`TrainingState`, written to and
restored from state checkpoints) and the member axis it runs over (`MemberAxis`: one model,
or K members of a sweep side by side)."""

import math
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import ArrayLike


@dataclass(frozen=True)
class MemberAxis:
    """The member axis of a run: `size` None for one model (arrays as they are), K for K
    members (every array with a leading axis of K). Host-side values are seen as rows, one per
    member, either way."""

    size: int | None = None

    @property
    def count(self) -> int:
        return self.size or 1

    def rows(self, x: ArrayLike) -> np.ndarray:
        """`x` with a leading member axis (one row for one model)."""
        return np.asarray(x)[None] if self.size is None else np.asarray(x)

    def split(self, key):
        """`(key, shuffle_key)` of the next epoch, per member."""
        if self.size is None:
            key, shuffle_key = jr.split(key)
            return key, shuffle_key
        pairs = jax.vmap(jr.split)(key)
        return pairs[:, 0], pairs[:, 1]

    def select(self, mask: np.ndarray, new, old):
        """Member i from `new` where `mask[i]`, else from `old`."""
        if self.size is None:
            return new if mask[0] else old
        return _where(jnp.asarray(mask), new, old)


@jax.jit
def _where(mask, new, old):
    pick = lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)  # noqa: E731
    return jax.tree.map(pick, new, old)


@dataclass
class TrainingState:
    """Everything needed to continue training exactly: the arrays (parameters, optimiser
    state, shuffling key, best parameters; with a member axis, each stacked over members) and
    per-member bookkeeping, lists with one entry per member: the records of each epoch, the
    best evaluation, evaluations without improvement, whether it stopped early and the epoch
    in which its loss became non-finite (`None`: it did not)."""

    params: Any
    opt_state: Any
    key: Any
    best: Any = None
    epoch: int = 0
    history: list[list[dict]] = field(default_factory=lambda: [[]])
    best_epoch: list[int] = field(default_factory=lambda: [0])
    best_metric: list[float] = field(default_factory=lambda: [math.inf])
    bad_evals: list[int] = field(default_factory=lambda: [0])
    stopped: list[bool] = field(default_factory=lambda: [False])
    diverged: list[int | None] = field(default_factory=lambda: [None])

    @classmethod
    def start(cls, params, opt_state, key, best, count: int) -> "TrainingState":
        """The state before the first epoch of `count` members."""
        return cls(params, opt_state, key, best, 0, [[] for _ in range(count)], [0] * count,
                   [math.inf] * count, [0] * count, [False] * count, [None] * count)  # fmt: skip

    @property
    def active(self) -> np.ndarray:
        """`(K,)`: the members still training (neither stopped early nor diverged)."""
        pairs = zip(self.stopped, self.diverged, strict=True)
        return np.array([not stopped and diverged is None for stopped, diverged in pairs])

    def advanced(self, params, opt_state, key) -> "TrainingState":
        self.params, self.opt_state, self.key = params, opt_state, key
        self.epoch += 1
        return self

    def evaluated(self, metrics: np.ndarray, members: np.ndarray, min_delta, patience):
        """Record the monitored metric `(K,)` of this epoch for `members` (a mask); return
        the mask of those that improved on their best by more than `min_delta`."""
        improved = np.zeros(len(metrics), bool)
        for i in np.flatnonzero(members):
            if metrics[i] < self.best_metric[i] - min_delta:
                self.best_metric[i], self.best_epoch[i], self.bad_evals[i] = (
                    float(metrics[i]), self.epoch, 0)  # fmt: skip
                improved[i] = True
            else:
                self.bad_evals[i] += 1
                self.stopped[i] = patience is not None and self.bad_evals[i] >= patience
        return improved

    def arrays(self) -> dict:
        best = self.best if self.best is not None else {}
        key = jr.key_data(self.key)
        return {"params": self.params, "opt_state": self.opt_state, "key": key, "best": best}

    def meta(self) -> dict:
        names = ("epoch", "history", "best_epoch", "best_metric", "bad_evals", "stopped",
                 "diverged")  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def restored(self, arrays: dict, meta: dict) -> "TrainingState":
        state = TrainingState(
            arrays["params"],
            arrays["opt_state"],
            jr.wrap_key_data(arrays["key"]),
            arrays["best"] if self.best is not None else None,
        )
        for name, value in meta.items():
            setattr(state, name, value)
        return state
