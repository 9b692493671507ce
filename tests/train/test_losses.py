import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EPS32

from jaxops.train.losses import (
    LOSSES,
    energy_spectrum,
    get_loss,
    h_minus1_norm,
    lp_norm,
    median_relative_l1,
    nrmse,
    relative_h1,
    relative_h_minus1,
    relative_hs,
    relative_l1,
    relative_l2,
    relative_lp,
    sobolev_norm,
    spectrum_error,
)
from jaxops.train.metrics import mean_prediction_error

# Jitted wrappers: one compilation per shape instead of one per primitive (and a jit check).
lp_norm_j = jax.jit(lp_norm, static_argnames=("p", "lengths"))
relative_lp_j = jax.jit(relative_lp, static_argnames=("p",))
sobolev_j = jax.jit(sobolev_norm, static_argnames=("lengths",))
h_minus1_j = jax.jit(h_minus1_norm, static_argnames=("lengths",))
relative_hs_j = jax.jit(relative_hs, static_argnames=("lengths",))
spectrum_j = jax.jit(energy_spectrum, static_argnames=("lengths",))


def test_relative_l2_by_hand(no_type_checks):
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


def _grid(n, length):
    return np.arange(n) * length / n


def _mode_2d(n, length, m1, m2):
    """sin(2π m1 x/L) sin(2π m2 y/L) as one channel `(1, n, n)`."""
    x = _grid(n, length)
    return (np.sin(2 * np.pi * m1 * x / length)[:, None] * np.sin(2 * np.pi * m2 * x / length))[
        None
    ]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_lp_norm_quadrature(x64, dtype):
    # A 32-term sum in any order: <= 32 eps relative; + 1 eps each for rounding sin(x) to
    # `dtype`, the weight h, and the root and its square. (float32: 4.3e-6; a quadrature off by
    # one point would be off by 3 %.)
    eps = float(jnp.finfo(dtype).eps)
    x = _grid(32, 2 * np.pi)
    u = jnp.asarray(np.sin(x)[None], dtype=dtype)
    assert float(lp_norm_j(u, 2, 2 * np.pi)) ** 2 == pytest.approx(np.pi, rel=(32 + 4) * eps)
    # h Σ_j |sin(2πj/n)| = (2π/n)·2 cot(π/n) exactly for even n (→ ∫|sin| = 4)
    expect = 4 * np.pi / 32 / np.tan(np.pi / 32)
    assert float(lp_norm_j(u, 1, 2 * np.pi)) == pytest.approx(expect, rel=(32 + 2) * eps)
    assert float(lp_norm_j(u, np.inf)) == 1.0  # sin(π/2) = 1 on the grid: a max does not round
    # 2D, unequal lengths: ∫∫ 1 over [0, 2) × [0, 3) = 6; Σ 1 over 128 points is exact
    ones = jnp.ones((1, 8, 16), dtype=dtype)
    assert float(lp_norm_j(ones, 2, (2.0, 3.0))) ** 2 == pytest.approx(6.0, rel=4 * eps)
    assert lp_norm_j(u, 2).dtype == dtype
    with pytest.raises(ValueError, match="spatial axes"):
        lp_norm(ones, 2, (1.0, 2.0, 3.0))


def test_relative_lp_by_hand(no_type_checks):
    target = jnp.array([[3.0, -4.0], [0.0, 0.0]])
    pred = jnp.array([[3.0, -2.0], [1.0, 0.0]])  # error (0, 2, 1, 0)
    assert float(relative_lp_j(pred, target, 1)) == pytest.approx(3 / 7)
    assert float(relative_lp_j(pred, target, 2)) == pytest.approx(np.sqrt(5) / 5)
    assert float(relative_lp_j(pred, target, 3)) == pytest.approx(9 ** (1 / 3) / 91 ** (1 / 3))
    assert float(relative_lp_j(pred, target, np.inf)) == pytest.approx(2 / 4)
    assert float(relative_lp_j(pred, target)) == pytest.approx(float(relative_l2(pred, target)))
    with pytest.raises(ValueError, match="differs from target shape"):
        relative_lp(pred, target.T[:1])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("n, length, m", [(32, 1.0, 3), (33, 2 * np.pi, 5), (16, 3.0, 8)])
