"""Krylov recycling against mathematics: deflated PCG solves the same system as PCG (and as
scipy); recycled Ritz vectors converge to the eigenvectors of the smallest eigenvalues of
M⁻¹A; recycling cuts the iterations of a sequence of related Darcy solves; the similarity
order is a nearest-neighbour path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from helpers import scipy_darcy

from jaxops.pde import DarcyFlow
from jaxops.pde.elliptic.darcy import darcy_system
from jaxops.pde.elliptic.krylov import pcg
from jaxops.pde.elliptic.recycling import (
    deflated_pcg,
    ritz_update,
    similarity_order,
    solve_darcy_sequence,
)


def coefficients(n, count, seed=0, dtype=jnp.float64):
    problem = DarcyFlow(n=n)
    keys = jax.random.split(jax.random.key(seed), count)
    return jax.vmap(problem.coefficient)(keys).astype(dtype)


@pytest.mark.parametrize("k", [0, 3])
def test_deflated_pcg_solves_the_system(x64, getkey, k):
    a = coefficients(17, 1)[0]
    matvec, b, precondition = darcy_system(a, 1.0, "arithmetic", "jacobi")
    w = jax.random.normal(getkey(), (k,) + b.shape, jnp.float64)
    result = deflated_pcg(matvec, b, w, precondition=precondition, rtol=1e-12, stored=4)
    reference = scipy_darcy(np.asarray(a), np.ones((17, 17)))[1:-1, 1:-1]
    np.testing.assert_allclose(result.value, reference, rtol=0, atol=1e-10 * reference.max())
    plain = pcg(matvec, b, precondition=precondition, rtol=1e-12)
    if k == 0:  # no deflation: exactly PCG
        assert int(result.steps) == int(plain.steps)
    # The stored quantities are what they claim: A p and M⁻¹A p for the first directions.
    np.testing.assert_allclose(jax.vmap(matvec)(result.p), result.ap, atol=1e-8)
    np.testing.assert_allclose(jax.vmap(precondition)(result.ap), result.m_ap, atol=1e-6)


def test_recycled_ritz_vectors_converge_to_the_smallest_eigenvectors(x64):
    """Solving one system repeatedly, W must approach the invariant subspace of the k
    smallest eigenvalues of D⁻¹A (Jacobi), and deflated PCG then needs fewer iterations."""
    n, k = 17, 4
    a = coefficients(n, 1, seed=3)[0]
    m = n - 2
    basis = jnp.eye(m * m).reshape(m * m, m, m)
    matvec = lambda v: darcy_system(a, 1.0, "arithmetic", "jacobi")[0](v)
    matrix = np.asarray(jax.jit(jax.vmap(matvec))(basis)).reshape(m * m, m * m)
    diagonal = np.diag(matrix)
    exact = scipy.linalg.eigh(matrix, np.diag(diagonal), eigvals_only=True)[:k]

    @jax.jit  # one program per size of w (0, then k), not one per eager operation
    def solve_and_update(w):
        matvec, b, precondition = darcy_system(a, 1.0, "arithmetic", "jacobi")
        result = deflated_pcg(matvec, b, w, precondition=precondition, rtol=1e-10, stored=12)
        return result.steps, ritz_update(w, result, precondition, k)

    w = jnp.zeros((0, m, m))
    steps = []
    for _ in range(6):
        count, w = solve_and_update(w)
        steps.append(int(count))
    flat = np.asarray(w).reshape(k, -1).T
    ritz = scipy.linalg.eigh(flat.T @ matrix @ flat, flat.T @ (diagonal[:, None] * flat))[0]
    # Rayleigh–Ritz values bound the eigenvalues from above (Cauchy interlacing); the
    # smallest, the one that limits CG most, is found to three digits.
    assert np.all(ritz >= exact * (1 - 1e-9)), (ritz, exact)
    np.testing.assert_allclose(ritz[0], exact[0], rtol=1e-3)
    assert ritz[-1] < 1.2 * exact[-1], (ritz, exact)
    assert steps[-1] <= 0.8 * steps[0], steps  # measured: 65 → 49


def test_recycling_cuts_iterations_of_a_darcy_sequence(x64):
    a = coefficients(33, 10, seed=1)
    independent = solve_darcy_sequence(a, preconditioner="jacobi", recycle=0, sort=False, rtol=1e-8)
    recycled = solve_darcy_sequence(a, preconditioner="jacobi", recycle=12, stored=24, rtol=1e-8)
    reference = np.stack([scipy_darcy(np.asarray(x), np.ones((33, 33))) for x in a[:3]])
    np.testing.assert_allclose(recycled.value[:3], reference, atol=1e-7 * reference.max())
    np.testing.assert_allclose(recycled.value, independent.value, atol=1e-7 * reference.max())
    assert sorted(recycled.order.tolist()) == list(range(10))
    first = int(recycled.order[0])
    assert int(recycled.steps[first]) == int(independent.steps[first])  # nothing to recycle
    later = np.delete(np.arange(10), first)
    ratio = independent.steps[later].mean() / recycled.steps[later].mean()
    assert ratio > 1.4, (independent.steps, recycled.steps)


def test_float32_sequence_with_multigrid_converges():
    a = coefficients(17, 3, dtype=jnp.float32)
    result = solve_darcy_sequence(a, preconditioner="multigrid", recycle=4, stored=8)
    assert result.value.dtype == jnp.float32
    for x, u in zip(a, result.value, strict=True):
        reference = scipy_darcy(np.asarray(x, np.float64), np.ones((17, 17)))
        assert np.linalg.norm(u - reference) <= 1e-5 * np.linalg.norm(reference)


def test_similarity_order_is_a_nearest_neighbour_path():
    rng = np.random.default_rng(0)
    positions = np.array([0.0, 5.0, 1.0, 3.0, 2.0, 4.0])
    fields = positions[:, None, None] * np.ones((1, 4, 4)) + 1e-3 * rng.normal(size=(6, 4, 4))
    np.testing.assert_array_equal(positions[similarity_order(fields)], np.arange(6.0))
    big = rng.normal(size=(5, 128, 128))  # compared on a strided subsample: still a permutation
    assert sorted(similarity_order(big, max_features=256).tolist()) == list(range(5))


def test_bad_input_is_rejected(no_type_checks):
    with pytest.raises(ValueError, match=r"\(N, n, n\)"):
        solve_darcy_sequence(jnp.ones((9, 9)))
    with pytest.raises(ValueError, match="recycle must be"):
        solve_darcy_sequence(jnp.ones((2, 9, 9)), recycle=-1)
    with pytest.raises(ValueError, match="stored must be"):
        solve_darcy_sequence(jnp.ones((2, 9, 9)), recycle=8, stored=4)
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        solve_darcy_sequence(jnp.ones((2, 9, 9)), preconditioner="ilu")
