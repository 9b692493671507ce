"""Streaming from HDF5: chunks hold exactly the requested samples in the requested order
(read ahead in a thread), the streamed normalisers equal `Normalizer.fit` on the whole array,
and `fit` trains chunk by chunk far below the mean-prediction baseline, deterministically."""

import jax
import numpy as np
import optax
import pytest
from helpers import EPS32, assert_within

from jaxops import models, train
from jaxops.data import Dataset, Normalizer, write_dataset
from jaxops.data.stream import ChunkedArrays, fit_normalizers
from jaxops.train.metrics import mean_prediction_error


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    rng = np.random.default_rng(0)
    inputs = rng.normal(2.0, 3.0, (23, 2, 9, 9)).astype(np.float32)
    outputs = rng.normal(-1.0, 0.5, (23, 1, 9, 9)).astype(np.float32)
    coords = {"x0": np.linspace(0, 1, 9), "x1": np.linspace(0, 1, 9)}
    path = tmp_path_factory.mktemp("stream") / "data.h5"
    write_dataset(Dataset({"inputs": inputs, "outputs": outputs}, coords, {}), path)
    return path, inputs, outputs


def test_chunks_in_the_requested_order(stored):
    path, inputs, outputs = stored
    source = ChunkedArrays(path, ["inputs", "outputs"], start=3, stop=20, chunk_size=5, subsample=2)
    assert len(source) == 17 and source.n_chunks == 4
    chunks = list(source.chunks([2, 0, 3, 1]))
    assert [len(c[0]) for c in chunks] == [5, 5, 2, 5]
    np.testing.assert_array_equal(chunks[0][0], inputs[13:18, :, ::2, ::2])
    np.testing.assert_array_equal(chunks[2][1], outputs[18:20, :, ::2, ::2])
    np.testing.assert_array_equal(np.concatenate([chunks[i][0] for i in (1, 3, 0, 2)]),
                                  inputs[3:20, :, ::2, ::2])  # fmt: skip


@pytest.mark.parametrize("kind", ["global", "pointwise"])
def test_streamed_normalizer_equals_the_whole_array_fit(stored, kind):
    path, inputs, _ = stored
    source = ChunkedArrays(path, ["inputs", "outputs"], stop=20, chunk_size=6)
    streamed, whole = fit_normalizers(source, kind)[0], Normalizer.fit(inputs[:20], kind)
    # The stream sums in float64, Normalizer.fit in float32 over N = 20 · 81 values per
    # channel (global) or 20 per point (pointwise), in any order: the mean within
    # N eps · mean|x|, the std within N eps / 2 relative (+ 1 eps for the stream's own rounding
    # to float32). The std without the Bessel factor would be off by 1 / (2N) >= 3.1e-4.
    axes = (0, 2, 3) if kind == "global" else (0,)
    n = int(np.prod([inputs[:20].shape[a] for a in axes]))
    mean_abs = np.mean(np.abs(inputs[:20].astype(np.float64)), axis=axes, keepdims=True)[0]
    assert_within(streamed.mean, whole.mean, (n + 1) * EPS32 * mean_abs)
    np.testing.assert_allclose(streamed.std, whole.std, rtol=(n / 2 + 1) * EPS32)


def test_bad_requests_are_named(stored):
    path = stored[0]
    with pytest.raises(Exception, match="has no array 'trajectories'"):
        ChunkedArrays(path, ["trajectories"], chunk_size=4)
    with pytest.raises(Exception, match=r"samples \[0, 30\) are not inside the 23"):
        ChunkedArrays(path, ["inputs"], stop=30, chunk_size=4)


def test_fit_streams_chunks_and_learns(small_darcy, tmp_path):
    train_set, test_set = small_darcy
    path = write_dataset(Dataset(dict(train_set.arrays), train_set.coords, {}), tmp_path / "d.h5")
    # Chunks of 65, 65, 65 and 5 samples: the last has no whole minibatch of 10 and is skipped.
    source = ChunkedArrays(path, ["inputs", "outputs"], chunk_size=65)

    def run():
        model = models.FNO(1, 1, (6, 6), width=16, depth=3, projection_width=32,
                           key=jax.random.key(0))  # fmt: skip
        optimizer = optax.adam(optax.cosine_decay_schedule(3e-3, 12 * 18))
        return train.fit(model, source, (test_set.inputs, test_set.outputs), epochs=12,
                         optimizer=optimizer, batch_size=10, key=jax.random.key(1),
                         progress=False)  # fmt: skip

    result = run()
    baseline = mean_prediction_error(train_set.outputs, test_set.outputs)
    assert result.history[-1]["test_rel_l2"] < baseline / 3
    assert run().history[-1]["test_rel_l2"] == result.history[-1]["test_rel_l2"]
