"""CAPE's auxiliary loss (Takamoto et al., ICML 2023): training adds the weighted loss of the
model's own second estimate to every loss term, each pair and each rollout step, in
physical units through `data.Normalized`; the prediction itself is unchanged."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxops import models
from jaxops.data.normalize import Normalized, Normalizer
from jaxops.train import rollout
from jaxops.train.loop import pair_objective
from jaxops.train.losses import relative_l2


def cape(weight):
    return models.ParameterConditioned(
        1, 1, 1, "fno", dict(modes=(4,), width=8, depth=1), cape_modes=(4,), cape_width=4,
        auxiliary_weight=weight, key=jr.key(0),
    )  # fmt: skip


def test_pair_loss_adds_the_weighted_loss_of_capes_own_estimate_in_physical_units():
    k1, k2, k3 = jr.split(jr.key(1), 3)
    x = 2.0 + jr.normal(k1, (6, 1, 16))
    y = -1.0 + 3.0 * jr.normal(k2, (6, 1, 16))
    p = jr.uniform(k3, (6, 1), minval=0.1, maxval=0.5)
    norms = [Normalizer.fit(a, "global") for a in (x, y, p)]
    model = Normalized(cape(0.3), *norms)
    objective = pair_objective(x, y, relative_l2, conditions=(p,))
    item = jnp.array([2])
    value = objective.item_loss(model, objective.data, item, 0.0)

    # By hand: the prediction's loss, and the CAPE module's output decoded by the output
    # normaliser, compared with the same target.
    inner = model.model
    xe, pe = norms[0].encode(x[2]), norms[2].encode(p[2])
    estimate = norms[1].decode(inner.cape(xe, pe))
    expected = relative_l2(model(x[2], p[2]), y[2]) + 0.3 * relative_l2(estimate, y[2])
    assert float(value) == pytest.approx(float(expected), rel=1e-6)

    without = Normalized(cape(0.0), *norms)  # same weights, no auxiliary term
    plain = objective.item_loss(without, objective.data, item, 0.0)
    assert float(plain) == pytest.approx(float(relative_l2(without(x[2], p[2]), y[2])), rel=1e-6)
    assert float(value) > float(plain)


@pytest.mark.parametrize("mode", ["unrolled", "curriculum"])
def test_every_rollout_step_adds_the_auxiliary_loss_from_its_own_input(mode, x64):
    traj = jr.normal(jr.key(2), (1, 5, 1, 8), dtype=jnp.float64)
    model = lambda u: 0.9 * u  # noqa: E731
    estimate = lambda u: 1.1 * u + 0.1  # noqa: E731
    mse = lambda a, b: jnp.mean((a - b) ** 2)  # noqa: E731
    item = jnp.array([0, 1])
    value = rollout.unrolled_loss(model, traj, item, mse, history=1, steps=3, mode=mode,
                                  progress=1.0, auxiliary=(estimate, 0.5))  # fmt: skip
    # By hand: progress 1 feeds every prediction back (the curriculum's end is "unrolled").
    state, terms = traj[0, 1], []
    for k in range(3):
        target = traj[0, 2 + k]
        terms.append(mse(model(state), target) + 0.5 * mse(estimate(state), target))
        state = model(state)
    assert float(value) == pytest.approx(float(np.mean(terms)), rel=1e-12)
    one = rollout.one_step_loss(model, traj, item, mse, auxiliary=(estimate, 0.5))
    assert float(one) == pytest.approx(float(terms[0]), rel=1e-12)


def test_the_auxiliary_estimate_needs_a_target_shaped_like_the_input():
    with pytest.raises(ValueError, match="auxiliary_weight=0"):
        models.ParameterConditioned(2, 1, 1, "fno", dict(modes=(4,), width=8), cape_modes=(4,),
                                    auxiliary_weight=0.1, key=jr.key(0))  # fmt: skip
    with pytest.raises(ValueError, match="auxiliary_weight must be >= 0"):
        cape(-0.1)


def test_the_shell_config_trains_capes_auxiliary_estimate_with_the_papers_weight():
    from jaxops import experiment

    config = experiment.compose(["experiment=burgers_cape"])
    built = models.build("cape", in_channels=1, out_channels=1, key=jax.random.key(0),
                         **models.config_kwargs(config.model))  # fmt: skip
    assert built.auxiliary_weight == config.model.auxiliary_weight == 0.1
