"""Errors that teach: each refusal names the call that does what was meant, and following
that advice gives the right answer (judged on exact Fractions and by stated laws)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import refnn
from refnn import DomainError, Matrix, ShapeError, ops

X = Matrix([[Fraction(1), Fraction(2)], [Fraction(3), Fraction(-4)], [Fraction(1, 2), 0]])
b = Matrix([[Fraction(10), Fraction(20)]])


def _both(f: Any) -> list[Any]:
    """``f`` run on a plain Matrix and on the same matrix inside ``refnn.grad``."""
    errors: list[Any] = []
    for wrap in (False, True):
        try:
            if wrap:
                refnn.grad(lambda a: ops.sum(f(a)))(X)
            else:
                f(X)
        except (TypeError, ShapeError) as exc:
            errors.append(exc)
    return errors


def test_a_bias_row_points_to_add_row_and_the_advice_is_right() -> None:
    for exc in _both(lambda x: x + b):
        assert isinstance(exc, ShapeError)
        assert "3×2 and 1×2" in str(exc) and "ops.add_row(A, B)" in str(exc)
    for exc in _both(lambda x: b + x):
        assert "ops.add_row(B, A)" in str(exc)
    for exc in _both(lambda x: x - b):
        assert "ops.add_row(A, ops.neg(B))" in str(exc)
    # the advice, followed: every row plus b, entry by entry
    got = ops.add_row(X, b)
    assert got.tolist() == [[x + y for x, y in zip(r, b.data, strict=True)] for r in X.rows()]
    assert ops.add_row(X, ops.neg(b)) == X - ops.broadcast(b, 3, 2)
    col = Matrix([[1], [2], [3]])
    with pytest.raises(ShapeError, match=r"ops\.broadcast\(B, 3, 2\)"):
        X.hadamard(col)


def test_the_autodiff_docstring_no_longer_promises_a_broadcasting_plus() -> None:
    doc = refnn.autodiff.__doc__ or ""
    assert "so ``x @ w + b`` differentiates" not in doc
    assert "ops.add_row(x @ w, b)" in doc


@pytest.mark.parametrize(
    ("expr", "advice"),
    [
        (lambda a: a + 1, "ops.add_scalar(A, 1)"),
        (lambda a: 1 + a, "ops.add_scalar(A, 1)"),
        (lambda a: a - 2, "ops.add_scalar(A, -2)"),
        (lambda a: 2 - a, "ops.add_scalar(ops.neg(A), 2)"),
        (lambda a: a / a, "ops.div(A, B)"),
        (lambda a: 3 / a, "ops.scale(3, ops.pow(A, -1))"),
    ],
)
def test_scalar_operands_explain_themselves(expr: Any, advice: str) -> None:
    errors = _both(expr)
    assert len(errors) == 2 and all(isinstance(e, TypeError) for e in errors)
    assert all(advice in str(e) for e in errors)


def test_the_advice_for_scalars_computes_what_was_meant() -> None:
    assert ops.add_scalar(X, 1).data == tuple(x + 1 for x in X.data)
    assert ops.add_scalar(ops.neg(X), 2).data == tuple(2 - x for x in X.data)
    Y = X.map(lambda x: x + 5)  # no zero entries
    assert ops.scale(3, ops.pow(Y, -1)).data == tuple(Fraction(3) / y for y in Y.data)


fractions = st.fractions(min_value=-50, max_value=50, max_denominator=20)
nonzero = fractions.filter(lambda c: c != 0)


@given(st.lists(fractions, min_size=6, max_size=6), nonzero)
def test_a_over_c_is_exact_on_fractions_and_differentiates(xs: list[Fraction], c: Fraction) -> None:
    A = Matrix.from_flat(2, 3, xs)
    assert (A / c).data == tuple(x / c for x in xs)  # exact: Fraction division
    value, g = refnn.value_and_grad(lambda a: ops.sum(a / c))(A)
    assert value.data[0] == sum(xs) / c
    assert g == Matrix.full(2, 3, 1 / c)  # ∂(Σ x/c)/∂x = 1/c


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4),
    st.floats(0.01, 1e3) | st.integers(1, 1000),
)
def test_a_over_c_on_floats_is_within_one_rounding_of_the_exact_quotient(
    xs: list[float], c: float
) -> None:
    A = Matrix.from_flat(2, 2, xs)
    got = A / c
    for x, y in zip(xs, got.data, strict=True):
        exact = Fraction(x) / Fraction(c)
        # c⁻¹ rounded once, then the product rounded once: ≤ 2u relative (u = 2⁻⁵³), plus
        # the absolute half-step of the subnormal range for results below 2⁻¹⁰²²
        bound = 2 * Fraction(2) ** -53 * abs(exact) * (1 + Fraction(2) ** -52)
        assert abs(Fraction(y) - exact) <= bound + Fraction(2) ** -1074
    # the traced value is the same bits as the plain one
    assert refnn.value_and_grad(lambda a: ops.sum(a / c))(A)[0] == ops.sum(got)


def test_a_over_c_on_symbols_is_an_exact_rational_multiple() -> None:
    s = sympy.Symbol("s")
    assert (Matrix([[s, 2 * s]]) / 3).data == (s / 3, 2 * s / 3)
    assert (Matrix([[s]]) / 0.5).data == (2 * s,)  # the double 0.5 is exactly 1/2


def test_division_by_zero_is_a_domain_error() -> None:
    with pytest.raises(DomainError, match="by zero"):
        X / 0
    with pytest.raises(DomainError, match="by zero"):
        refnn.grad(lambda a: ops.sum(a / 0.0))(Matrix([[1.0]]))
    assert math.isfinite((Matrix([[1.0]]) / 1e-300).data[0])
