"""Conv and ConvTranspose against loop-over-offsets numpy references, for every padding mode,
strides and odd sizes."""

import itertools

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import EPS32, assert_within, normal

from jaxops.layers.conv import Conv, ConvTranspose, padding_for

SCIPY_MODE = {"zeros": "constant", "circular": "wrap", "reflect": "mirror", "replicate": "nearest"}


def scipy_conv(x, weight, bias, mode, stride):
    """Cross-correlation per (out, in) channel pair with scipy.ndimage, then subsampled."""
    out = np.zeros((weight.shape[0], *x.shape[1:]))
    for o, c in itertools.product(range(weight.shape[0]), range(weight.shape[1])):
        out[o] += ndi.correlate(x[c], weight[o, c], mode=SCIPY_MODE[mode], cval=0.0)
    out += bias.reshape(-1, 1, 1)
    return out[:, :: stride[0], :: stride[1]]


def transposed_reference(x, weight, size, stride, periodic):
    """out[o, i] = Σ_{c, j, κ} w[o, c, κ] x[c, j] where i = s·j + κ − (k−1)//2 (per axis)."""
    out = np.zeros((weight.shape[0], *size))
    k = weight.shape[2:]
    for j0, j1 in itertools.product(*map(range, x.shape[1:])):
        for a, b in itertools.product(*map(range, k)):
            i0, i1 = stride * j0 + a - (k[0] - 1) // 2, stride * j1 + b - (k[1] - 1) // 2
            if periodic:
                i0, i1 = i0 % size[0], i1 % size[1]
            elif not (0 <= i0 < size[0] and 0 <= i1 < size[1]):
                continue
            out[:, i0, i1] += weight[:, :, a, b] @ x[:, j0, j1]
    return out


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
@pytest.mark.parametrize("stride, size", [(1, (9, 12)), (2, (9, 12))])
def test_conv_matches_scipy(mode, stride, size, getkey):
    conv = Conv(2, 3, 2, 3, stride=stride, padding_mode=mode, key=getkey())
    x = np.asarray(normal((3, *size)))
    weight, bias = np.asarray(conv.weight), np.asarray(conv.bias)
    expected = scipy_conv(x, weight, bias, mode, (stride,) * 2)
    assert expected.shape[1:] == tuple(-(-n // stride) for n in size)
    # Each output sums 3 · 3 · 3 products and the bias in float32, in an order of XLA's
    # choosing: within 28 eps · (|w| * |x| + |b|) (the same correlation of magnitudes).
    magnitude = scipy_conv(np.abs(x), np.abs(weight), np.abs(bias), mode, (stride,) * 2)
    assert_within(conv(jnp.asarray(x)), expected, 28 * EPS32 * magnitude)


def test_depthwise_conv_is_per_channel(getkey):
    conv = Conv(1, 4, 4, 5, groups=4, key=getkey())
    x = normal((4, 20))
    for c in range(4):
        single = ndi.correlate(np.asarray(x[c]), np.asarray(conv.weight[c, 0]), mode="constant")
        np.testing.assert_allclose(conv(x)[c], single + conv.bias[c], atol=1e-5)


@pytest.mark.parametrize("kernel", [3, 4])
@pytest.mark.parametrize("size, mode", [((8, 6), "zeros"), ((9, 7), "zeros"), ((8, 6), "circular")])
def test_conv_transpose_places_coarse_node_j_on_fine_node_2j(kernel, size, mode, getkey):
    up = ConvTranspose(2, 2, 3, kernel, stride=2, padding_mode=mode, key=getkey())
    coarse = tuple(-(-n // 2) for n in size)
    x = np.asarray(normal((2, *coarse)))
    expected = transposed_reference(x, np.asarray(up.weight), size, 2, mode == "circular")
    np.testing.assert_allclose(up(jnp.asarray(x), size), expected, atol=1e-5)


def test_conv_transpose_with_zeros_is_the_adjoint_of_a_strided_conv(getkey):
    """⟨T x, y⟩ = ⟨x, C y⟩ with C the stride-2 correlation by the channel-transposed kernel."""
    up = ConvTranspose(2, 3, 2, 3, stride=2, key=getkey())
    down = Conv(2, 2, 3, 3, stride=2, use_bias=False, key=getkey())
    down = eqx.tree_at(lambda c: c.weight, down, jnp.swapaxes(up.weight, 0, 1))
    x, y = normal((3, 5, 4)), normal((2, 9, 8), seed=1)
    # Both sides sum the same products w x y in other orders: T x (<= 3 · 4 terms) then a
    # 144-term dot product, against C y (2 · 9 terms) then a 60-term one; each within its
    # count · eps · ⟨|T| |x|, |y|⟩ (1.6e-3 here). With C's kernel flipped (a convolution, not
    # a correlation) the two differ by 4.8, 3000 times that.
    magnitude = jnp.vdot(
        eqx.tree_at(lambda c: c.weight, up, jnp.abs(up.weight))(jnp.abs(x), (9, 8)), jnp.abs(y)
    )
    atol = (12 + 144 + 18 + 60) * EPS32 * float(magnitude)
    np.testing.assert_allclose(jnp.vdot(up(x, (9, 8)), y), jnp.vdot(x, down(y)), rtol=0, atol=atol)


def test_bad_arguments_are_named(getkey):
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        Conv(2, 1, 1, 4, key=getkey())
    with pytest.raises(ValueError, match="groups=3 must divide"):
        Conv(2, 4, 4, 3, groups=3, key=getkey())
    with pytest.raises(ValueError, match="padding must be a boundary condition"):
        padding_for("periodc")
    with pytest.raises(ValueError, match="expected one sample"):
        Conv(2, 2, 1, key=getkey())(jnp.ones((3, 8, 8)))
    with pytest.raises(ValueError, match="needs input"):
        ConvTranspose(2, 2, 2, key=getkey())(jnp.ones((2, 4, 4)), (10, 8))
