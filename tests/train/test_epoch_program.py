"""The two epoch programs train alike: a host loop over the compiled step (`steps`) gives the
scanned epoch's loss curve to float rounding, and `auto` takes the host loop for a
convolutional model on CPU and the scan for the FNO."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops import models, train
from jaxops.data.normalize import Normalizer
from jaxops.train.epoch import choose_program, make_step, primitive_names

CONFIGS = {
    "fno": dict(modes=(4, 4), width=8, depth=2, projection_width=16),
    "unet": dict(width=4, levels=2),
}


def fit(name, program, small_darcy, optimizer):
    train_set, test_set = small_darcy
    model = models.build(name, in_channels=1, out_channels=1, key=jax.random.key(0),
                         **CONFIGS[name])  # fmt: skip
    return train.fit(
        model,
        (train_set.inputs[:60], train_set.outputs[:60]),
        (test_set.inputs, test_set.outputs),
        optimizer=optimizer,
        epochs=2,
        batch_size=10,
        key=jax.random.key(1),
        progress=False,
        epoch_program=program,
    )


def test_host_loop_and_scan_give_the_same_loss_curve(small_darcy):
    sgd = optax.sgd(1e-2)
    scan, steps = (fit("unet", p, small_darcy, sgd) for p in ("scan", "steps"))
    # The same step, compiled inside a loop or alone: XLA may fuse differently, so the two
    # agree to float rounding over 12 SGD steps (measured 2e-6; 2e-5 is the tolerance of the
    # parallel tests), while a different batch or order changes the loss in the second
    # digit. (Adam is no test of this: dividing by sqrt(v) of near-zero first gradients
    # amplifies rounding to 2e-4 after 6 steps, for either program.)
    for a, b in zip(scan.history, steps.history, strict=True):
        np.testing.assert_allclose(a["train_loss"], b["train_loss"], rtol=2e-5)
        np.testing.assert_allclose(a["test_rel_l2"], b["test_rel_l2"], rtol=2e-5)
    assert steps.history[-1]["train_loss"] < steps.history[0]["train_loss"]


@pytest.mark.parametrize("name, expected", [("unet", "steps"), ("fno", "scan")])
def test_auto_runs_convolutional_models_as_a_host_loop_on_cpu(name, expected, small_darcy):
    model = models.build(name, in_channels=1, out_channels=1, key=jax.random.key(0),
                         **CONFIGS[name])  # fmt: skip
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimizer = optax.adam(1e-3)
    x = jnp.asarray(small_darcy[0].inputs[:4])
    data = (x, jnp.asarray(small_darcy[0].outputs[:4]), ())

    def item_loss(model, data, item, progress):
        return jnp.mean((model(data[0][item[0]]) - data[1][item[0]]) ** 2)

    step = make_step(item_loss, lambda h: optimizer, static)
    norms = (Normalizer.fit(x), Normalizer.fit(data[1]))
    args = (params, optimizer.init(params), norms, {}, data,
            jnp.arange(4, dtype=jnp.int32)[:, None], jnp.float32(0.0))  # fmt: skip
    assert jax.default_backend() == "cpu"
    assert choose_program("auto", step, args) == expected
    assert ("conv_general_dilated" in primitive_names(jax.make_jaxpr(step)(*args).jaxpr)) == (
        expected == "steps"
    )
    assert choose_program("scan", step, args) == "scan"
