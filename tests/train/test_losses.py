import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxops.train.losses import relative_l2
from jaxops.train.metrics import mean_prediction_error


def test_relative_l2_by_hand():
    target = jnp.array([[1.0, 2.0], [2.0, 0.0]])  # norm 3
    pred = target + jnp.array([[0.0, 0.0], [0.0, 1.5]])  # error norm 1.5
    assert float(relative_l2(pred, target)) == pytest.approx(0.5)
    batch = jax.vmap(relative_l2)(jnp.stack([pred, target]), jnp.stack([target, target]))
    np.testing.assert_allclose(batch, [0.5, 0.0])
    with pytest.raises(ValueError, match="differs from target shape"):
        relative_l2(pred, target[:1])


def test_mean_prediction_baseline_by_hand():
    train = np.array([[1.0, 1.0], [3.0, 3.0]])  # mean (2, 2)
    test = np.array([[2.0, 2.0], [4.0, 0.0]])  # errors 0 and |(2, -2)|/4 = 0.7071
    assert mean_prediction_error(train, test) == pytest.approx(np.sqrt(8) / 4 / 2)
