"""Shared test helpers: independent reference implementations used as oracles, and parameter
utilities for derivative and dtype checks."""

import contextlib
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import scipy.sparse as sp
from jax.flatten_util import ravel_pytree


def scipy_darcy(a: np.ndarray, f: np.ndarray, face: str = "arithmetic") -> np.ndarray:
    """Solve −∇·(a∇u) = f, u = 0 on the boundary, on the n×n nodal grid of [0, 1]² by
    assembling the five-point flux-form matrix face by face and calling `spsolve`."""
    n = a.shape[0]
    h = 1.0 / (n - 1)
    m = n - 2
    index = -np.ones((n, n), dtype=int)
    index[1:-1, 1:-1] = np.arange(m * m).reshape(m, m)
    mean = (
        (lambda p, q: 0.5 * (p + q)) if face == "arithmetic" else (lambda p, q: 2 * p * q / (p + q))
    )
    rows, cols, vals = [], [], []
    # Each face between neighbouring nodes P, Q contributes k(u_P − u_Q)/h² to row P and Q.
    for first, second in _faces(n):
        coeff = mean(a[first], a[second]) / h**2
        for p, q in ((first, second), (second, first)):
            if index[p] >= 0:
                rows.append(index[p])
                cols.append(index[p])
                vals.append(coeff)
                if index[q] >= 0:
                    rows.append(index[p])
                    cols.append(index[q])
                    vals.append(-coeff)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(m * m, m * m))
    u = np.zeros((n, n))
    u[1:-1, 1:-1] = sp.linalg.spsolve(matrix, f[1:-1, 1:-1].ravel()).reshape(m, m)
    return u


def _faces(n: int):
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                yield (i, j), (i + 1, j)
            if j + 1 < n:
                yield (i, j), (i, j + 1)


def trig_field(shape, key_seed: int = 0, max_mode: int = 3, channels: int = 1) -> np.ndarray:
    """A random real trigonometric polynomial with |k_i| <= max_mode on the periodic grid
    `x_i = j / n_i` of each axis: band-limited, so exactly represented at any n > 2 max_mode."""
    rng = np.random.default_rng(key_seed)
    grids = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij")
    out = np.zeros((channels, *shape))
    for c in range(channels):
        for _ in range(6):
            k = rng.integers(-max_mode, max_mode + 1, size=len(shape))
            phase = rng.uniform(0, 2 * np.pi)
            arg = sum(ki * g for ki, g in zip(k, grids, strict=True))
            out[c] += rng.normal() * np.cos(2 * np.pi * arg + phase)
    return out


@eqx.filter_jit
def astype(tree, dtype):
    """The floating-point arrays of `tree` cast to `dtype` (one compiled call, not one per leaf)."""
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def directional_derivatives(loss, model, seed: int = 0, eps: float = 1e-6) -> tuple[float, float]:
    """`d/dt loss(θ + t d)` at `t = 0` for a random direction `d` in parameter space, by
    reverse-mode AD and by a central difference (each one compiled call)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    direction = jnp.asarray(np.random.default_rng(seed).standard_normal(flat.shape), flat.dtype)
    along = jax.jit(lambda t: loss(eqx.combine(unravel(flat + t * direction), static)))
    ad = jax.jit(jax.grad(along))(0.0)
    return float(ad), float((along(eps) - along(-eps)) / (2 * eps))


def with_numpy_parameters(abstract, seed: int = 0, scale: float = 0.5):
    """`abstract` (from `eqx.filter_eval_shape`) with every array drawn from N(0, scale²) by
    numpy: generic parameter values for a derivative check, with nothing to compile."""
    rng = np.random.default_rng(seed)
    is_struct = lambda leaf: isinstance(leaf, jax.ShapeDtypeStruct)
    draw = lambda s: jnp.asarray(scale * rng.standard_normal(s.shape), s.dtype)
    return jax.tree.map(lambda s: draw(s) if is_struct(s) else s, abstract, is_leaf=is_struct)


def normal(shape, seed=0, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def jaxops_command() -> list[str]:
    """The `jaxops` console script of this environment (or `python -m jaxops.cli.main`)."""
    script = Path(sys.executable).parent / "jaxops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jaxops.cli.main"]


def jaxops(*args: str, cwd) -> subprocess.CompletedProcess:
    """Run `jaxops <args>` in `cwd` as a user would; output captured as text."""
    command = [*jaxops_command(), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def jaxops_in_process(*args: str, cwd) -> subprocess.CompletedProcess:
    """`jaxops <args>` through `jaxops.cli.main.main` in this process, from `cwd`: the same
    code path as the console script without a new interpreter (about 2 s of imports each),
    sharing the compiled programs of the tests before it and checked against the type
    annotations like every call of the suite. `jaxops` runs a real process where that is the
    point (the command against the library, a kill, several devices). Hydra's logging set-up
    is skipped: its `dictConfig` would close pytest's log-capture handlers."""
    import contextlib
    import io
    import logging
    from unittest import mock

    from jaxops.cli.main import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    handlers = logging.root.handlers[:]
    with (
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch("logging.config._clearExistingHandlers"),
    ):
        try:
            main(list(args))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        finally:
            logging.root.handlers[:] = handlers
    return subprocess.CompletedProcess(["jaxops", *args], code, out.getvalue(), err.getvalue())


