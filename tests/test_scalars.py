"""Tests of ``refnn.scalars``: domain detection, the join rules, and the scalar function
tables (errors outside each function's domain; float values against mpmath at 50 digits).
"""

from __future__ import annotations

import enum
import math
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from refnn import DomainError, Matrix
from refnn.scalars import FLOAT, FRACTION, MPMATH, SYMPY, Domain, detect, domain_of_scalar, join
from refnn.testing import assert_close, exact


class Small(enum.IntEnum):
    ONE = 1


# ------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    ("x", "domain"),
    [
        (1, FLOAT),
        (-2.5, FLOAT),
        (float("nan"), FLOAT),
        (Small.ONE, FLOAT),
        (Fraction(1, 3), FRACTION),
        (sympy.Symbol("x"), SYMPY),
        (sympy.Integer(3), SYMPY),
        (sympy.Rational(1, 2), SYMPY),
        (mpmath.mpf("0.1"), MPMATH),
    ],
)
def test_domain_of_scalar(x: object, domain: Domain) -> None:
    assert domain_of_scalar(x) is domain


@pytest.mark.parametrize(
    ("x", "word"), [(True, "bool"), (False, "bool"), ("1", "str"), (None, "NoneType"),
                    (1j, "complex"), ([1], "list"), (b"1", "bytes")]
)  # fmt: skip
def test_non_numbers_are_refused(x: object, word: str) -> None:
    with pytest.raises(TypeError) as info:
        domain_of_scalar(x)
    assert word in str(info.value)


@pytest.mark.parametrize(
    ("entries", "domain"),
    [
        ([1, 2, 3], FLOAT),
        ([1, 2.5], FLOAT),
        ([Fraction(1, 2), 3], FRACTION),  # ints join Fractions
        ([Fraction(1, 2), Fraction(1, 3)], FRACTION),
        ([sympy.Symbol("x"), 1.5], SYMPY),  # floats join SymPy
        ([sympy.Symbol("x"), Fraction(1, 2)], SYMPY),
        ([mpmath.mpf(1), 2, 0.5], MPMATH),  # ints and floats join mpmath
    ],
)
def test_detect(entries: list[Any], domain: Domain) -> None:
    assert detect(entries) is domain
    assert Matrix([entries]).domain is domain


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([Fraction(1, 2), 0.5], ["Fraction and float"]),
        ([Fraction(1, 2), mpmath.mpf(1)], ["fraction", "mpmath"]),
        ([sympy.Symbol("x"), mpmath.mpf(1)], ["mpmath", "sympy"]),
    ],
)
def test_detect_refuses_mixtures(entries: list[Any], words: list[str]) -> None:
    with pytest.raises(DomainError) as info:
        detect(entries)
    for w in words:
        assert w in str(info.value)


def test_join_table() -> None:
    ints, floats = (1, 2), (1.5, 2)
    assert join(FLOAT, FLOAT, floats, floats) is FLOAT
    assert join(FRACTION, FRACTION, (), ()) is FRACTION
    assert join(FLOAT, SYMPY, floats, ()) is SYMPY and join(SYMPY, FLOAT, (), floats) is SYMPY
    assert join(FRACTION, SYMPY, (), ()) is SYMPY
    assert join(MPMATH, FLOAT, (), floats) is MPMATH
    assert join(FLOAT, FRACTION, ints, ()) is FRACTION
    assert join(FRACTION, FLOAT, (), ints) is FRACTION
    with pytest.raises(DomainError, match=r"A\.map"):
        join(FLOAT, FRACTION, floats, ())
    with pytest.raises(DomainError, match=r"A\.map"):
        join(FRACTION, FLOAT, (), floats)
    for a, b in [(FRACTION, MPMATH), (SYMPY, MPMATH)]:
        with pytest.raises(DomainError):
            join(a, b, (), ())
        with pytest.raises(DomainError):
            join(b, a, (), ())


# ------------------------------------------------------------------ function tables
def test_exp_has_no_fraction_form() -> None:
    with pytest.raises(DomainError) as info:
        FRACTION.fn("exp")
    assert "exp" in str(info.value) and "fraction" in str(info.value)
    assert "A.map(float)" in str(info.value)
    for name in ("exp", "log", "tanh", "sin", "cos", "sqrt", "sigmoid", "softplus"):
        assert not FRACTION.has(name)
    for name in ("relu", "step", "abs", "max", "min", "square", "pow", "div"):
        assert FRACTION.has(name)


def test_every_domain_has_the_common_functions() -> None:
    common = ("relu", "step", "abs", "max", "min", "square", "pow", "div", "to_float")
    for d in (FLOAT, SYMPY, MPMATH):
        for name in (*common, "exp", "log", "sqrt", "tanh", "sin", "cos", "sigmoid", "softplus"):
            assert d.has(name), (d, name)
    with pytest.raises(DomainError):
        FLOAT.fn("no_such_function")


@pytest.mark.parametrize("x", [0.0, -0.0, -1.0, -1e-300])
def test_float_log_of_non_positive(x: float) -> None:
    with pytest.raises(DomainError, match="log needs positive"):
        FLOAT.fn("log")(x)


