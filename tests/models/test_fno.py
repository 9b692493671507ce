"""FNO: shapes at several resolutions and dimensions, discretisation invariance on
band-limited inputs, translation equivariance, parameter count. What every model promises
(vmap, bfloat16, gradients, no re-tracing): test_every_model.py."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal, trig_field

from jaxops import models
from jaxops.train import count_parameters


def fourier_upsample(u: np.ndarray, factor: int) -> np.ndarray:
    """Trigonometric interpolation of periodic samples `(C, n, m)` onto a grid `factor`× finer."""
    n, m = u.shape[1:]
    spectrum = np.fft.fftshift(np.fft.fft2(u), axes=(1, 2))
    padded = np.zeros((u.shape[0], factor * n, factor * m), complex)
    top, left = (factor * n - n) // 2, (factor * m - m) // 2
    padded[:, top : top + n, left : left + m] = spectrum
    return np.fft.ifft2(np.fft.ifftshift(padded, axes=(1, 2))).real * factor**2


@pytest.mark.parametrize("spatial", [(32, 32), (48, 40), (85, 85)])
def test_shapes_at_several_resolutions(spatial, getkey):
    fno = models.FNO(2, 3, (12, 12), width=16, depth=2, key=getkey())
    out = jax.eval_shape(fno, jax.ShapeDtypeStruct((2, *spatial), jnp.float32))
    assert out.shape == (3, *spatial)
    if spatial == (48, 40):  # and one concrete evaluation
        assert eqx.filter_jit(fno)(jnp.ones((2, *spatial))).shape == (3, *spatial)


@pytest.mark.parametrize("modes, spatial", [((8,), (64,)), ((4, 4, 3), (12, 10, 8))])
def test_one_and_three_dimensions(modes, spatial, getkey):
    fno = models.FNO(1, 2, modes, width=8, depth=2, key=getkey(), domain_padding=0.25)
    assert eqx.filter_jit(fno)(jnp.ones((1, *spatial))).shape == (2, *spatial)


def test_discretisation_invariance_on_band_limited_input(getkey):
    """The same band-limited function at n and 2n points gives the same output function.

    The spectral weights are scaled so that the Fourier path has O(1) gain (at the paper's
    initialisation the output barely depends on the input); errors are measured against
    the input-dependent part of the output, `y − mean(y)`."""
    fno = models.FNO(1, 1, (8, 8), width=16, depth=4, grid=None, key=getkey())
    spectral = lambda f: [s.weight_real for s in f.spectral] + [s.weight_imag for s in f.spectral]
    fno = eqx.tree_at(spectral, fno, replace_fn=lambda w: 30 * w)
    apply = eqx.filter_jit(lambda model, x: model(x))
    coarse, fine = trig_field((32, 32), max_mode=3), trig_field((64, 64), max_mode=3)
    y_coarse, y_fine = np.asarray(apply(fno, coarse)), np.asarray(apply(fno, fine))
    scale = np.linalg.norm(y_coarse - y_coarse.mean())
    # Values agree at the shared nodes, and the Fourier-upsampled coarse output matches.
    assert np.linalg.norm(y_fine[:, ::2, ::2] - y_coarse) / scale < 1e-4
    upsampled = fourier_upsample(y_coarse, 2)
    assert np.linalg.norm(upsampled - y_fine) / (2 * scale) < 1e-3  # nearest-neighbour: 0.27
    # The scale is meaningful: another input changes the output by O(1) of it.
    other = np.asarray(apply(fno, trig_field((32, 32), key_seed=1, max_mode=3)))
    assert np.linalg.norm(other - y_coarse) / scale > 0.5


def test_translation_equivariance_without_grid(getkey):
    fno = models.FNO(1, 1, (6, 6), width=8, depth=3, grid=None, key=getkey())
    x = normal((1, 24, 24))
    shift = (7, -4)
    apply = eqx.filter_jit(fno)
    np.testing.assert_allclose(
        apply(jnp.roll(x, shift, axis=(1, 2))), jnp.roll(apply(x), shift, axis=(1, 2)), atol=1e-5
    )


def test_parameter_count_of_the_paper_configuration(getkey):
    """FNO-2D, modes 12, width 32, 4 layers, projection 128, (a, x, y) input — counted by hand:
    lifting 3·32+32; per layer 2 (re, im) · 32·32 · (2·12)·12 spectral + 32·32+32 skip;
    projection 32·128+128 + 128+1."""
    fno = eqx.filter_eval_shape(
        models.build,
        "fno",
        in_channels=1,
        out_channels=1,
        modes=(12, 12),
        width=32,
        depth=4,
        key=getkey(),
    )
    expected = (
        (3 * 32 + 32) + 4 * (2 * 32 * 32 * 24 * 12 + 32 * 32 + 32) + (32 * 128 + 128) + (128 + 1)
    )
    assert count_parameters(fno) == expected == 2_368_001


def test_invalid_arguments_are_rejected(getkey, no_type_checks):
    with pytest.raises(ValueError, match="depth"):
        models.FNO(1, 1, (4, 4), depth=0, key=getkey())
    with pytest.raises(ValueError, match="width must be a positive int, got -3"):
        models.FNO(1, 1, (4, 4), width=-3, key=getkey())
    with pytest.raises(ValueError, match="in_channels must be a positive int, got 0"):
        models.FNO(0, 1, (4, 4), key=getkey())
    with pytest.raises(ValueError, match="expected 8 input channels"):
        models.FNO(1, 1, (4, 4), width=8, key=getkey()).spectral[0](jnp.ones((3, 16, 16)))
    with pytest.raises(
        LookupError, match="unknown model 'fnoo'; available: cape, deeponet, film, fno"
    ):
        models.build("fnoo")


def test_factorised_fno_counts_cp_factors(getkey):
    """rank r: each Fourier layer holds 2·r·(width + width + 2·modes_0 + modes_1) reals
    instead of 2·width²·(2·modes_0)·modes_1."""
    dense = models.FNO(1, 1, (4, 4), width=8, depth=2, key=getkey())
    tfno = models.build(
        "fno", in_channels=1, out_channels=1, modes=(4, 4), width=8, depth=2, rank=3, key=getkey()
    )
    spectral = 2 * 8 * 8 * (2 * 4) * 4
    factorised = 2 * 3 * (8 + 8 + 8 + 4)
    assert count_parameters(dense) - count_parameters(tfno) == 2 * (spectral - factorised)
    assert eqx.filter_jit(tfno)(jnp.ones((1, 16, 16))).shape == (1, 16, 16)
