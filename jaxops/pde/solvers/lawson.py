"""Lawson (integrating-factor) Runge–Kutta methods with embedded error estimates, as diffrax
solvers: adaptive time stepping with the stiff linear part integrated exactly.

Lawson, "Generalized Runge–Kutta processes for stable systems with large Lipschitz
constants", SIAM J. Numer. Anal. 4 (1967). For u_t = L u + N(t, u), applying an explicit
Runge–Kutta tableau (a, b, b̂, c) to v = e^{−(t−t_n)L} u gives, in the spectral basis,

    U_i = e^{c_i hL} u + h Σ_{j<i} a_ij e^{(c_i − c_j) hL} N(U_j)
    u⁺  = e^{hL} u + h Σ_j b_j e^{(1 − c_j) hL} N(U_j),   error: the same sum with b − b̂.

The stage times c are non-decreasing, so every exponential is of a non-negative fraction of
the step: nothing overflows, at any stiffness. The error estimate drives diffrax's step-size
controllers (e.g. `diffrax.PIDController`). `LawsonTsit5` uses Tsitouras' 5(4) tableau.
"""

from typing import ClassVar

import diffrax
import numpy as np

from .phi import phi
from .term import SemiLinearTerm, semilinear_equation


class AbstractLawsonRK(diffrax.AbstractAdaptiveSolver):
    """Integrating-factor Runge–Kutta for `SemiLinearTerm`s, from an explicit diffrax tableau
    (class attribute `tableau`, with an error estimate and non-decreasing stage times) whose
    solution weights have order `method_order`."""

    tableau: ClassVar[diffrax.ButcherTableau]
    method_order: ClassVar[int]

    term_structure: ClassVar = SemiLinearTerm
    interpolation_cls: ClassVar = diffrax.LocalLinearInterpolation

    def order(self, terms):
        return self.method_order

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        equation = semilinear_equation(terms)
        grid = equation.grid
        h = t1 - t0
        z = h * equation.linear()
        c = [0.0, *(float(ci) for ci in self.tableau.c)]
        weights = np.asarray(self.tableau.b_sol)
        errors = np.asarray(self.tableau.b_error)
        exp = {}  # e^{s hL} for each distinct fraction s of the step

        def e(s: float):
            key = round(s, 15)
            if key not in exp:
                exp[key] = phi(0, s * z)
            return exp[key]

        u = grid.to_spectral(y0)
        stages = []
        for i, ci in enumerate(c):
            value = e(ci) * u
            if i:
                row = np.asarray(self.tableau.a_lower[i - 1])
                value = value + h * sum(
                    row[j] * e(ci - c[j]) * stages[j] for j in range(i) if row[j] != 0
                )
            stages.append(equation.nonlinear_hat(t0 + ci * h, value, args))
        combine = lambda w: h * sum(w[j] * e(1.0 - c[j]) * stages[j] for j in range(len(c)) if w[j])
        u1 = e(1.0) * u + combine(weights)
        y1 = grid.from_spectral(u1).astype(y0.dtype)
        y_error = grid.from_spectral(combine(errors)).astype(y0.dtype)
        return y1, y_error, dict(y0=y0, y1=y1), None, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


class LawsonTsit5(AbstractLawsonRK):
    """Lawson integrating-factor version of Tsitouras' 5(4) method (diffrax's `Tsit5`):
    adaptive, fifth order for non-stiff nonlinear parts, exact for the linear part."""

    tableau: ClassVar = diffrax.Tsit5.tableau
    method_order: ClassVar = 5
