"""Gradients keep the scalar domain of the values: exact stays exact (a regression test for
the backward pass seeding its cotangent in the float domain, which turned the 1/mn of
``mean`` into a rounded double on SymPy and Fraction values)."""

from __future__ import annotations

from fractions import Fraction

import sympy

from refnn import Matrix, grad, ops


def test_mean_gradient_is_exact_on_symbols() -> None:
    x, y, z = sympy.symbols("x y z")
    g = grad(lambda p: ops.mean(p))(Matrix([[x, y, z]]))
    assert g == Matrix([[sympy.Rational(1, 3)] * 3])
    assert all(isinstance(v, sympy.Rational) for v in g.data)


def test_mean_gradient_is_exact_on_fractions() -> None:
    g = grad(lambda p: ops.mean(ops.square(p)))(Matrix([[Fraction(1, 3), Fraction(2)]]))
    # d/dpᵢ (Σ pⱼ²)/2 = pᵢ
    assert g == Matrix([[Fraction(1, 3), Fraction(2)]])
    assert all(type(v) is Fraction for v in g.data)


def test_fraction_scale_in_a_gradient_stays_exact_on_symbols() -> None:
    x = sympy.Symbol("x")
    g = grad(lambda p: ops.sum(ops.scale(Fraction(1, 3), ops.square(p))))(Matrix([[x]]))
    assert sympy.simplify(g[1, 1] - sympy.Rational(2, 3) * x) == 0
    assert sympy.Float not in {type(a) for a in sympy.preorder_traversal(g[1, 1])}
