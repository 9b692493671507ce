"""Conditions: what a model takes besides its input field, declared by the model itself.

A model class declares `conditions: ClassVar[tuple[str, ...]]`, the names of the arguments it
takes after the field, in call order; a model that declares none takes the field alone.

- `"params"`: the PDE parameters of the sample, `(P,)`, read from the dataset's `params`
  (e.g. `models.ParameterConditioned`, CAPE);
- `"lead_time"`: a scalar time between input and prediction, made by the objective from the
  save times (all-to-all training; e.g. `models.TimeConditionedFNO`).

Per-sample conditions come first, the lead time last, so a rollout can bind a trajectory's
parameters once and leave the lead time to the loss. Everything that calls a model (the
engine's objectives, evaluation, prediction, rollouts, `train.load` and `jaxops evaluate`)
asks `declared(model)` and passes the arrays through; nothing names a model class.
"""

from collections.abc import Callable, Mapping
from typing import Any

from ..data.normalize import Normalizer, NormalizerKind

PER_SAMPLE = ("params",)  # read per sample from the dataset
KNOWN = (*PER_SAMPLE, "lead_time")


def declared(model: Any) -> tuple[str, ...]:
    """The conditions `model` takes after its field (through `data.Normalized` and any
    wrapper that forwards a `conditions` attribute), checked against `KNOWN` and its order."""
    names = tuple(getattr(model, "conditions", ()))
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ValueError(
            f"{type(model).__name__} declares unknown conditions {unknown}; the known ones are "
            f"{KNOWN}"
        )
    if list(names) != sorted(names, key=KNOWN.index):
        raise ValueError(
            f"{type(model).__name__} declares conditions {names}; declare them in the order "
            f"{KNOWN} (per-sample arrays first, the lead time last)"
        )
    return names


def per_sample(model: Any) -> tuple[str, ...]:
    """The declared conditions the dataset supplies per sample (all but the lead time)."""
    return tuple(name for name in declared(model) if name in PER_SAMPLE)


def takes_lead_time(model: Any) -> bool:
    return "lead_time" in declared(model)


def select(model: Any, arrays: Mapping[str, Any], what: str = "the data") -> tuple:
    """The per-sample condition arrays `model` needs from `arrays` (sample axis first), in
    call order; a `ValueError` naming the missing array."""
    needed = per_sample(model)
    missing = [name for name in needed if arrays.get(name) is None]
    if missing:
        raise ValueError(
            f"{type(model).__name__} takes {', '.join(needed)} per sample, but {what} has no "
            f"{', '.join(missing)}; generate a parameter sweep (e.g. pde.nu=[0.01,0.02]) or pass "
            "the arrays"
        )
    return tuple(arrays[name] for name in needed)


def bind(model: Callable, values: tuple) -> Callable:
    """`u, *rest -> model(u, *values, *rest)`: one sample's per-sample conditions filled in
    (e.g. a trajectory's parameters for a rollout), the rest (a lead time) left to the caller."""
    if not values:
        return model
    return lambda u, *rest: model(u, *values, *rest)


def params_normalizer(
    names: tuple[str, ...], values: tuple, kind: NormalizerKind, n: int | None = None
) -> Normalizer | None:
    """The standardisation of the `params` condition (per parameter, from its first `n`
    training rows) that `data.Normalized` applies before the model sees it, or None if the
    model takes no parameters. Raw parameters such as ν ∈ [0.005, 0.02] would barely move a
    network; `kind="none"` keeps them raw ("pointwise" means per parameter here too)."""
    if "params" not in names:
        return None
    params = values[names.index("params")]
    return Normalizer.fit(params[:n], "none" if kind == "none" else "global")
