"""Unit-Gaussian normalisers fitted on training data, and a wrapper that applies them.

As in the FNO paper's code (`UnitGaussianNormalizer`): x ↦ (x − μ)/(σ + ε). `global`
statistics are per channel (resolution independent); `pointwise` statistics are per channel
and grid point (tied to the training resolution).
"""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

NormalizerKind = Literal["global", "pointwise", "none"]


class Normalizer(eqx.Module):
    """Affine map `encode(x) = (x − mean) / (std + eps)` and its inverse `decode`.

    `mean` and `std` broadcast against one sample `(C, *spatial)`.
    """

    mean: Array
    std: Array
    eps: float = eqx.field(static=True, default=1e-5)

    @classmethod
    def fit(
        cls, x: Float[ArrayLike, " N C *spatial"], kind: NormalizerKind = "global"
    ) -> "Normalizer":
        """Statistics of a batch of samples: per channel (`global`) or per point (`pointwise`)."""
        x = jnp.asarray(x)
        if kind == "none":
            shape = (x.shape[1],) + (1,) * (x.ndim - 2)
            return cls(jnp.zeros(shape, x.dtype), jnp.ones(shape, x.dtype), eps=0.0)
        if kind == "global":
            axes = (0, *range(2, x.ndim))
        elif kind == "pointwise":
            axes = (0,)
        else:
            raise ValueError(f"normalizer kind must be global, pointwise or none, got {kind!r}")
        std = jnp.std(x, axis=axes, ddof=1)  # unbiased, as torch.std in the paper's code
        return cls(jnp.mean(x, axis=axes), std)._expand(x.ndim - 1)

    def tiled(self, copies: int) -> "Normalizer":
        """The same statistics repeated for `copies` stacked states (`(copies·C, ...)`)."""
        tile = lambda a: jnp.tile(a, (copies,) + (1,) * (a.ndim - 1))
        return Normalizer(tile(self.mean), tile(self.std), self.eps)

    def _expand(self, sample_ndim: int) -> "Normalizer":
        pad = lambda a: a.reshape(a.shape + (1,) * (sample_ndim - a.ndim))
        return Normalizer(pad(self.mean), pad(self.std), self.eps)

    def _check(self, x: Array) -> None:
        if x.ndim != self.mean.ndim or x.shape[0] != self.mean.shape[0]:
            raise ValueError(
                f"normalizer fitted on samples of {self.mean.shape[0]} channels and "
                f"{self.mean.ndim - 1} spatial axes cannot be applied to shape {x.shape}; pass "
                "one sample (channels, *spatial) and vmap over batches"
            )
        if self.mean.shape[1:] != (1,) * (x.ndim - 1) and self.mean.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"pointwise normalizer fitted on grid {self.mean.shape[1:]} cannot be applied "
                f"to grid {x.shape[1:]}; train with a global normalizer to change resolution"
            )

    def encode(self, x: Float[Array, " C *spatial"]) -> Float[Array, " C *spatial"]:
        self._check(x)
        return (x - self.mean) / (self.std + self.eps)

    def decode(self, x: Float[Array, " C *spatial"]) -> Float[Array, " C *spatial"]:
        self._check(x)
        return x * (self.std + self.eps) + self.mean


class Normalized(eqx.Module):
    """A model that takes and returns physical units: `decode(model(encode(x)))`.

    **Arguments:** `model` (any single-sample callable module), `input_normalizer`,
    `output_normalizer`, and `params_normalizer` (optional: standardises the PDE-parameter
    vector of a model that declares the `params` condition, its first argument after the
    field). Other call arguments (a lead time) are passed to `model` unchanged. This is what
    `jaxops.train.load(run_dir)` returns.
    """

    model: Callable
    input_normalizer: Normalizer
    output_normalizer: Normalizer
    params_normalizer: Normalizer | None = None

    @property
    def conditions(self) -> tuple[str, ...]:
        """The conditions the wrapped model declares (`jaxops.train.conditions`)."""
        return tuple(getattr(self.model, "conditions", ()))

    @property
    def auxiliary_weight(self) -> float:
        """The weight of the wrapped model's auxiliary estimate (`jaxops.train.auxiliary`)."""
        return float(getattr(self.model, "auxiliary_weight", 0.0))

    def __call__(
        self, x: Float[ArrayLike, " C_in *spatial"], *args
    ) -> Float[Array, " C_out *spatial"]:
        return self.output_normalizer.decode(self.model(*self._encoded(x, args)))

    def auxiliary(
        self, x: Float[ArrayLike, " C_in *spatial"], *args
    ) -> Float[Array, " C_out *spatial"]:
        """The wrapped model's auxiliary estimate of the same target, in physical units."""
        return self.output_normalizer.decode(self.model.auxiliary(*self._encoded(x, args)))

    def _encoded(self, x: ArrayLike, args: tuple) -> tuple:
        x = jnp.asarray(x)  # a sample straight from a (NumPy) dataset works too
        if self.params_normalizer is not None and args:
            args = (self.params_normalizer.encode(jnp.asarray(args[0])), *args[1:])
        return (self.input_normalizer.encode(x), *args)
