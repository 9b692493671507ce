"""Run an equinox layer inside a Flax linen module, with its arrays as Flax parameters.

The Flax front-ends do not re-implement anything: at `init` they build the equinox layer and
store each of its arrays as a Flax parameter named by its attribute path
(`"spectral.0.weight_real"`); at `apply` they put the parameters back into the equinox layer
and call it. So a Flax model and the equinox model with the same weights compute the same
function with the same code. Flax front-ends take batched, channels-last inputs
`(*batch, *spatial, channels)` (the Flax convention) and vmap the single-sample layer.
"""

from typing import Any

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray


def _is_array(x: Any) -> bool:
    return isinstance(x, jax.Array | jax.ShapeDtypeStruct)


def _named_leaves(module: eqx.Module) -> tuple[dict[str, Any], Any, eqx.Module]:
    """`({path: array}, treedef, static part)` of an equinox module (or its shape struct)."""
    arrays, static = eqx.partition(module, _is_array)
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(arrays)
    names = {
        ".".join(str(getattr(k, "name", getattr(k, "idx", getattr(k, "key", k)))) for k in path): x
        for path, x in with_paths
    }
    return names, treedef, static


def variables_from(module: eqx.Module) -> dict[str, dict[str, jax.Array]]:
    """Flax variables `{"params": {...}}` holding the weights of an equinox layer or model, for
    the Flax front-end of the same class and configuration."""
    return {"params": _named_leaves(module)[0]}


class EquinoxLayer(nn.Module):
    """Base of the Flax front-ends: subclasses define `build(key) -> eqx.Module` and
    `spatial_dims`; calling the module applies the built layer to every sample."""

    def build(self, key: PRNGKeyArray) -> eqx.Module:
        raise NotImplementedError

    @property
    def spatial_dims(self) -> int:
        raise NotImplementedError

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self._layer()
        dims = self.spatial_dims
        if x.ndim < dims + 1:
            raise ValueError(
                f"{type(self).__name__} expects (*batch, *spatial, channels) with {dims} "
                f"spatial axes, got shape {x.shape}"
            )
        batch = x.shape[: x.ndim - dims - 1]
        samples = jnp.moveaxis(x.reshape((-1, *x.shape[len(batch) :])), -1, 1)
        y = jnp.moveaxis(jax.vmap(layer)(samples), 1, -1)
        return y.reshape(batch + y.shape[1:])

    def _layer(self) -> eqx.Module:
        """The equinox layer with this module's parameters (created at init)."""
        if self.is_initializing():
            built = self.build(self.make_rng("params"))
        else:
            built = eqx.filter_eval_shape(self.build, jax.random.key(0))
        names, treedef, static = _named_leaves(built)
        init = lambda value: lambda _: value
        values = [self.param(name, init(value)) for name, value in names.items()]
        return eqx.combine(jax.tree_util.tree_unflatten(treedef, values), static)
