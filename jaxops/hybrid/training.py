"""`fit_hybrid`: train a one-step physical model (`CorrectedStep`, `NeuralODEStep`) on
trajectories through `k` unrolled steps, with the engine of `train.fit_trajectories`.

Differentiating through the unrolled solver + network steps is the solver-in-the-loop
training of Um et al. (NeurIPS 2020) and Kochkov et al. (PNAS 2021): the network learns to
correct the states the hybrid itself produces. States are not normalised (the solver must
see physical units), and the trajectories' save interval must equal the model's `dt`.
"""

import numpy as np
from jaxtyping import ArrayLike

from ..train.engine import FitResult
from ..train.temporal import fit_trajectories


def fit_hybrid(
    model,
    train: ArrayLike,
    test: ArrayLike,
    *,
    times: ArrayLike,
    steps: int = 4,
    mode: str = "unrolled",
    **options,
) -> FitResult:
    """Train `model` (`u (C, *grid)` → the state `model.dt` later) on trajectories
    `train` `(N, T, C, *grid)`, scoring full rollouts of `test`.

    **Arguments:** `times` `(T,)` the save times (evenly spaced by `model.dt`, when the model
    has one); `steps` the `k` unrolled steps of each training window (`1`: teacher-forced
    one-step training); `mode` `"unrolled"` (backpropagation through all `k` steps) or
    `"pushforward"`/`"curriculum"` (see `train.rollout.unrolled_loss`); `options` passed to
    `train.fit_trajectories` (`optimizer`, `epochs`, `batch_size`, `key`, `loss`, ...), except
    `normalizer` and `history`, which are fixed to `"none"` and 1.

    **Returns:** the `FitResult`; `result.model(u)` is the trained one-step model and
    `result.extra["step_errors"]` the `(N_test, T − 1)` rollout errors.
    """
    for fixed in ("normalizer", "history"):
        if fixed in options:
            raise ValueError(
                f"fit_hybrid fixes {fixed} (the solver needs physical, single states); "
                "call train.fit_trajectories for a pure surrogate instead"
            )
    times = np.asarray(times, dtype=np.float64)
    dt = getattr(model, "dt", None)
    if dt is not None and times.ndim == 1 and len(times) > 1:
        gaps = np.diff(times)
        if not np.allclose(gaps, dt, rtol=1e-5, atol=0.0):
            raise ValueError(
                f"the trajectories are saved every {gaps.min():.6g}…{gaps.max():.6g} time "
                f"units but the model steps dt={dt}; build the model with dt equal to the "
                "save interval"
            )
    return fit_trajectories(
        model,
        train,
        test,
        times=times,
        mode="one_step" if steps == 1 else mode,
        history=1,
        steps=steps,
        normalizer="none",
        **options,
    )