def test_sobolev_norm_1d_single_mode(x64, dtype, n, length, m):
    # ∫ sin²(2πmx/L) dx = L/2 (m = 8 = n/2 on n = 16 is the Nyquist mode: cos instead)
    x = _grid(n, length)
    wave = np.cos if 2 * m == n else np.sin
    u = jnp.asarray(wave(2 * np.pi * m * x / length)[None], dtype=dtype)
    k2 = (2 * np.pi * m / length) ** 2
    l2sq = length / 2 if 2 * m != n else length  # cos(π j)² = 1
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    for s in (0.0, 1.0, -1.0, 0.5, 2.0):
        expect = np.sqrt((1 + k2) ** s * l2sq)
        np.testing.assert_allclose(sobolev_j(u, s, length), expect, rtol=rtol)
    np.testing.assert_allclose(h_minus1_j(u, length), np.sqrt(l2sq / (1 + k2)), rtol=rtol)
    np.testing.assert_allclose(sobolev_j(u, 0.0, length), lp_norm_j(u, 2, length), rtol=rtol)
    assert sobolev_j(u, 1.0, length).dtype == dtype


def test_sobolev_norm_2d_product_mode_and_channels():
    # sin(2π·2x/L) sin(2π·3y/L) on [0, L)², L = 2: ‖u‖² = L²/4, |k|² = (2π/L)²(4 + 9)
    length = 2.0
    u = jnp.asarray(_mode_2d(24, length, 2, 3), dtype=jnp.float32)
    k2 = (2 * np.pi / length) ** 2 * 13
    np.testing.assert_allclose(sobolev_j(u, 1.0, length), np.sqrt((1 + k2) * 1.0), rtol=1e-5)
    np.testing.assert_allclose(h_minus1_j(u, length), np.sqrt(1.0 / (1 + k2)), rtol=1e-5)
    # unequal lengths (2, 4) over a (24, 16) grid: |k|² = (2π·2/2)² + (2π·3/4)², ‖u‖² = 8/4
    x, y = _grid(24, 2.0), _grid(16, 4.0)
    v = (np.sin(2 * np.pi * 2 * x / 2.0)[:, None] * np.sin(2 * np.pi * 3 * y / 4.0))[None]
    k2 = (2 * np.pi) ** 2 + (2 * np.pi * 3 / 4) ** 2
    np.testing.assert_allclose(
        sobolev_j(jnp.asarray(v, jnp.float32), 1.0, (2.0, 4.0)), np.sqrt(2 * (1 + k2)), rtol=1e-5
    )
    # channels add in squares
    two = jnp.concatenate([u, 2 * u])
    np.testing.assert_allclose(
        sobolev_j(two, 1.0, length), np.sqrt(5) * sobolev_j(u, 1.0, length), rtol=1e-5
    )


def test_relative_sobolev_errors_by_hand(no_type_checks):
    # target = sin(2π x) + 0.5 sin(2π 4x) on [0, 1); error = 0.1 sin(2π 4x)
    x = _grid(32, 1.0)
    t1, t4 = np.sin(2 * np.pi * x), np.sin(2 * np.pi * 4 * x)
    target = jnp.asarray((t1 + 0.5 * t4)[None])
    pred = target + 0.1 * jnp.asarray(t4[None])
    w1, w4 = 1 + (2 * np.pi) ** 2, 1 + (8 * np.pi) ** 2
    for s in (1.0, -1.0, 0.5):
        expect = np.sqrt(0.01 * w4**s / (w1**s + 0.25 * w4**s))
        np.testing.assert_allclose(relative_hs_j(pred, target, s, 1.0), expect, rtol=1e-5)
    rel_h1, rel_h_minus1 = jax.jit(lambda a, b: (relative_h1(a, b), relative_h_minus1(a, b)))(
        pred, target
    )
    np.testing.assert_allclose(rel_h1, relative_hs_j(pred, target, 1.0), rtol=1e-6)
    np.testing.assert_allclose(rel_h_minus1, relative_hs_j(pred, target, -1.0), rtol=1e-6)
    l2 = jax.jit(relative_l2)(pred, target)
    np.testing.assert_allclose(relative_hs_j(pred, target, 0.0), l2, rtol=1e-5)
    with pytest.raises(ValueError, match="differs from target shape"):
        relative_h1(pred, target[:, :16])


