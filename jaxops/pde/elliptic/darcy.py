"""Darcy flow −∇·(a ∇u) = f on (0, 1)² with u = 0 on the boundary, and its FNO-paper dataset.

Discretisation: second-order finite differences in flux form on the n×n nodal grid
x_i = i/(n−1) (boundary nodes included),

    (A u)_ij = −[a_{i+½,j}(u_{i+1,j} − u_ij) − a_{i−½,j}(u_ij − u_{i−1,j})
                + a_{i,j+½}(u_{i,j+1} − u_ij) − a_{i,j−½}(u_ij − u_{i,j−1})] / h²,

with face coefficients the arithmetic (default) or harmonic mean of the two nodes
(`darcy_operator.py`, shared with the multigrid levels). A is symmetric positive definite on
the (n−2)² interior unknowns; it is applied matrix-free and solved by preconditioned
conjugate gradients (`krylov.spd_solve`), so the solve vmaps over samples and differentiates
with respect to a and f. The preconditioner is a geometric multigrid V-cycle
(`multigrid.DarcyMultigrid`, default: about 10 iterations at any grid size) or the diagonal
(Jacobi: iterations grow ∝ n).

Dataset protocol (`DarcyFlow`): Li et al., "Fourier Neural Operator for Parametric PDEs",
ICLR 2021, §5.2 — a = ψ(g), g ~ N(0, (−Δ + 9I)^−2) with zero-Neumann Δ, ψ = 12 on g ≥ 0 and
3 on g < 0, f = 1.
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, ScalarLike

from ..._config import ConfigError, spec
from ..random_fields import neumann_grf, threshold
from ..registry import ProblemConfig, Sample, register
from .darcy_operator import (  # the operator, also importable from here
    FACE_AVERAGES,
    DarcyResidual,
    FaceAverage,
    darcy_apply,
    darcy_diagonal,
    darcy_residual,
    face_coefficients,
)
from .krylov import CGResult, pcg, spd_solve
from .multigrid import DarcyMultigrid

Preconditioner = Literal["multigrid", "jacobi"]
PRECONDITIONERS = ("multigrid", "jacobi")


def default_max_steps(n: int, max_steps: int | None) -> int:
    """The CG iteration cap: `max_steps`, or 50 n (multigrid needs ~10, Jacobi ~3.5 n)."""
    return 50 * n if max_steps is None else max_steps


def check_darcy_inputs(a: Array, face: str, preconditioner: str) -> None:
    """Raise a `ValueError` unless `a` is an n×n nodal coefficient array (n ≥ 3), `face` a
    face average and `preconditioner` one of `PRECONDITIONERS`."""
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
        raise ValueError(f"a must be an n×n nodal array with n >= 3, got shape {a.shape}")
    if face not in FACE_AVERAGES:
        raise ValueError(f"face must be 'arithmetic' or 'harmonic', got {face!r}")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(
            f"preconditioner must be one of {', '.join(map(repr, PRECONDITIONERS))}, "
            f"got {preconditioner!r}"
        )


def darcy_system(a: Array, f, face: FaceAverage, preconditioner: Preconditioner):
    """The interior system of `solve_darcy` for a coefficient `a` `(n, n)` and a source `f`
    (scalar or `(n, n)`): `(matvec, b, precondition)`, with `matvec` and `precondition` maps
    of `(n−2, n−2)` interior fields and `b` the `(n−2, n−2)` right-hand side."""
    check_darcy_inputs(a, face, preconditioner)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        a = a.astype(jnp.result_type(float))
    n = a.shape[0]
    h = 1.0 / (n - 1)
    f = jnp.broadcast_to(jnp.asarray(f, a.dtype), a.shape)
    ax, ay = face_coefficients(a, face)
    if preconditioner == "multigrid":
        # The preconditioner only changes the iteration, not the solution: no gradient.
        precondition = DarcyMultigrid(lax.stop_gradient(a), face=face)
    else:
        diagonal = lax.stop_gradient(darcy_diagonal(ax, ay) / h**2)
        precondition = lambda r: r / diagonal
    return (lambda v: darcy_apply(ax, ay, v, h)), f[1:-1, 1:-1], precondition


def solve_darcy(
    a: Float[ArrayLike, " n n"],
    f: ScalarLike | Float[ArrayLike, " n n"] = 1.0,
    *,
    face: FaceAverage = "arithmetic",
    preconditioner: Preconditioner = "multigrid",
    rtol: float | None = None,
    max_steps: int | None = None,
) -> Float[Array, " n n"]:
    """Solve −∇·(a ∇u) = f on the unit square, u = 0 on the boundary.

    **Arguments:**

    - `a`: coefficient at the n×n nodes of [0, 1]² (boundary included), positive.
    - `f`: source, a scalar or an n×n nodal array (boundary values are ignored).
    - `face`: `"arithmetic"` or `"harmonic"` mean for the coefficient between two nodes.
    - `preconditioner`: `"multigrid"` (a symmetric geometric V-cycle, `DarcyMultigrid`;
      iteration counts independent of n) or `"jacobi"` (the diagonal; counts grow ∝ n).
    - `rtol`: relative residual tolerance (default 1e-6 in float32, 1e-10 in float64).
    - `max_steps`: CG iteration cap (default `50 n`).

    **Returns:** u at the n×n nodes, zero on the boundary, in `a`'s dtype. Vmap over samples;
    differentiable with respect to `a` and `f` (implicitly, by one adjoint solve; the
    preconditioner is not differentiated).
    """
    n = a.shape[0] if a.ndim else 0
    matvec, b, precondition = darcy_system(a, f, face, preconditioner)
    u = spd_solve(
        matvec,
        b,
        precondition=precondition,
        rtol=rtol,
        max_steps=default_max_steps(n, max_steps),
        what=f"solve_darcy on a {n}x{n} grid",
    )
    return jnp.pad(u, 1)


def darcy_pcg(
    a: Float[ArrayLike, " n n"],
    f: ScalarLike | Float[ArrayLike, " n n"] = 1.0,
    *,
    face: FaceAverage = "arithmetic",
    preconditioner: Preconditioner = "multigrid",
    rtol: float | None = None,
    max_steps: int | None = None,
) -> CGResult:
    """The conjugate-gradient run of `solve_darcy`, with its diagnostics: `CGResult(value,
    steps, converged)`, `value` the n×n nodal u. Same arguments; raises nothing on
    non-convergence and is not differentiable (use `solve_darcy` for gradients)."""
    n = a.shape[0] if a.ndim else 0
    matvec, b, precondition = darcy_system(a, f, face, preconditioner)
    result = pcg(
        matvec,
        b,
        precondition=precondition,
        rtol=rtol,
        max_steps=default_max_steps(n, max_steps),
    )
    return result._replace(value=jnp.pad(result.value, 1))


@dataclass
class DarcyConfig(ProblemConfig):
    """`pde=darcy`: coefficient distribution, source and solver settings of `DarcyFlow`."""

    name: str = "darcy"
    alpha: float = spec(gt=0.0, help="smoothness exponent of the coefficient field")
    tau: float = spec(gt=0.0, help="inverse length scale of the coefficient field")
    a_high: float = spec(gt=0.0, help="coefficient where the field is >= 0")
    a_low: float = spec(gt=0.0, help="coefficient where the field is < 0")
    forcing: float = spec(help="constant source f")
    zero_mean: bool = spec(help="drop the constant mode of the field")
    face: str = spec(choices=("arithmetic", "harmonic"))
    rtol: float | None = spec(gt=0.0, help="CG tolerance; null for the dtype default")
    max_steps: int | None = spec(ge=1, help="CG iteration cap; null for 50 n")
    preconditioner: str = spec(
        choices=PRECONDITIONERS, help="CG preconditioner: multigrid V-cycle or jacobi (diagonal)"
    )

    def check(self, key: str) -> None:
        if self.forcing == 0:
            raise ConfigError(
                f"{key}.forcing=0 gives u = 0 for every coefficient: no data to "
                "learn and an undefined relative error; use a nonzero source"
            )


@register("darcy", DarcyConfig)
class DarcyFlow(eqx.Module):
    """Darcy samples (a, u) on an n×n nodal grid: the FNO paper's protocol by default.

    **Arguments:** `n` (nodes per axis); `alpha`, `tau` (field covariance (−Δ + τ²)^−α);
    `a_high`, `a_low` (the two coefficient values); `forcing` (f); `zero_mean`; `face`;
    `rtol`, `max_steps`, `preconditioner` (conjugate gradients, see `solve_darcy`). The
    physical parameters are pytree leaves, so `jax.vmap` over a constructor sweeps them.

    `sample(key)` → `Sample(inputs=a[None], outputs=u[None], params=())`.
    """

    n: int = eqx.field(static=True)
    alpha: ScalarLike = 2.0
    tau: ScalarLike = 3.0
    a_high: ScalarLike = 12.0
    a_low: ScalarLike = 3.0
    forcing: ScalarLike = 1.0
    zero_mean: bool = eqx.field(static=True, default=True)
    face: FaceAverage = eqx.field(static=True, default="arithmetic")
    rtol: float | None = eqx.field(static=True, default=None)
    max_steps: int | None = eqx.field(static=True, default=None)
    preconditioner: Preconditioner = eqx.field(static=True, default="multigrid")

    grid_kind = "nodal"
    param_names = ()
    channel_names = {"inputs": ("a",), "outputs": ("u",)}

    def __check_init__(self):
        if not isinstance(self.n, int) or self.n < 3:
            raise ValueError(f"n must be an int >= 3 (nodes per axis), got {self.n!r}")
        if self.face not in ("arithmetic", "harmonic"):
            raise ValueError(f"face must be 'arithmetic' or 'harmonic', got {self.face!r}")
        if self.preconditioner not in PRECONDITIONERS:
            raise ValueError(
                f"preconditioner must be one of {', '.join(map(repr, PRECONDITIONERS))}, "
                f"got {self.preconditioner!r}"
            )
        for name in ("a_high", "a_low", "tau", "alpha"):
            value = getattr(self, name)
            if isinstance(value, int | float) and not value > 0:  # traced values: unchecked
                raise ValueError(f"{name} must be positive, got {value!r}")

    def coords(self) -> dict[str, Array]:
        """Nodal coordinates of each axis."""
        return {"x0": jnp.linspace(0.0, 1.0, self.n), "x1": jnp.linspace(0.0, 1.0, self.n)}

    def coefficient(self, key: PRNGKeyArray) -> Float[Array, " n n"]:
        g = neumann_grf(key, (self.n, self.n), self.alpha, self.tau, zero_mean=self.zero_mean)
        return threshold(g, self.a_high, self.a_low)

    def sample(self, key: PRNGKeyArray, index=None) -> Sample:
        a = self.coefficient(key)
        u = solve_darcy(
            a,
            self.forcing,
            face=self.face,
            preconditioner=self.preconditioner,
            rtol=self.rtol,
            max_steps=self.max_steps,
        )
        return Sample(a[None], u[None], jnp.zeros((0,), a.dtype))

    def residual(
        self, inputs: Float[ArrayLike, "1 m m"], outputs: Float[ArrayLike, "1 m m"]
    ) -> DarcyResidual:
        """The residual of a candidate solution `outputs` for the coefficient `inputs`, on
        their own m×m nodal grid (a subsampled grid keeps the boundary, so h = 1/(m−1)):
        `darcy_residual` with this problem's forcing and face average (the physics loss of
        `trainer.physics`, `train.physics.problem_physics`)."""
        return darcy_residual(inputs[0], outputs[0], self.forcing, face=self.face)