def test_float_domain_errors() -> None:
    with pytest.raises(DomainError, match="sqrt needs non-negative"):
        FLOAT.fn("sqrt")(-1.0)
    with pytest.raises(DomainError, match="non-integer power"):
        FLOAT.fn("pow")(-2.0, 0.5)
    with pytest.raises(DomainError, match="negative power"):
        FLOAT.fn("pow")(0.0, -1)
    with pytest.raises(DomainError, match="division by a zero"):
        FLOAT.fn("div")(1.0, 0.0)
    with pytest.raises(DomainError, match="log needs positive"):
        MPMATH.fn("log")(mpmath.mpf(0))
    with pytest.raises(DomainError, match="sqrt needs non-negative"):
        MPMATH.fn("sqrt")(mpmath.mpf(-1))
    assert FLOAT.fn("pow")(-2.0, 3) == -8.0


def test_fraction_functions_are_exact() -> None:
    f = FRACTION.fn
    assert f("pow")(Fraction(2, 3), 2) == Fraction(4, 9)
    assert f("pow")(Fraction(2, 3), -1) == Fraction(3, 2)
    assert f("div")(Fraction(1, 3), 2) == Fraction(1, 6)
    assert f("relu")(Fraction(-1, 3)) == 0 and f("relu")(Fraction(1, 3)) == Fraction(1, 3)
    assert f("square")(Fraction(-1, 3)) == Fraction(1, 9)
    assert f("step")(Fraction(1, 3)) == 1 and f("step")(Fraction(0)) == 0
    with pytest.raises(DomainError, match="non-integer power"):
        f("pow")(Fraction(2), Fraction(1, 2))
    with pytest.raises(DomainError, match="division by a zero"):
        f("div")(Fraction(1), 0)
    with pytest.raises(DomainError, match="negative power"):
        f("pow")(Fraction(0), -2)


def test_sympy_functions_are_symbolic() -> None:
    x = sympy.Symbol("x")
    assert sympy.simplify(SYMPY.fn("sigmoid")(x) - 1 / (1 + sympy.exp(-x))) == 0
    assert sympy.simplify(sympy.diff(SYMPY.fn("softplus")(x), x) - SYMPY.fn("sigmoid")(x)) == 0
    assert SYMPY.fn("relu")(sympy.Integer(-2)) == 0 and SYMPY.fn("relu")(sympy.Integer(2)) == 2
    assert SYMPY.fn("pow")(x, 0.5) == sympy.sqrt(x)


# ------------------------------------------------------------------ float values vs mpmath
REFERENCES = {
    "exp": mpmath.exp,
    "tanh": mpmath.tanh,
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
    "softplus": lambda t: mpmath.log1p(mpmath.exp(t)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@given(x=st.floats(-700, 700))
def test_float_functions_against_mpmath(name: str, x: float) -> None:
    got = FLOAT.fn(name)(x)
    with mpmath.workdps(50):
        ref = REFERENCES[name](mpmath.mpf(x))
    ulps = 4 if name in ("sigmoid", "softplus") else 2  # composed vs single libm calls
    assert_close(got, ref, ulps=ulps, what=name)


@given(x=st.floats(min_value=5e-324, max_value=1e300))
def test_float_log_and_sqrt_against_mpmath(x: float) -> None:
    with mpmath.workdps(50):
        log_ref, sqrt_ref = mpmath.log(mpmath.mpf(x)), mpmath.sqrt(mpmath.mpf(x))
    assert_close(FLOAT.fn("log")(x), log_ref, ulps=2, what="log")
    assert_close(FLOAT.fn("sqrt")(x), sqrt_ref, ulps=0.5, what="sqrt")


@pytest.mark.parametrize("x", [-1000.0, -745.0, -40.0, 40.0, 745.0, 1000.0])
def test_sigmoid_and_softplus_are_stable_at_large_inputs(x: float) -> None:
    s, sp = FLOAT.fn("sigmoid")(x), FLOAT.fn("softplus")(x)
    assert math.isfinite(s) and math.isfinite(sp)
    with mpmath.workdps(50):
        ref_s = 1 / (1 + mpmath.exp(-mpmath.mpf(x)))
        ref_sp = mpmath.log1p(mpmath.exp(mpmath.mpf(x)))
    assert_close(s, ref_s, ulps=4, abs_bound=1e-320, what="sigmoid")
    assert_close(sp, ref_sp, ulps=4, abs_bound=1e-320, what="softplus")


def test_exact_helper_handles_every_domain() -> None:
    assert exact(0.1) == Fraction(3602879701896397, 36028797018963968)
    assert exact(mpmath.mpf(0.1)) == exact(0.1)
    assert exact(sympy.Float(0.1)) == exact(0.1)
    assert exact(sympy.Rational(-2, 3)) == Fraction(-2, 3)
    with pytest.raises(TypeError):
        exact(sympy.Symbol("x"))
    with pytest.raises(ValueError):
        exact(float("inf"))
