"""Tests of ``refnn.testing``: ``assert_close`` fails on wrong values and passes within the
bound (and only within it); the strategies produce what they promise."""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import refnn.testing as rt
from refnn import Matrix
from refnn.matrix import gamma
from refnn.testing import (
    assert_close,
    exact,
    finite_floats,
    matmul_bound,
    matmul_pairs,
    matrices,
    matrix_pairs,
    shapes,
    sum_bound,
    sum_cols_bound,
    sum_rows_bound,
)

ULP1 = math.ulp(1.0)  # 2⁻⁵²


# ------------------------------------------------------------------ assert_close: exact default
def test_exact_by_default() -> None:
    assert_close(Matrix([[1.0, 0.5]]), Matrix([[1, Fraction(1, 2)]]))
    assert_close(0.1, exact(0.1))
    with pytest.raises(AssertionError):
        assert_close(0.1, Fraction(1, 10))  # 0.1 is not 1/10, and the check is exact


def test_failure_message_names_position_values_and_bound() -> None:
    actual = Matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]])
    expected = Matrix([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, ulps=4, what="tanh")
    msg = str(info.value)
    assert msg.startswith("tanh: 1 of 6 entries of the 2×3 result exceed the bound")
    assert "at (2, 3)" in msg  # 1-based row, column
    assert "actual=6.5" in msg and "expected=6" in msg
    assert "|error|=0.5" in msg and "allowed=3.55e-15" in msg  # 4 · ulp(6) = 4 · 2⁻⁵⁰
    assert "4 ulp" in msg


def test_failure_lists_at_most_five_positions() -> None:
    with pytest.raises(AssertionError) as info:
        assert_close(Matrix.full(3, 3, 1.0), Matrix.full(3, 3, 2))
    msg = str(info.value)
    assert "9 of 9 entries" in msg and msg.count("  at (") == 5


def test_shape_mismatch_fails() -> None:
    with pytest.raises(AssertionError, match="actual is 1×2, expected is 2×1"):
        assert_close(Matrix([[1, 2]]), Matrix([[1], [2]]))
    with pytest.raises(AssertionError, match="actual is a scalar, expected is 1×1"):
        assert_close(1.0, Matrix([[1]]))


# ------------------------------------------------------------------ ulps
@pytest.mark.parametrize("k", [0.5, 1, 4])
def test_ulps_pass_inside_and_fail_just_outside(k: float) -> None:
    e = Fraction(1)
    inside = 1.0 + math.floor(k) * ULP1  # k ulps above 1 (ulp(1) = 2⁻⁵²)
    assert_close(inside if k >= 1 else 1.0, e, ulps=k)
    outside = 1.0 + (math.floor(k) + 1) * ULP1
    with pytest.raises(AssertionError):
        assert_close(outside, e, ulps=k)


def test_half_ulp_is_exactly_correct_rounding() -> None:
    # 1/3 rounded to nearest is within half an ulp; its neighbours are not.
    third = 1 / 3
    assert_close(third, Fraction(1, 3), ulps=0.5)
    for wrong in (math.nextafter(third, 0), math.nextafter(third, 1)):
        with pytest.raises(AssertionError):
            assert_close(wrong, Fraction(1, 3), ulps=0.5)


def test_ulps_scale_with_the_expected_value() -> None:
    assert_close(1e300 * (1 + 2 * ULP1), Fraction(10**300), ulps=4)
    with pytest.raises(AssertionError):
        assert_close(1e-300 + 1e-310, exact(1e-300), ulps=4)


# ------------------------------------------------------------------ abs_bound and terms
def test_abs_bound_scalar_and_matrix() -> None:
    actual = Matrix([[1.0, 2.0]])
    expected = Matrix([[Fraction(1) + Fraction(1, 100), 2]])
    assert_close(actual, expected, abs_bound=Fraction(1, 100))
    with pytest.raises(AssertionError, match=r"at \(1, 1\)"):
        assert_close(actual, expected, abs_bound=Fraction(1, 101))
    assert_close(actual, expected, abs_bound=Matrix([[0.011, 0]]))
    with pytest.raises(AssertionError):
        assert_close(actual, expected, abs_bound=Matrix([[0, 0.011]]))
    with pytest.raises(ValueError, match="abs_bound is 2×1 but the result is 1×2"):
        assert_close(actual, expected, abs_bound=Matrix([[1], [1]]))


def test_terms_bound_is_gamma_n_times_terms() -> None:
    n, terms = 3, Fraction(4)
    allowed = Fraction(gamma(n)) * terms
    expected = Fraction(1)
    ok = 1.0 + 2 * ULP1
    assert Fraction(ok) - expected <= allowed
    assert_close(ok, expected, terms=terms, n=n)
    bad = 1.0 + 8 * ULP1
    assert Fraction(bad) - expected > allowed
    with pytest.raises(AssertionError, match=r"γ_3·Σ\|terms\|"):
        assert_close(bad, expected, terms=terms, n=n)
    with pytest.raises(ValueError, match="needs n="):
        assert_close(ok, expected, terms=terms)


def test_condition_aware_sum() -> None:
    # 1e16 + 1 − 1e16: the recursive float sum is 0, the exact sum 1. Relative to the result
    # the error is 100 %, but it is within γ₂·Σ|terms|, the bound recursive summation
    # promises. Python 3.12 made sum() compensated (Neumaier), which gets 1.0 here: the
    # reference sums with sum(), so its result depends on the Python version, and both
    # results are within the bound.
    A = Matrix([[1e16, 1.0, -1e16]])
    got = A.sum()
    assert got == (0.0 if sys.version_info < (3, 12) else 1.0)
    assert_close(got, Fraction(1), terms=Fraction(2 * 10**16 + 1), n=2)
    assert_close(got, Fraction(1), abs_bound=sum_bound(A))
    assert_close(0.0, Fraction(1), terms=Fraction(2 * 10**16 + 1), n=2)  # the recursive sum's
    with pytest.raises(AssertionError):
        assert_close(0.0, Fraction(1), ulps=1000)


def test_nonfinite_must_match() -> None:
    nan, inf = float("nan"), float("inf")
    assert_close(Matrix([[nan, inf, -inf]]), Matrix([[nan, inf, -inf]]))
    for bad in ([[1.0, inf, -inf]], [[nan, -inf, -inf]], [[nan, inf, 0.0]]):
        with pytest.raises(AssertionError, match="non-finite"):
            assert_close(Matrix(bad), Matrix([[nan, inf, -inf]]), abs_bound=1e300)


def test_reduction_bounds_match_their_definitions() -> None:
    A = Matrix([[1.0, -2.0], [3.0, 4.0], [0.5, 0.0]])
    B = Matrix([[1.0], [-1.0]])
    assert matmul_bound(A, B) == Matrix(
        [[Fraction(gamma(2)) * 3], [Fraction(gamma(2)) * 7], [Fraction(gamma(2)) * Fraction(1, 2)]]
    )
    assert sum_bound(A) == Fraction(gamma(5)) * Fraction(21, 2)
    assert sum_rows_bound(A) == Matrix(
        [[Fraction(gamma(2)) * Fraction(9, 2), Fraction(gamma(2)) * 6]]
    )
    assert sum_cols_bound(A) == Matrix(
        [[Fraction(gamma(1)) * 3], [Fraction(gamma(1)) * 7], [Fraction(gamma(1)) * Fraction(1, 2)]]
    )


def test_exact_reference_types() -> None:
    import mpmath
    import sympy

    assert_close(Matrix([[0.5]]), Matrix([[sympy.Rational(1, 2)]]))
    with mpmath.workdps(40):
        assert_close(math.e, mpmath.e, ulps=0.5)
        with pytest.raises(AssertionError):
            assert_close(math.nextafter(math.e, 3), mpmath.e, ulps=0.5)


# ------------------------------------------------------------------ strategies
@given(shapes())
def test_shapes_default(s: tuple[int, int]) -> None:
    assert 1 <= s[0] <= 3 and 1 <= s[1] <= 3


@given(shapes(5, 2, min_rows=4))
def test_shapes_bounds(s: tuple[int, int]) -> None:
    assert 4 <= s[0] <= 5 and 1 <= s[1] <= 2


@given(matrices())
def test_matrices_default_entries(A: Matrix[Any]) -> None:
    m, n = A.shape
    assert 1 <= m <= 3 and 1 <= n <= 3 and len(A.data) == m * n
    for x in A.data:
        assert type(x) is float and math.isfinite(x)
        assert x == 0 or 1e-100 <= abs(x) <= 1e3


@given(matrices(shape=(2, 4), elements=st.integers(-3, 3)))
def test_matrices_fixed_shape_int_entries(A: Matrix[Any]) -> None:
    assert A.shape == (2, 4) and all(type(x) is int and -3 <= x <= 3 for x in A.data)


@given(matrices(shape=shapes(1, 5), elements=st.fractions(-1, 1)))
def test_matrices_shape_strategy_fraction_entries(A: Matrix[Any]) -> None:
    assert A.shape[0] == 1 and A.domain.name in ("fraction", "float")


@given(matrix_pairs())
def test_matrix_pairs_match(pair: tuple[Matrix[Any], Matrix[Any]]) -> None:
    A, B = pair
    assert A.shape == B.shape


@given(matmul_pairs(4, 2, 5))
def test_matmul_pairs_conform(pair: tuple[Matrix[Any], Matrix[Any]]) -> None:
    A, B = pair
    assert A.shape[1] == B.shape[0]
    assert A.shape[0] <= 4 and A.shape[1] <= 2 and B.shape[1] <= 5


@given(finite_floats(10.0, 0.5))
def test_finite_floats_range(x: float) -> None:
    assert x == 0 or 0.5 <= abs(x) <= 10


def test_strategy_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        shapes(0, 3)
    with pytest.raises(ValueError):
        matrices(shape=(0, 2))
    with pytest.raises(ValueError):
        finite_floats(1.0, 2.0)
    with pytest.raises(ValueError):
        matmul_pairs(0)


def test_public_api() -> None:
    for name in rt.__all__:
        assert callable(getattr(rt, name)), name
    with pytest.raises(AttributeError):
        rt.no_such_name  # noqa: B018
