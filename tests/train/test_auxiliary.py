"""CAPE's auxiliary loss (Takamoto et al., ICML 2023): training adds the weighted loss of the
model's own second estimate to every loss term, each pair and each rollout step, in
physical units through `data.Normalized`; the prediction itself is unchanged."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import normal

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
    x = 2.0 + normal((6, 1, 16), seed=1)
    y = -1.0 + 3.0 * normal((6, 1, 16), seed=2)
    p = jnp.asarray(np.random.default_rng(3).uniform(0.1, 0.5, (6, 1)), jnp.float32)
    norms = [Normalizer.fit(a, "global") for a in (x, y, p)]
    model = Normalized(cape(0.3), *norms)
    without = Normalized(cape(0.0), *norms)  # same weights, no auxiliary term
    objective = pair_objective(x, y, relative_l2, conditions=(p,))
    item = jnp.array([2])

    @eqx.filter_jit  # one program, not one per operation
    def losses(model, without):
        value = objective.item_loss(model, objective.data, item, 0.0)
        # By hand: the prediction's loss, and the CAPE module's output decoded by the output
        # normaliser, compared with the same target.
        inner = model.model
        xe, pe = norms[0].encode(x[2]), norms[2].encode(p[2])
        estimate = norms[1].decode(inner.cape(xe, pe))
        expected = relative_l2(model(x[2], p[2]), y[2]) + 0.3 * relative_l2(estimate, y[2])
        plain = objective.item_loss(without, objective.data, item, 0.0)
        return value, expected, plain, relative_l2(without(x[2], p[2]), y[2])

    value, expected, plain, plain_expected = losses(model, without)
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
    assert float(plain) == pytest.approx(float(plain_expected), rel=1e-6)
    assert float(value) > float(plain)


@pytest.mark.parametrize("mode", ["unrolled", "curriculum"])
def test_every_rollout_step_adds_the_auxiliary_loss_from_its_own_input(mode, x64):
    traj = jnp.asarray(np.random.default_rng(2).standard_normal((1, 5, 1, 8)))  # float64
    model = lambda u: 0.9 * u  # noqa: E731
    estimate = lambda u: 1.1 * u + 0.1  # noqa: E731
    mse = lambda a, b: jnp.mean((a - b) ** 2)  # noqa: E731
    item = jnp.array([0, 1])
    value = jax.jit(
        lambda traj: rollout.unrolled_loss(model, traj, item, mse, history=1, steps=3, mode=mode,
                                           progress=1.0, auxiliary=(estimate, 0.5))
    )(traj)  # fmt: skip
    # By hand: progress 1 feeds every prediction back (the curriculum's end is "unrolled"),
    # on the host (numpy states).
    traj = np.asarray(traj)
    state, terms = traj[0, 1], []
    for k in range(3):
        target = traj[0, 2 + k]
        terms.append(mse(model(state), target) + 0.5 * mse(estimate(state), target))
        state = model(state)
    assert float(value) == pytest.approx(float(np.mean(terms)), rel=1e-12)
    one = jax.jit(lambda traj: rollout.one_step_loss(model, traj, item, mse,
                                                     auxiliary=(estimate, 0.5)))(traj)  # fmt: skip
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