def start_with_devices(*command: str, devices: int) -> subprocess.Popen:
    """Start `python <command>` (or the `jaxops` script when command[0] is "jaxops") from the
    repository root on `devices` forced CPU devices: the device count is fixed when JAX
    starts, hence a subprocess. Output is captured; collect it with `wait_all`."""
    import os

    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    program = jaxops_command() if command[0] == "jaxops" else [sys.executable, command[0]]
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen([*program, *command[1:]], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_all(*processes: subprocess.Popen, timeout: float = 300) -> list[str]:
    """The stdout of each process once all have exited; if one fails or times out, the
    others are killed (a peer of a failed `jax.distributed` process would wait forever) and
    the test fails showing every process's output."""
    import pytest

    outputs, failed = [], False
    for process in processes:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            out, err = process.communicate()
            failed = True
        outputs.append((process.returncode, out, err))
        failed |= process.returncode != 0
        if failed:
            break
    if failed:
        for process in processes:
            if process.poll() is None:
                process.kill()
                out, err = process.communicate()
                outputs.append((process.returncode, out, err))
        report = "\n".join(
            f"--- process {i}: exit {code}\nstdout:\n{out}\nstderr:\n{err}"
            for i, (code, out, err) in enumerate(outputs)
        )
        pytest.fail(f"subprocess failed:\n{report}")
    return [out for _, out, _ in outputs]


def run_with_devices(*command: str, devices: int, timeout: float = 300) -> str:
    """`start_with_devices` and wait: the stdout, or a test failure showing the output."""
    (out,) = wait_all(start_with_devices(*command, devices=devices), timeout=timeout)
    return out


def free_port() -> int:
    """A TCP port on localhost that is free now (for a `jax.distributed` coordinator)."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# --- float32 rounding bounds ------------------------------------------------------------------
# Tolerances for float32 results are derived from the operation, not from the rounding one
# processor happens to produce: XLA sums in an order set by the vector width (SSE, AVX2,
# AVX-512) and by how a program is fused, so two processors, or two programs computing the
# same values, round differently. A float32 sum of n terms is off by at most about
# n · EPS32 · Σ|terms| in any order (Higham, "Accuracy and Stability of Numerical Algorithms",
# §4.2: γ_{n−1} = (n−1)u / (1 − (n−1)u) with the unit roundoff u = EPS32 / 2).
EPS32 = float(np.finfo(np.float32).eps)  # 2**-23 ≈ 1.19e-7


def fno_rounding_chain(
    in_channels: int,
    spatial: tuple[int, ...],
    modes: tuple[int, ...],
    width: int,
    depth: int,
    projection_width: int,
    grid: bool = True,
) -> int:
    """How many roundings accumulate into one output value of an `models.FNO` forward pass:
    the lengths of the sums on its way, added up. Lifting (inputs + grid coordinates + bias);
    per Fourier layer the forward DFT (n terms on the last axis, 2n complex parts on the
    others), the complex channel mixing (2 · width), the inverse DFT over the kept modes
    (2m on the last axis, 4m on the others), the skip (width + bias) and the sum of the two;
    then the projection MLP (width + 1, projection_width + 1). An FFT sums fewer terms per
    value (about 2 log2 n) than the DFT counted here, so this bounds both paths. Each layer's
    weights are taken as of order one, so an error passes through the later layers unamplified."""
    lifted = in_channels + (len(spatial) if grid else 0)
    transforms = spatial[-1] + 2 * sum(spatial[:-1]) + 2 * modes[-1] + 4 * sum(modes[:-1])
    layer = transforms + 2 * width + (width + 1) + 1
    return (lifted + 1) + depth * layer + (width + 1) + (projection_width + 1)


def relative_error_atol(chain: int, error: float, terms: int, steps: int = 1) -> float:
    """Bound on |e₁ − e₂| for a relative error `e = ‖p − y‖ / ‖y‖` (or a mean of such errors)
    whose predictions `p` two different float32 programs compute, each to within
    `chain · EPS32 · ‖p‖` per model call (`fno_rounding_chain`), over `steps` calls in a row
    (a rollout): ‖p₁ − p₂‖ / ‖y‖ <= 2 · steps · chain · EPS32 · (1 + e), since
    ‖p‖ <= (1 + e) ‖y‖. The norms and the mean sum `terms` values: + terms · EPS32 · e."""
    return (2 * steps * chain * (1 + error) + terms * error) * EPS32


def assert_within(actual, desired, atol) -> None:
    """`|actual − desired| <= atol` elementwise, `atol` a bound per element (or one for all);
    complex values by the modulus of the difference."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    dtype = np.result_type(actual, desired, np.float64)
    actual, desired = actual.astype(dtype), desired.astype(dtype)
    excess = np.abs(actual - desired) - np.broadcast_to(atol, np.broadcast(actual, desired).shape)
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert np.all(excess <= 0), (
        f"|actual - desired| exceeds its bound at {worst}: actual {actual[worst]!r}, "
        f"desired {desired[worst]!r}, bound {np.broadcast_to(atol, excess.shape)[worst]!r}"
    )


def darcy_solve_atol(u, a_min: float, a_max: float, rtol: float = 1e-6, eps: float = EPS32):
    """Bound on |u₁ − u₂| for two float32 solves of −∇·(a∇u) = 1 on the n×n nodal grid of `u`
    (a in [a_min, a_max]) that both stop at ‖r‖ <= rtol ‖b‖ but round differently (a vmapped
    and a single program may sum the CG's dot products in other orders and so stop at other
    iterates). Each is within ‖A⁻¹‖ (rtol ‖b‖ + 10 eps ‖A‖ ‖u‖) of the solution: the stopping
    test, and the floor the rounding of the 5-point residual sets. ‖A‖ <= 8 a_max / h²,
    ‖A⁻¹‖ <= 1 / (a_min λ₁) with λ₁ = (8 / h²) sin²(πh / 2) the smallest eigenvalue of −Δ_h."""
    n = np.shape(u)[-1]
    h = 1.0 / (n - 1)
    lam1 = 8 / h**2 * np.sin(np.pi * h / 2) ** 2
    norm_a, norm_inverse = 8 * float(a_max) / h**2, 1 / (float(a_min) * lam1)
    norm_b = float(n - 2)  # ‖1‖₂ over the (n − 2)² interior nodes
    return 2 * norm_inverse * (rtol * norm_b + 10 * eps * norm_a * float(np.linalg.norm(u)))


@contextlib.contextmanager
def without_type_checks():
    """The suite checks every call into `jaxops` against its annotations (jaxtyping with
    beartype, `tests/typecheck.py`). A test of the error a user without a type checker gets
    breaks an annotation on purpose: it makes that call inside this block."""
    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)
