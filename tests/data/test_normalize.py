import jax.numpy as jnp
import numpy as np
import pytest

from jaxops.data import Normalized, Normalizer


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.normal(3.0, 2.0, size=(50, 2, 6, 5)) * np.array([1, 10])[:, None, None])


def test_global_statistics_are_per_channel(batch):
    norm = Normalizer.fit(batch, "global")
    assert norm.mean.shape == (2, 1, 1)
    np.testing.assert_allclose(
        norm.mean[:, 0, 0], np.mean(np.asarray(batch), axis=(0, 2, 3)), rtol=1e-5
    )
    np.testing.assert_allclose(
        norm.std[:, 0, 0], np.std(np.asarray(batch), axis=(0, 2, 3), ddof=1), rtol=1e-5
    )
    encoded = jnp.stack([norm.encode(x) for x in batch])
    np.testing.assert_allclose(encoded.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(encoded.std(axis=(0, 2, 3), ddof=1), 1, atol=1e-4)


@pytest.mark.parametrize("kind", ["global", "pointwise", "none"])
def test_decode_inverts_encode(batch, kind):
    norm = Normalizer.fit(batch, kind)
    np.testing.assert_allclose(norm.decode(norm.encode(batch[0])), batch[0], rtol=1e-5, atol=1e-5)


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
    np.testing.assert_allclose(model(batch[3]), 2 * batch[3] + 1, rtol=1e-4, atol=1e-4)
