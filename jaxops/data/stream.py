"""Datasets larger than memory: chunks of samples read from an HDF5 file with prefetch.

`ChunkedArrays` reads arrays of a jaxops dataset file (`inputs`, `outputs`, ...) for samples
`[start, stop)` in chunks of `chunk_size`, in an order chosen per epoch, while the previous
chunk is being trained on: a background thread reads chunk i+1 (h5py releases the GIL during
reads) while the device runs chunk i. `fit_normalizer` computes the training statistics in one
streaming pass (sums in float64), equal to `Normalizer.fit` on the whole array.
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import jax.numpy as jnp
import numpy as np

from .normalize import Normalizer, NormalizerKind
from .store import DatasetError, _existing


class ChunkedArrays:
    """Samples `[start, stop)` of the arrays `names` of a dataset file, chunk by chunk.

    Every `subsample`-th grid point is kept (as `store.load`). Chunks are consecutive sample
    ranges of `chunk_size` (the last may be shorter); `chunks(order)` yields, for each chunk
    index in `order`, a tuple of numpy arrays `(n, *sample_shape)`, one per name.
    """

    def __init__(
        self,
        path: str | Path,
        names: Sequence[str],
        *,
        start: int = 0,
        stop: int | None = None,
        chunk_size: int,
        subsample: int = 1,
    ):
        self.path = _existing(path)
        self.names = tuple(names)
        with h5py.File(self.path, "r") as f:
            missing = [n for n in self.names if n not in f]
            if missing:
                raise DatasetError(f"{self.path} has no array {missing[0]!r}; it has {list(f)}")
            total = len(f[self.names[0]])
            self.shapes = {n: f[n].shape[1:] for n in self.names}
        self.start, self.stop = start, total if stop is None else stop
        if not 0 <= self.start < self.stop <= total:
            raise DatasetError(f"samples [{start}, {stop}) are not inside the {total} of the file")
        if chunk_size < 1:
            raise DatasetError(f"chunk_size must be positive, got {chunk_size}")
        self.chunk_size = chunk_size
        self.subsample = subsample

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def n_chunks(self) -> int:
        return -(-len(self) // self.chunk_size)

    def read(self, index: int) -> tuple[np.ndarray, ...]:
        """Chunk `index` as numpy arrays."""
        lo = self.start + index * self.chunk_size
        hi = min(lo + self.chunk_size, self.stop)
        with h5py.File(self.path, "r") as f:
            out = []
            for name in self.names:
                data = f[name]
                grid = (slice(None, None, self.subsample),) * (data.ndim - 2)
                out.append(data[(slice(lo, hi), slice(None)) + grid])
        return tuple(out)

    def chunks(self, order: Sequence[int]) -> Iterator[tuple[np.ndarray, ...]]:
        """Chunks in `order`, each read in a background thread while the previous is used."""
        order = list(order)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.read, order[0]) if order else None
            for position in range(len(order)):
                chunk = pending.result()
                if position + 1 < len(order):
                    pending = pool.submit(self.read, order[position + 1])
                yield chunk


def fit_normalizer(
    source: ChunkedArrays, which: int, kind: NormalizerKind = "global"
) -> Normalizer:
    """`Normalizer.fit` of array `which` of `source` from one pass over its chunks."""
    if kind == "none":
        first = source.read(0)[which]
        return Normalizer.fit(first[:1], "none")
    count, total, squares = 0, 0.0, 0.0
    for chunk in source.chunks(range(source.n_chunks)):
        x = chunk[which].astype(np.float64)
        axes = (0, *range(2, x.ndim)) if kind == "global" else (0,)
        count += x.size // np.prod([x.shape[a] for a in range(x.ndim) if a not in axes])
        total = total + x.sum(axis=axes)
        squares = squares + (x**2).sum(axis=axes)
    mean = total / count
    std = np.sqrt(np.maximum(squares - count * mean**2, 0.0) / (count - 1))  # unbiased
    sample_ndim = len(source.shapes[source.names[which]])
    pad = lambda a: jnp.asarray(a.reshape(a.shape + (1,) * (sample_ndim - a.ndim)), jnp.float32)
    return Normalizer(pad(mean), pad(std))
