import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import EPS32

from jaxops._config import ConfigError, validate
from jaxops.train.optim import OPTIMIZERS, OptimConfig, make_optimizer

LR, WD = 1e-3, 0.1


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


def first_update(cfg, grads, params, **kwargs):
    optimizer, _ = make_optimizer(cfg, 1, 1, **kwargs)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    return updates


def run(optimizer, params, grads_list):
    """Apply `optimizer` to the given gradients in turn; the list of updates."""
    state, out = optimizer.init(params), []
    for grads in grads_list:
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        out.append(updates)
    return out


# Schedules, against their closed forms.


def test_constant_schedule():
    _, schedule = make_optimizer(config(schedule="constant", lr=3e-3), 10, 5)
    for step in (0, 1, 17, 49, 50, 1000):
        assert float(schedule(step)) == pytest.approx(3e-3)


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
    for step in (3, 12, 21, 44):
        expected = (
            1e-3 * step / 10 if step < 10 else 1e-3 * (1 + math.cos(math.pi * (step - 10) / 40)) / 2
        )
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("pct_start, div, final_div", [(0.3, 25.0, 1e4), (0.25, 10.0, 100.0)])
def test_onecycle_schedule(pct_start, div, final_div):
    cfg = config(
        schedule="onecycle", pct_start=pct_start, div_factor=div, final_div_factor=final_div
    )
    _, schedule = make_optimizer(cfg, steps_per_epoch=10, epochs=10)
    total, peak = 100, int(pct_start * 100)
    start, end = 1e-3 / div, 1e-3 / (div * final_div)

    def expected(step):
        if step <= peak:
            return start + (1e-3 - start) * (1 - math.cos(math.pi * step / peak)) / 2
        return end + (1e-3 - end) * (1 + math.cos(math.pi * (step - peak) / (total - peak))) / 2

    rates = np.array([float(schedule(s)) for s in range(total + 1)])
    assert rates[0] == pytest.approx(start, rel=1e-5)
    assert int(np.argmax(rates)) == peak and rates[peak] == pytest.approx(1e-3, rel=1e-6)
    assert rates[total] == pytest.approx(end, rel=1e-4)
    assert float(schedule(total + 50)) == pytest.approx(end, rel=1e-4)
    for step in (1, peak // 2, peak + 1, (peak + total) // 2, total - 1):
        assert rates[step] == pytest.approx(expected(step), rel=1e-4, abs=1e-12)


# First updates against hand-computed values.


def test_adam_first_step_is_minus_lr_sign():
    g = jnp.array([3.0, -0.2, 1e-3, -40.0])
    updates = first_update(config(), {"w": g}, {"w": jnp.ones(4)})
    np.testing.assert_allclose(updates["w"], -LR * np.sign(g), rtol=1e-4)


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


def test_adamw_first_step_is_sign_plus_decoupled_decay():
    w, g = jnp.array([2.0, -1.0, 0.5]), jnp.array([0.3, 0.3, -5.0])
    updates = first_update(config(name="adamw", weight_decay=WD), {"w": g}, {"w": w})
    np.testing.assert_allclose(updates["w"], -LR * (np.sign(g) + WD * w), rtol=1e-4)


def test_lion_two_steps_by_hand():
    """Lion (β₁ 0.9, β₂ 0.99): u = −lr (sign((1−β₁) g + β₁ m) + λ w), m ← β₂ m + (1−β₂) g."""
    w, g1 = jnp.array([2.0, -1.0]), jnp.array([1.0, -3.0])
    g2 = jnp.array([-5e-4, 1.0])  # sign(g2) ≠ sign(0.1 g2 + 0.9 · 0.01 g1) in component 0
    optimizer, _ = make_optimizer(config(name="lion", weight_decay=WD), 1, 1)
    u1, u2 = run(optimizer, {"w": w}, [{"w": g1}, {"w": g2}])
    np.testing.assert_allclose(u1["w"], -LR * (np.sign(g1) + WD * w), rtol=1e-5)
    w1 = w + u1["w"]
    direction = np.sign(0.1 * g2 + 0.9 * 0.01 * g1)
    assert direction[0] == 1.0
    np.testing.assert_allclose(u2["w"], -LR * (direction + WD * w1), rtol=1e-5)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_two_steps_by_hand(nesterov):
    """torch.optim.SGD: d = g + λw; b ← μ b + d; u = −lr (d + μ b if nesterov else b)."""
    mu, lr = 0.9, 0.1
    w, g1, g2 = jnp.array([1.0, -2.0]), jnp.array([0.5, 0.25]), jnp.array([-1.0, 2.0])
    cfg = config(name="sgd", lr=lr, weight_decay=WD, momentum=mu, nesterov=nesterov)
    optimizer, _ = make_optimizer(cfg, 1, 1)
    u1, u2 = run(optimizer, {"w": w}, [{"w": g1}, {"w": g2}])
    d1 = g1 + WD * w
    b1 = d1
    np.testing.assert_allclose(u1["w"], -lr * (d1 + mu * b1 if nesterov else b1), rtol=1e-6)
    d2 = g2 + WD * (w + u1["w"])
    b2 = mu * b1 + d2
    np.testing.assert_allclose(u2["w"], -lr * (d2 + mu * b2 if nesterov else b2), rtol=1e-6)


# Clipping and the weight-decay mask.


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_clipping_is_applied_first(name):
    """Gradients of norm 10 and 20 with clip_norm 1 = the same gradients scaled to norm 1,
    unclipped; the weight decay is not clipped."""
    params = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([[0.5, 0.5]])}
    grads = {"a": jnp.array([6.0, 0.0]), "b": jnp.array([[0.0, -8.0]])}  # norm 10
    steps = [grads, jax.tree.map(lambda g: -2.0 * g, grads)]
    clipped = make_optimizer(config(name=name, weight_decay=WD, clip_norm=1.0), 1, 1)[0]
    plain = make_optimizer(config(name=name, weight_decay=WD), 1, 1)[0]
    grads_over = lambda c: jax.tree.map(lambda g: g / c, grads)  # noqa: E731
    scaled = [grads_over(10.0), grads_over(-10.0)]
    for got, want in zip(run(clipped, params, steps), run(plain, params, scaled), strict=True):
        np.testing.assert_allclose(got["a"], want["a"], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(got["b"], want["b"], rtol=1e-5, atol=1e-9)
    # Off (0 or null) and a bound above the norm leave the gradient alone.
    for clip_norm in (0.0, None, 20.0):
        other = make_optimizer(config(name=name, weight_decay=WD, clip_norm=clip_norm), 1, 1)[0]
        unclipped = run(plain, params, steps)
        for got, want in zip(run(other, params, steps), unclipped, strict=True):
            np.testing.assert_allclose(got["a"], want["a"], rtol=1e-6)


def mixed_params():
    """Biases, a matrix, a complex spectral weight and an equinox-style None leaf."""
    return {
        "bias": jnp.array([1.0, -2.0]),
        "scale": jnp.array([3.0]),
        "matrix": jnp.array([[1.0, 2.0], [-3.0, 4.0]]),
        "spectral": jnp.array([[[1.0 + 2.0j, -0.5j]]], dtype=jnp.complex64),
        "frozen": None,
    }


@pytest.mark.parametrize("decay", ["all", "matrices"])
def test_weight_decay_mask(decay):
    """Plain SGD (no momentum, lr 1) with zero gradient: the update is −λ w on decayed arrays,
    complex ones included (both parts shrink), 0 on the others; None leaves stay None."""
    params = mixed_params()
    grads = jax.tree.map(jnp.zeros_like, params)
    cfg = config(name="sgd", lr=1.0, weight_decay=WD, momentum=0.0, decay=decay)
    updates = first_update(cfg, grads, params)
    assert updates["frozen"] is None
    for key in ("bias", "scale", "matrix", "spectral"):
        decayed = decay == "all" or params[key].ndim >= 2
        expected = -WD * params[key] if decayed else jnp.zeros_like(params[key])
        assert updates[key].dtype == params[key].dtype
        np.testing.assert_allclose(updates[key], expected, rtol=1e-6)
    # Decoupled decay: the same mask, scaled by lr.
    cfg = config(name="adamw", weight_decay=WD, decay=decay)
    updates = first_update(cfg, grads, params)
    np.testing.assert_allclose(updates["spectral"], -LR * WD * params["spectral"], rtol=1e-5)
    # elementwise, four float32 roundings in all (lr, wd·w, lr·(wd·w) in optax; LR·WD·w here):
    # within 4 · eps/2 relative
    np.testing.assert_allclose(
        updates["bias"], -LR * WD * params["bias"] * (decay == "all"), rtol=2 * EPS32
    )


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_complex_leaf_trains_as_its_real_and_imaginary_parts(name):
    """Three steps on a complex weight, gradients from `jax.grad`, equal three steps on its
    real and imaginary parts stored as two real arrays (as `SpectralConv` stores them)."""
    target = jnp.array([[0.5 - 1.0j, 2.0 + 0.25j], [-1.0 + 3.0j, 0.1j]], dtype=jnp.complex64)
    z0 = jnp.array([[1.0 + 1.0j, -2.0 + 0.5j], [0.0 + 0.0j, 3.0 - 1.0j]], dtype=jnp.complex64)
    bias0 = jnp.array([0.5, -0.5])
    scale = jnp.array([[1.0, 3.0], [0.5, 2.0]])

    def loss_complex(p):
        return jnp.sum(jnp.abs(p["z"] - target) ** 2 * scale) + jnp.sum(p["b"] ** 2)

    def loss_real(p):
        diff = (p["x"] - target.real) ** 2 + (p["y"] - target.imag) ** 2
        return jnp.sum(diff * scale) + jnp.sum(p["b"] ** 2)

    cfg = config(name=name, lr=0.05, weight_decay=WD, decay="matrices", momentum=0.5)
    optimizer, _ = make_optimizer(cfg, 1, 1)
    pc = {"z": z0, "b": bias0, "none": None}
    pr = {"x": z0.real, "y": z0.imag, "b": bias0}
    sc, sr = optimizer.init(pc), optimizer.init(pr)
    for _ in range(3):
        uc, sc = optimizer.update(jax.grad(loss_complex)(pc), sc, pc)
        ur, sr = optimizer.update(jax.grad(loss_real)(pr), sr, pr)
        pc, pr = optax.apply_updates(pc, uc), optax.apply_updates(pr, ur)
    assert pc["none"] is None
    np.testing.assert_allclose(pc["z"].real, pr["x"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pc["z"].imag, pr["y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pc["b"], pr["b"], rtol=1e-5, atol=1e-6)
    assert loss_complex(pc) < loss_complex({"z": z0, "b": bias0})


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_none_leaves_and_complex_leaves_pass_through_jit(name):
    params = mixed_params()
    grads = jax.tree.map(jnp.ones_like, params)
    cfg = config(name=name, weight_decay=WD, decay="matrices", clip_norm=1.0, schedule="cosine")
    optimizer, _ = make_optimizer(cfg, 5, 2)
    state = jax.jit(optimizer.init)(params)
    updates, state = jax.jit(optimizer.update)(grads, state, params)
    assert updates["frozen"] is None
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


# Errors.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "rmsprop", "unknown optimizer 'rmsprop'; use one of"),
        ("schedule", "linear", "unknown schedule 'linear'; use one of"),
        ("decay", "biases", "unknown decay 'biases'; use one of"),
    ],
)
def test_invalid_names_raise_clear_errors(field, value, message):
    cfg = config(**{field: value})
    with pytest.raises(ConfigError, match=message):
        make_optimizer(cfg, 1, 1)
    with pytest.raises(ConfigError, match=f"{field}='{value}' is invalid: it must be one of"):
        validate(cfg)


def test_defaults_of_new_fields_validate():
    cfg = OptimConfig("adam", 1e-3, 0.0, "constant", 1, 1.0, 0)  # the old positional form
    validate(cfg)
    assert (cfg.clip_norm, cfg.decay, cfg.momentum, cfg.nesterov) == (None, "all", 0.9, False)
    assert (cfg.pct_start, cfg.div_factor, cfg.final_div_factor) == (0.3, 25.0, 1e4)


# Sweeps: lr and weight decay as traced scalars.


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_vmapped_lr_and_weight_decay_match_separate_optimizers(name):
    params = {"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.array([0.1, -0.1])}
    steps = [
        {"w": jnp.array([[0.3, -1.0], [2.0, 0.1]]), "b": jnp.array([1.0, -0.5])},
        {"w": jnp.array([[-0.2, 0.4], [1.0, -3.0]]), "b": jnp.array([0.2, 0.3])},
    ]
    cfg = config(name=name, schedule="cosine", warmup_epochs=1, decay="matrices")
    lrs, wds = jnp.array([1e-3, 3e-3, 1e-2]), jnp.array([0.0, 0.1, 0.3])

    def two_steps(lr, wd):
        optimizer, schedule = make_optimizer(cfg, 2, 3, lr=lr, weight_decay=wd)
        return run(optimizer, params, steps)[-1], schedule(1)

    updates, rates = jax.jit(jax.vmap(two_steps))(lrs, wds)
    for i in range(3):
        optimizer, schedule = make_optimizer(
            config(
                name=name,
                schedule="cosine",
                warmup_epochs=1,
                decay="matrices",
                lr=float(lrs[i]),
                weight_decay=float(wds[i]),
            ),
            2,
            3,
        )
        want = run(optimizer, params, steps)[-1]
        assert float(rates[i]) == pytest.approx(float(schedule(1)), rel=1e-6)
        for key in ("w", "b"):
            np.testing.assert_allclose(updates[key][i], want[key], rtol=1e-5, atol=1e-10)

    # The state does not depend on lr: one state, vmapped over lr alone.
    cfg = config(name=name, decay="matrices")
    base, _ = make_optimizer(cfg, 2, 3)
    state = base.init(params)
    update = jax.vmap(
        lambda lr: make_optimizer(cfg, 2, 3, lr=lr)[0].update(steps[0], state, params)[0]
    )(lrs)
    one = base.update(steps[0], state, params)[0]
    np.testing.assert_allclose(update["b"][1], one["b"] * 3.0, rtol=1e-5, atol=1e-12)


# The shipped configs.


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optim_config_composes_and_builds(name):
    from hydra import compose, initialize_config_dir

    from jaxops.experiment.paths import config_dir
    from jaxops.experiment.schema import register_configs, validate_config

    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        composed = compose(config_name="config", overrides=[f"optim={name}"])
    cfg = validate_config(composed).optim
    assert cfg.name == name
    optimizer, schedule = make_optimizer(cfg, 10, 20)
    assert float(schedule(0)) >= 0.0
    params = mixed_params()
    updates = first_update(cfg, jax.tree.map(jnp.ones_like, params), params)
    assert updates["frozen"] is None


def test_optimizer_is_an_optax_transformation():
    optimizer, _ = make_optimizer(config(), 1, 1)
    assert isinstance(optimizer, optax.GradientTransformation)
    jax.jit(optimizer.init)({"w": jnp.ones(3)})