def test_relative_h1_gradient_finite_differences(x64):
    pred, target, direction = np.random.default_rng(0).normal(size=(3, 2, 8, 6))
    f = jax.jit(lambda p: relative_h1(p, target, (1.0, 2.0)))
    grad = jax.jit(jax.grad(f))(pred)
    eps = 1e-6
    fd = (f(pred + eps * direction) - f(pred - eps * direction)) / (2 * eps)
    assert grad.dtype == jnp.float64
    np.testing.assert_allclose(np.vdot(grad, direction), fd, rtol=1e-7)
    # vmapped over a batch: the same values, 0 for a perfect prediction
    batch = jax.jit(jax.vmap(f))(np.stack([pred, target]))
    np.testing.assert_allclose(batch, [f(pred), 0.0], atol=1e-12)


def test_nrmse_against_numpy_loops(no_type_checks):
    rng = np.random.default_rng(1)
    target = rng.normal(size=(3, 2, 8, 4)).astype(np.float32)
    pred = target + 0.3 * rng.normal(size=(3, 2, 8, 4)).astype(np.float32)
    out = jax.jit(nrmse)(jnp.asarray(pred), jnp.asarray(target))
    assert out.shape == (3, 2)
    expect = np.empty((3, 2))
    for t in range(3):
        for c in range(2):
            diff = pred[t, c] - target[t, c]
            expect[t, c] = np.sqrt(np.mean(diff**2)) / np.sqrt(np.mean(target[t, c] ** 2))
    np.testing.assert_allclose(out, expect, rtol=1e-5)
    # one sample (C, *spatial) -> (C,)
    single = jax.jit(nrmse, static_argnames="spatial_ndim")(
        jnp.asarray(pred[0]), jnp.asarray(target[0]), spatial_ndim=2
    )
    np.testing.assert_allclose(single, expect[0], rtol=1e-5)
    with pytest.raises(ValueError, match="differs from target shape"):
        nrmse(jnp.asarray(pred), jnp.asarray(target[:2]))


def test_relative_l1_and_median(no_type_checks):
    target = jnp.array([[1.0, -3.0], [0.0, 4.0]])  # Σ|t| = 8
    pred = jnp.array([[2.0, -3.0], [1.0, 2.0]])  # Σ|e| = 1 + 0 + 1 + 2 = 4
    assert float(jax.jit(relative_l1)(pred, target)) == pytest.approx(0.5)
    rng = np.random.default_rng(2)
    targets = rng.normal(size=(5, 2, 6)).astype(np.float32)
    preds = targets + rng.normal(size=(5, 2, 6)).astype(np.float32)
    per_sample = [
        np.abs(p - t).sum() / np.abs(t).sum() for p, t in zip(preds, targets, strict=True)
    ]
    np.testing.assert_allclose(
        jax.jit(median_relative_l1)(jnp.asarray(preds), jnp.asarray(targets)),
        np.median(per_sample),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="differs from target shape"):
        relative_l1(pred, target[:1])


