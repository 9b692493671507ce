"""Datasets larger than memory: chunks of samples read from an HDF5 file with prefetch.

`ChunkedArrays` reads arrays of a jaxops dataset file (`inputs`, `outputs`, ...) for samples
`[start, stop)` in chunks of `chunk_size`, in an order chosen per epoch, while the previous
chunk is being trained on: a background thread reads chunk i+1 (h5py releases the GIL during
reads) while the device runs chunk i. `fit_normalizers` computes the training statistics of every
array in one streaming pass (sums in float64), equal to `Normalizer.fit` on the whole array.
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .normalize import Normalizer, NormalizerKind
from .store import DatasetError, existing_dataset


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
        self.path = existing_dataset(path)
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

    @property
    def chunk_sizes(self) -> list[int]:
        """Samples in each chunk: `chunk_size`, the last one possibly fewer."""
        return [min(self.chunk_size, len(self) - lo) for lo in range(0, len(self), self.chunk_size)]

    def read(self, index: int | np.integer) -> tuple[np.ndarray, ...]:
        """Chunk `index` as numpy arrays."""
        lo = self.start + index * self.chunk_size
        hi = lo + self.chunk_sizes[index]
        with h5py.File(self.path, "r") as f:
            out = []
            for name in self.names:
                data = f[name]
                grid = (slice(None, None, self.subsample),) * (data.ndim - 2)
                out.append(data[(slice(lo, hi), slice(None)) + grid])
        return tuple(out)

    def chunks(self, order: ArrayLike | Sequence[int]) -> Iterator[tuple[np.ndarray, ...]]:
        """Chunks in `order`, each read in a background thread while the previous is used."""
        order = list(order)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.read, order[0]) if order else None
            for position in range(len(order)):
                chunk = pending.result()
                if position + 1 < len(order):
                    pending = pool.submit(self.read, order[position + 1])
                yield chunk


def fit_normalizers(
    source: ChunkedArrays, kind: NormalizerKind = "global"
) -> tuple[Normalizer, ...]:
    """`Normalizer.fit` of every array of `source`, from one pass over its chunks."""
    if kind == "none":
        return tuple(Normalizer.fit(a[:1], "none") for a in source.read(0))
    counts = [0] * len(source.names)
    totals, squares = [0.0] * len(source.names), [0.0] * len(source.names)
    for chunk in source.chunks(range(source.n_chunks)):
        for i, array in enumerate(chunk):
            x = array.astype(np.float64)
            axes = (0, *range(2, x.ndim)) if kind == "global" else (0,)
            counts[i] += x.size // np.prod([x.shape[a] for a in range(x.ndim) if a not in axes])
            totals[i] = totals[i] + x.sum(axis=axes)
            squares[i] = squares[i] + (x**2).sum(axis=axes)
    out = []
    for name, count, total, square in zip(source.names, counts, totals, squares, strict=True):
        mean = total / count
        std = np.sqrt(np.maximum(square - count * mean**2, 0.0) / (count - 1))  # unbiased
        trailing = (1,) * (len(source.shapes[name]) - mean.ndim)  # broadcast over the grid
        mean, std = (jnp.asarray(a.reshape(a.shape + trailing), jnp.float32) for a in (mean, std))
        out.append(Normalizer(mean, std))
    return tuple(out)
