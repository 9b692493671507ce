import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxops.train.optim import OptimConfig, make_optimizer


def config(**overrides):
    base = dict(
        name="adam",
        lr=1e-3,
        weight_decay=0.0,
        schedule="constant",
        step_epochs=2,
        gamma=0.5,
        warmup_epochs=0,
    )
    return OptimConfig(**{**base, **overrides})


def test_step_schedule_halves_every_step_epochs():
    _, schedule = make_optimizer(config(schedule="step"), steps_per_epoch=10, epochs=8)
    for step, expected in [(0, 1e-3), (19, 1e-3), (20, 5e-4), (39, 5e-4), (40, 2.5e-4)]:
        assert float(schedule(step)) == pytest.approx(expected)


def test_cosine_schedule_with_warmup():
    _, schedule = make_optimizer(config(schedule="cosine", warmup_epochs=1), 10, 5)
    assert float(schedule(0)) == 0.0
    assert float(schedule(5)) == pytest.approx(5e-4)
    assert float(schedule(10)) == pytest.approx(1e-3)
    # Cosine decay from step 10 to 50: halfway (step 30) is half the peak.
    assert float(schedule(30)) == pytest.approx(5e-4, rel=1e-5)
    assert float(schedule(50)) == pytest.approx(0.0, abs=1e-9)


def test_adam_weight_decay_is_added_to_the_gradient():
    """`adam` = torch.optim.Adam(weight_decay): the first step on g + λw has size lr."""
    params = {"w": jnp.array([2.0, -1.0])}
    grads = {"w": jnp.array([0.0, 0.0])}
    optimizer, _ = make_optimizer(config(weight_decay=0.1), 1, 1)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    # Adam's first step is −lr · sign(g_eff) with g_eff = λw.
    np.testing.assert_allclose(updates["w"], [-1e-3, 1e-3], rtol=1e-4)
    adamw, _ = make_optimizer(config(name="adamw", weight_decay=0.1), 1, 1)
    updates, _ = adamw.update(grads, adamw.init(params), params)
    np.testing.assert_allclose(updates["w"], -1e-3 * 0.1 * params["w"], rtol=1e-5)


def test_optimizer_is_an_optax_transformation():
    optimizer, _ = make_optimizer(config(), 1, 1)
    assert isinstance(optimizer, optax.GradientTransformation)
    jax.jit(optimizer.init)({"w": jnp.ones(3)})