@pytest.mark.parametrize("n", [32, 33])
def test_energy_spectrum_single_modes(n):
    length = 2 * np.pi
    x = _grid(n, length)
    u = jnp.asarray(np.sin(2 * np.pi * 3 * x / length)[None])  # mean u² = 1/2
    k, e = spectrum_j(u, length)
    assert k.shape == e.shape == (n // 2 + 1,)
    np.testing.assert_allclose(k, 2 * np.pi * np.arange(n // 2 + 1) / length)
    expect = np.zeros(n // 2 + 1)
    expect[3] = 0.25
    np.testing.assert_allclose(e, expect, atol=1e-7)
    # 2D: modes (3, 4) and (0, 2) -> shells 5 and 2
    x = _grid(32, 1.0)
    u2 = np.stack(
        [
            np.sin(2 * np.pi * (3 * x[:, None] + 4 * x[None, :])),
            2 * np.cos(2 * np.pi * 2 * x)[None, :] * np.ones((32, 1)),
        ]
    )
    k, e = spectrum_j(jnp.asarray(u2), 1.0)
    assert e.shape == (int(np.rint(16 * np.sqrt(2))) + 1,)
    expect = np.zeros(e.shape)
    expect[5], expect[2] = 0.25, 1.0
    np.testing.assert_allclose(e, expect, atol=1e-6)
    with pytest.raises(ValueError, match="equal lengths"):
        energy_spectrum(jnp.asarray(u2), (1.0, 2.0))


@pytest.mark.parametrize("shape", [(3, 20), (2, 12, 10), (3, 8, 6, 8)])
def test_energy_spectrum_parseval(shape):
    u = jnp.asarray(np.random.default_rng(3).normal(size=shape), dtype=jnp.float32)
    _, e = spectrum_j(u, 3.0)
    expect = 0.5 * np.mean(np.sum(np.asarray(u, np.float64) ** 2, axis=0))
    # float32 FFT and shell sums over N = prod(spatial) points of positive terms: <= N eps each
    # (+ log2 N for the FFT): 4.6e-5 at most. A half-spectrum column counted once instead of
    # twice (or the zero mode twice) loses several % of the energy.
    n = int(np.prod(shape[1:]))
    rtol = (n + np.log2(n)) * EPS32
    np.testing.assert_allclose(jnp.sum(e), expect, rtol=rtol)
    # jit and vmap: 2u scales every rounding exactly by 2, but the batch may sum in another
    # order than the single spectrum: each shell within 2 (n + log2 n) eps
    batch = jax.jit(jax.vmap(lambda v: energy_spectrum(v, 3.0)[1]))(jnp.stack([u, 2 * u]))
    np.testing.assert_allclose(
        batch[1], 4 * batch[0], rtol=2 * rtol, atol=2 * rtol * float(e.max())
    )


def test_spectrum_error_by_hand():
    # target energies 1/4 (shell 1) and 1/16 (shell 4); pred doubles the shell-4 amplitude
    x = _grid(16, 1.0)
    target = np.sin(2 * np.pi * x) + 0.5 * np.sin(2 * np.pi * 4 * x)
    pred = np.sin(2 * np.pi * x) + 1.0 * np.sin(2 * np.pi * 4 * x) + 5.0  # mean is ignored
    expect = (0.25 - 1 / 16) / np.hypot(0.25, 1 / 16)
    err = jax.jit(jax.vmap(spectrum_error))(
        jnp.asarray(np.stack([pred, target])[:, None]),
        jnp.asarray(np.stack([target, target])[:, None]),
    )
    np.testing.assert_allclose(err, [expect, 0.0], rtol=1e-5, atol=1e-7)


def test_loss_registry():
    rng = np.random.default_rng(4)
    target = jnp.asarray(rng.normal(size=(2, 16, 8)), dtype=jnp.float32)
    pred = target + 0.1 * jnp.asarray(rng.normal(size=(2, 16, 8)), dtype=jnp.float32)
    lengths = (2.0, 1.0)
    assert set(LOSSES) == {"rel_l2", "rel_l1", "rel_h1", "rel_h_minus1", "rel_hs", "mse"}
    expect = jax.jit(
        lambda a, b: {
            "rel_l2": relative_l2(a, b),
            "rel_l1": relative_l1(a, b),
            "rel_h1": relative_h1(a, b, lengths),
            "rel_h_minus1": relative_h_minus1(a, b, lengths),
            "rel_hs": relative_hs(a, b, 0.5, lengths),
        }
    )(pred, target)

    losses = {name: get_loss(name, lengths=lengths, s=0.5) for name in LOSSES}
    losses["unbound_rel_h1"] = lambda a, b: LOSSES["rel_h1"](a, b, lengths=lengths)
    expect["unbound_rel_h1"] = expect["rel_h1"]
    got = jax.jit(lambda a, b: {name: loss(a, b) for name, loss in losses.items()})(pred, target)
    for name in expect:
        np.testing.assert_allclose(got[name], expect[name], rtol=1e-6)
    # mse: a mean of 256 float32 squared differences, within 256 eps of the float64 value
    difference = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
    mse = np.mean(difference**2)
    np.testing.assert_allclose(got["mse"], mse, rtol=256 * np.finfo(np.float32).eps)
    with pytest.raises(ValueError, match="unknown loss 'rel_h2'; choose one of mse, rel_h1"):
        get_loss("rel_h2")
