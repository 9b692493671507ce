import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32, assert_within

from jaxops.data import Normalized, Normalizer


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.normal(3.0, 2.0, size=(50, 2, 6, 5)) * np.array([1, 10])[:, None, None])


def test_global_statistics_are_per_channel(batch):
    norm = Normalizer.fit(batch, "global")
    assert norm.mean.shape == (2, 1, 1)
    # float32 sums of N = 50·6·5 values per channel, in any order: the mean within
    # N eps · mean|x| (1.9e-4 relative here), the variance within N eps of the mean square
    # deviation, its root within half that. Dropping the Bessel factor N / (N − 1) moves the
    # std by 3.3e-4, more than N eps / 2 = 9e-5.
    n, x = 50 * 6 * 5, np.asarray(batch, np.float64)
    mean_abs = np.mean(np.abs(x), axis=(0, 2, 3))
    assert_within(norm.mean[:, 0, 0], np.mean(x, axis=(0, 2, 3)), n * EPS32 * mean_abs)
    np.testing.assert_allclose(
        norm.std[:, 0, 0], np.std(x, axis=(0, 2, 3), ddof=1), rtol=n * EPS32 / 2
    )
    encoded = jnp.stack([norm.encode(x) for x in batch])
    # mean 0: the mean's own error (relative to the std) + an N-term sum of |z| (mean 0.8 < 1);
    # std 1: the two stds' errors, N eps / 2 each
    atol = n * EPS32 * (mean_abs / np.asarray(norm.std[:, 0, 0]) + 1.0)
    assert_within(encoded.mean(axis=(0, 2, 3)), 0, atol)
    np.testing.assert_allclose(encoded.std(axis=(0, 2, 3), ddof=1), 1, atol=n * EPS32)


@pytest.mark.parametrize("kind", ["global", "pointwise", "none"])
def test_decode_inverts_encode(batch, kind):
    norm = Normalizer.fit(batch, kind)
    # (x − m) / s · s + m rounds 4 times: within 2 eps (|x| + |m|) of x, elementwise
    atol = 2 * EPS32 * (np.abs(batch[0]) + np.abs(norm.mean))
    assert_within(norm.decode(norm.encode(batch[0])), batch[0], atol)


def test_channel_and_dimension_mismatch_is_rejected(batch):
    norm = Normalizer.fit(batch, "global")
    with pytest.raises(ValueError, match="2 channels and 2 spatial axes cannot be applied"):
        norm.encode(jnp.ones((3, 6, 5)))
    with pytest.raises(ValueError, match="vmap over batches"):
        norm.encode(batch[:4])


def test_pointwise_statistics_are_tied_to_the_grid(batch):
    norm = Normalizer.fit(batch, "pointwise")
    assert norm.mean.shape == (2, 6, 5)
    with pytest.raises(ValueError, match="fitted on grid \\(6, 5\\) cannot be applied"):
        norm.encode(jnp.ones((2, 12, 10)))
    Normalizer.fit(batch, "global").encode(jnp.ones((2, 12, 10)))  # global is resolution-free


def test_normalized_model_works_in_physical_units(batch):
    x_norm, y_norm = Normalizer.fit(batch, "global"), Normalizer.fit(2 * batch + 1, "global")
    # A model that is the identity in normalised units maps x to the matching y quantile.
    model = Normalized(lambda z: z, x_norm, y_norm)
    # exact: (x − m_x) / s_x · 2 s_x + 2 m_x + 1. The four statistics are N-term float32 sums
    # (N = 1500), each within N eps: the output within N eps (2 |x − m_x| · 2 + |2 m_x + 1| +
    # 2 |m_x|), at most 0.065 where |2x + 1| reaches 180. Without the output's denormalisation
    # it would be off by |2x + 1| itself.
    n, x = 50 * 6 * 5, np.asarray(batch[3])
    mean = np.asarray(x_norm.mean)
    atol = n * EPS32 * (4 * np.abs(x - mean) + np.abs(2 * mean + 1) + 2 * np.abs(mean))
    assert_within(model(batch[3]), 2 * batch[3] + 1, atol)
