"""ETDRK4: the fourth-order exponential time-differencing Runge–Kutta method of Cox and
Matthews, "Exponential time differencing for stiff systems", J. Comput. Phys. 176 (2002),
with the φ-function coefficients of Hochbruck & Ostermann (2010), as a diffrax solver.

For u_t = L u + N(t, u) with diagonal L, one step of size h in the spectral basis is

    a = e^{hL/2} u + (h/2) φ1(hL/2) N(u)
    b = e^{hL/2} u + (h/2) φ1(hL/2) N(a)
    c = e^{hL/2} a + (h/2) φ1(hL/2) (2 N(b) − N(u))
    u⁺ = e^{hL} u + h [(φ1 − 3φ2 + 4φ3) N(u) + 2(φ2 − 2φ3)(N(a) + N(b)) + (4φ3 − φ2) N(c)]

with φ_k = φ_k(hL). Only exponentials of the step appear, so the stiff linear part is
integrated exactly at any stiffness without overflow. Fixed step (no error estimate); use it
with `diffrax.ConstantStepSize` or `diffrax.StepTo`.
"""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp

from .phi import phi
from .term import SemiLinearTerm, semilinear_equation


def coefficients(z, h):
    """The step's coefficients from z = hL: e^z, e^{z/2}, (h/2)φ1(z/2) and the three weights.
    Complex ones (dispersive L) are stored as (real, imaginary) pairs: diffrax expects real
    solver state. `unpack` undoes it."""
    phi1, phi2, phi3 = phi(1, z), phi(2, z), phi(3, z)
    values = (
        phi(0, z),
        phi(0, z / 2),
        (h / 2) * phi(1, z / 2),
        phi1 - 3 * phi2 + 4 * phi3,
        phi2 - 2 * phi3,
        4 * phi3 - phi2,
    )
    if not jnp.iscomplexobj(z):
        return values
    return tuple(jnp.stack([jnp.real(v), jnp.imag(v)]) for v in values)


def unpack(coefficients, linear):
    """The coefficients of `coefficients`, complex again where L is complex."""
    if not jnp.iscomplexobj(linear):
        return coefficients
    return tuple(c[0] + 1j * c[1] for c in coefficients)


class ETDRK4(diffrax.AbstractSolver):
    """Fourth-order exponential time differencing (Cox–Matthews) for `SemiLinearTerm`s.

    **Arguments:** `step_size` (optional): the constant step the solver will be used with.
    Its coefficients (φ-functions of hL) are then computed once, in `init`, instead of at
    every step — on a CPU they cost as much as the four nonlinear evaluations. Use it only
    with steps of exactly that size (`simulate` does so when its step grid is uniform).
    """

    step_size: float | None = eqx.field(static=True, default=None)

    term_structure: ClassVar = SemiLinearTerm
    interpolation_cls: ClassVar = diffrax.LocalLinearInterpolation

    def order(self, terms):
        return 4

    def init(self, terms, t0, t1, y0, args):
        if self.step_size is None:
            return None
        return coefficients(self.step_size * semilinear_equation(terms).linear(), self.step_size)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        equation = semilinear_equation(terms)
        grid = equation.grid
        h = t1 - t0
        linear = equation.linear()
        cached = solver_state if solver_state is not None else coefficients(h * linear, h)
        exp_full, exp_half, half_phi1, w_u, w_ab, w_c = unpack(cached, linear)
        nonlinear = lambda t, v: equation.nonlinear_hat(t, v, args)

        u = grid.to_spectral(y0)
        n_u = nonlinear(t0, u)
        a = exp_half * u + half_phi1 * n_u
        n_a = nonlinear(t0 + h / 2, a)
        b = exp_half * u + half_phi1 * n_a
        n_b = nonlinear(t0 + h / 2, b)
        c = exp_half * a + half_phi1 * (2 * n_b - n_u)
        n_c = nonlinear(t1, c)
        u1 = exp_full * u + h * (w_u * n_u + 2 * w_ab * (n_a + n_b) + w_c * n_c)
        y1 = grid.from_spectral(u1).astype(y0.dtype)
        return y1, None, dict(y0=y0, y1=y1), solver_state, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
