"""Type-I sine and cosine transforms against scipy, their inverses, and the FD Laplacian
eigenvalues they diagonalise."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft

from jaxops.pde.transforms import dct1, dst1, idct1, idst1


@pytest.mark.parametrize("n", [2, 3, 8, 9])
def test_against_scipy_and_inverse(n):
    x = np.random.default_rng(n).normal(size=(3, n, n + 1))
    for ours, inverse, kind in ((dct1, idct1, "dct"), (dst1, idst1, "dst")):
        reference = getattr(scipy.fft, kind)(
            getattr(scipy.fft, kind)(x, type=1, axis=1), type=1, axis=2
        )
        y = ours(jnp.asarray(x, jnp.float32), (1, 2))
        np.testing.assert_allclose(y, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
        np.testing.assert_allclose(inverse(y, (1, 2)), x, atol=1e-5)


def test_dst_diagonalises_the_dirichlet_laplacian():
    m, h = 7, 1 / 8
    lap = (
        np.diag(-2 * np.ones(m)) + np.diag(np.ones(m - 1), 1) + np.diag(np.ones(m - 1), -1)
    ) / h**2
    x = np.random.default_rng(0).normal(size=m)
    eig = -4 / h**2 * np.sin(np.pi * np.arange(1, m + 1) / (2 * (m + 1))) ** 2
    np.testing.assert_allclose(
        dst1(jnp.asarray(lap @ x)), eig * np.asarray(dst1(jnp.asarray(x))), rtol=1e-4, atol=1e-3
    )


def test_dct_diagonalises_the_neumann_laplacian():
    n, h = 9, 1 / 8
    lap = np.diag(-2 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    lap[0, 1] = lap[-1, -2] = 2  # ghost-point reflection u_{-1} = u_1
    lap /= h**2
    x = np.random.default_rng(1).normal(size=n)
    eig = -4 / h**2 * np.sin(np.pi * np.arange(n) / (2 * (n - 1))) ** 2
    np.testing.assert_allclose(
        dct1(jnp.asarray(lap @ x)), eig * np.asarray(dct1(jnp.asarray(x))), rtol=1e-4, atol=1e-3
    )
