"""Fine-tuning: start from a trained model's weights and keep named parts fixed.

- `transfer(model, source)`: every array of `model` whose attribute path and shape match an
  array of `source` takes the source's values; the others (the lifting and projection heads
  when the channels change) keep their fresh initialisation. Optimiser state is never
  transferred: fine-tuning starts a new optimisation.
- `trainable_mask(model, freeze)`: the engine's filter spec, True for the floating-point
  arrays that train, False for those under a frozen attribute path (`"lift"`, `"spectral.0"`,
  `"base.lift"`). The engine keeps frozen arrays out of the optimiser entirely, so they stay
  bit-identical and weight decay never touches them.

Paths are the attribute names and sequence indices of the module tree joined by dots, as in
the checkpoint (`jaxops.train.checkpoint`).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .checkpoint import path_names


def array_paths(model: Any) -> dict[str, Any]:
    """`{"spectral.0.weight_real": array, ...}`: the arrays (or shape structs, for a model
    from `eqx.filter_eval_shape`) of a module by dotted path."""
    is_array = lambda x: isinstance(x, jax.Array | jax.ShapeDtypeStruct)
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(model, is_array))[0]
    return {".".join(path_names(path)): leaf for path, leaf in leaves}


def transfer(model: Any, source: Any) -> tuple[Any, list[str]]:
    """`model` with every array whose path and shape match one in `source` copied from it.

    **Arguments:** `model` (freshly initialised, e.g. with other channel counts) and `source`
    (a trained network of the same architecture; unwrap `data.Normalized` with `.model`).

    **Returns:** `(model, kept)`: the transferred model and the paths that kept their fresh
    initialisation because the source has no array of that path and shape (listed so a
    caller can report them). Raises `ValueError` for another class; `check_same_sizes`
    checks that nothing but the channel counts differ.
    """
    if type(model) is not type(source):
        raise ValueError(
            f"the source model is a {type(source).__name__}, this one a "
            f"{type(model).__name__}: weights transfer between the same architecture only"
        )
    given = array_paths(source)
    kept: list[str] = []

    def take(path, leaf):
        name = ".".join(path_names(path))
        other = given.get(name)
        if other is None or other.shape != leaf.shape or other.dtype != leaf.dtype:
            kept.append(name)
            return leaf
        return jnp.asarray(other)

    arrays, static = eqx.partition(model, eqx.is_array)
    moved = eqx.combine(jax.tree_util.tree_map_with_path(take, arrays), static)
    return moved, kept


def check_same_sizes(model: Any, source: Any) -> None:
    """Raise `ValueError` naming the arrays whose shapes differ between `model`, built with
    the source's channel counts (abstractly is enough: `eqx.filter_eval_shape`), and
    `source`: a transfer then re-initialises only what the channel counts change."""
    mine, given = array_paths(model), array_paths(source)
    differ = [name for name in mine if name not in given or mine[name].shape != given[name].shape]
    if differ or len(mine) != len(given):
        listed = ", ".join(differ[:3]) + (", ..." if len(differ) > 3 else "")
        raise ValueError(
            f"the model's sizes differ from the source's ({listed or 'another number of arrays'}"
            "): use the source run's model settings (width, modes, depth, ...)"
        )


def trainable_mask(model: Any, freeze: list[str] | tuple[str, ...] = ()) -> Any:
    """The filter spec of the arrays that train: floating-point arrays not under a `freeze`
    path, nor under a part the model itself declares `frozen` (a class attribute of paths,
    e.g. `hybrid.CorrectedStep.frozen = ("equation",)`: the physics a hybrid keeps fixed).
    Raises `ValueError` naming a `freeze` entry that matches no array, with the top-level
    names that exist."""
    paths = array_paths(model)
    for entry in freeze:
        if not any(name == entry or name.startswith(entry + ".") for name in paths):
            tops = sorted({name.split(".")[0] for name in paths})
            raise ValueError(
                f"freeze entry {entry!r} matches no part of the model; its parts are "
                f"{', '.join(tops)} (use dotted paths such as {tops[0]}.0)"
            )
    entries = (*freeze, *getattr(model, "frozen", ()))

    def trains(path, leaf):
        name = ".".join(path_names(path))
        frozen = any(name == entry or name.startswith(entry + ".") for entry in entries)
        return eqx.is_inexact_array(leaf) and not frozen

    return jax.tree_util.tree_map_with_path(trains, model)
