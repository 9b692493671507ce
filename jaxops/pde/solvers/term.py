"""`SemiLinearTerm`: a diffrax term that exposes the structure u_t = L u + N(t, u).

Any diffrax solver sees an ordinary ODE term (its `vf` is the full right-hand side); the
exponential integrators of this package also read the diagonal linear part and the
spectral nonlinear part from the equation it wraps.
"""

import diffrax
from jaxtyping import Array, PyTree


class SemiLinearTerm(diffrax.AbstractTerm):
    """**Arguments:** `equation`, an `equations.AbstractEquation`."""

    equation: PyTree

    def vf(self, t, y: Array, args) -> Array:
        return self.equation.vector_field(t, y, args)

    def contr(self, t0, t1, **kwargs):
        return t1 - t0

    def prod(self, vf: Array, control) -> Array:
        return control * vf


def semilinear_equation(terms: diffrax.AbstractTerm):
    """The equation inside the (possibly diffrax-wrapped) `SemiLinearTerm` a solver is given.

    diffrax wraps terms to handle the direction of time; the exponential integrators only
    integrate forward (`t1 > t0`), which `simulate` guarantees."""
    while not isinstance(terms, SemiLinearTerm):
        if not hasattr(terms, "term"):
            raise TypeError(f"exponential integrators need a SemiLinearTerm, got {type(terms)}")
        terms = terms.term
    return terms.equation
