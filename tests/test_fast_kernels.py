"""The fast paths of the float kernels give the same bits as the plain formulas.

The matrix product skips the terms whose left entry is an exact zero (ReLU activations and
masked cotangents are about half zeros), runs generated kernels that write each entry out as
Python arithmetic (``s += a0 * b0_0`` …) once a shape comes a second time, and ``relu``/``step``
inline the float table's formula. These tests hold each fast path against the plain
definition written out here — ``sum(map(mul, row, col))`` per entry (for an inner dimension
of at most 4, the products added left to right), the generated kernels against the terms
added in order with ``functools.reduce``, and the scalar functions of the float domain
applied entry by entry — bit for bit (sign of zero, NaN, type of the entry), on inputs full
of exact zeros of both signs, ints, infinities and NaNs, so every branch is reached: rows
with no, few and many zeros, short and long inner dimensions, and a right factor that
forbids skipping (an int, inf or NaN in it).
"""

from __future__ import annotations

import math
import operator
import re
import struct
import sys
from functools import reduce
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnn import DomainError, Matrix, ops
from refnn.matrix import (
    _KERNEL_MAX_TERMS,
    _SKIP_ZEROS_MIN_COLS,
    _SMALL_INNER,
    _generated_product,
    _kernel,
    _shapes_seen,
)
from refnn.scalars import FLOAT

_ZEROS = st.sampled_from([0.0, -0.0, 0])
_SPECIAL = st.sampled_from([math.inf, -math.inf, math.nan, 1e-300, -1e-300, 1e308])


def _entries(zero_weight: int) -> st.SearchStrategy[Any]:
    """Entries that are exact zeros about zero_weight/(zero_weight + 3) of the time."""
    finite = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False)
    return st.one_of(*([_ZEROS] * zero_weight), finite, finite, st.integers(-3, 3))


def _key(x: Any) -> tuple[str, bytes | int]:
    """A value's type and exact bits (so 0.0 and −0.0, or 1 and 1.0, differ)."""
    if isinstance(x, float):
        return ("float", struct.pack("<d", x))
    return (type(x).__name__, x)


def _plain_product(A: Matrix[Any], B: Matrix[Any]) -> list[Any]:
    return [sum(map(operator.mul, r, c)) for r in A.rows() for c in B.cols()]


def _added_in_order(A: Matrix[Any], B: Matrix[Any], *start: int) -> list[Any]:
    """Each entry's products added left to right with ``+``, from ``start`` (or from the
    first product when no start is given)."""
    return [
        reduce(operator.add, map(operator.mul, r, c), *start) for r in A.rows() for c in B.cols()
    ]


@st.composite
def _product_case(draw: st.DrawFn) -> tuple[Matrix[Any], Matrix[Any]]:
    m = draw(st.integers(1, 6))
    k = draw(st.integers(_SMALL_INNER + 1, 40))
    n = draw(st.integers(1, 9))
    a = draw(st.lists(_entries(draw(st.integers(0, 6))), min_size=m * k, max_size=m * k))
    if draw(st.booleans()):  # some special values in the left factor (kept, never skipped)
        for pos in draw(st.lists(st.integers(0, m * k - 1), max_size=3)):
            a[pos] = draw(_SPECIAL)
    b_entry = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False)
    b = draw(
        st.lists(
            st.one_of(b_entry, _ZEROS.filter(lambda z: isinstance(z, float))),
            min_size=k * n,
            max_size=k * n,
        )
    )
    spoil = draw(st.sampled_from(["none", "none", "int", "inf", "nan"]))
    if spoil != "none":  # a right factor with which 0·b may not be ±0.0: no skipping
        b[draw(st.integers(0, k * n - 1))] = {"int": 2, "inf": math.inf, "nan": math.nan}[spoil]
    return Matrix.from_flat(m, k, a), Matrix.from_flat(k, n, b)


@given(_product_case())
def test_matmul_is_bit_identical_to_the_plain_sums(case: tuple[Matrix[Any], Matrix[Any]]) -> None:
    A, B = case
    want = [_key(x) for x in _plain_product(A, B)]
    for _ in range(2):  # a shape's first product, then (finite factors) a generated kernel
        got = A @ B
        assert got.shape == (A.shape[0], B.shape[1])
        assert [_key(x) for x in got.data] == want
        assert [_key(x) for x in ops.matmul(A, B).data] == want


@st.composite
def _short_inner_case(draw: st.DrawFn) -> tuple[Matrix[Any], Matrix[Any]]:
    m, k, n = draw(st.integers(1, 6)), draw(st.integers(1, _SMALL_INNER)), draw(st.integers(1, 9))
    entry = st.one_of(_entries(2), _SPECIAL) if draw(st.booleans()) else _entries(2)
    a = draw(st.lists(entry, min_size=m * k, max_size=m * k))
    b = draw(st.lists(entry, min_size=k * n, max_size=k * n))
    return Matrix.from_flat(m, k, a), Matrix.from_flat(k, n, b)


@given(_short_inner_case())
def test_matmul_with_a_short_inner_dimension_adds_the_products_in_order(
    case: tuple[Matrix[Any], Matrix[Any]],
) -> None:
    """Up to k = 4 an entry is p₀ + p₁ + … from its first product (not from sum's 0, so a
    lone −0.0 product stays −0.0), on the outer-product path and in the generated kernel."""
    A, B = case
    want = [_key(x) for x in _added_in_order(A, B)]
    for _ in range(2):
        assert [_key(x) for x in (A @ B).data] == want


def test_matmul_skipping_reaches_every_branch() -> None:
    """Rows with no zero, a few, mostly zeros and only zeros, short and long inner
    dimensions, against the plain sums (the property above draws such cases at random)."""
    for k in (_SMALL_INNER + 1, 16, 33, 100):
        n = max(_SKIP_ZEROS_MIN_COLS, 5)
        rows = [
            [float(t + 1) for t in range(k)],  # no zero
            [0.0 if t % 5 == 0 else 0.5 - t for t in range(k)],  # a few zeros
            [-0.0 if t % 4 else 1.0 / (t + 1) for t in range(k)],  # mostly zeros
            [0.0] * k,  # only zeros
            [-0.0] * (k - 1) + [-2.5],  # one non-zero
        ]
        A = Matrix(rows)
        B = Matrix.from_flat(k, n, [((3 * i) % 7 - 3) / 4 for i in range(k * n)])
        want = _plain_product(A, B)
        assert [_key(x) for x in (A @ B).data] == [_key(x) for x in want]


def test_matmul_with_zero_left_and_infinite_right_keeps_the_nan() -> None:
    A = Matrix([[0.0, 1.0, 0.0, 2.0, 0.0, 0.0]])
    B = Matrix.from_flat(6, 4, [math.inf if i == 0 else 1.0 for i in range(24)])
    got = (A @ B).data
    assert math.isnan(got[0]) and got[1:] == (3.0, 3.0, 3.0)


def test_matmul_of_int_matrices_stays_int() -> None:
    A = Matrix([[0, 2, 0, 0, 1, 0]])
    B = Matrix.from_flat(6, 4, list(range(24)))
    for _ in range(2):  # the second product runs a generated kernel
        got = (A @ B).data
        assert got == tuple(_plain_product(A, B)) and all(type(x) is int for x in got)


# Finite entries (the generated kernels' domain), with huge ones whose products overflow, so
# that ∞ − ∞ makes NaNs inside the sums too.
_FINITE = st.one_of(
    _ZEROS,
    _ZEROS,
    st.floats(min_value=-4.0, max_value=4.0, allow_nan=False),
    st.integers(-3, 3),
    st.sampled_from([1e308, -1e308, 5e-324, -5e-324]),
)


@st.composite
def _finite_case(draw: st.DrawFn) -> tuple[Matrix[Any], Matrix[Any]]:
    m, k, n = (draw(st.integers(1, hi)) for hi in (7, 12, 7))
    a = draw(st.lists(_FINITE, min_size=m * k, max_size=m * k))
    b_entry = _FINITE if draw(st.booleans()) else _FINITE.map(float)
    b = draw(st.lists(b_entry, min_size=k * n, max_size=k * n))
    return Matrix.from_flat(m, k, a), Matrix.from_flat(k, n, b)


def _run_kernel(kind: str, start: str, A: Matrix[Any], B: Matrix[Any]) -> list[Any]:
    (m, k), n = A.shape, B.shape[1]
    if kind == "rows":
        return _kernel("rows", k, n, start)(A.data, B.data)
    return _kernel("steps", m, n, start)(A.cols(), B.rows())


@given(_finite_case())
def test_generated_kernels_add_each_entrys_products_in_order(
    case: tuple[Matrix[Any], Matrix[Any]],
) -> None:
    """Each generated kernel, on finite factors, against the products added in order: from
    the int 0 ("zero"; "skip" too, which leaves out the terms of A's zeros when B holds only
    floats), from the first product ("first"), or by ``sum`` of the whole tuple ("sum").
    On Python 3.11, where ``sum`` adds from 0 one term at a time, "zero" and "skip" also
    equal the plain sums; from 3.12 on ``sum`` compensates and ``@`` uses "sum" instead."""
    A, B = case
    from_zero = [_key(x) for x in _added_in_order(A, B, 0)]
    want = {
        "zero": from_zero,
        "first": [_key(x) for x in _added_in_order(A, B)],
        "sum": [_key(x) for x in _plain_product(A, B)],
    }
    if all(type(x) is float for x in B.data):
        want["skip"] = from_zero
    for start, expected in want.items():
        for kind in ("rows", "steps") if start in ("zero", "skip") else ("rows",):
            assert [_key(x) for x in _run_kernel(kind, start, A, B)] == expected, (kind, start)
    if sys.version_info < (3, 12):
        assert from_zero == want["sum"]


def test_the_second_product_of_a_shape_runs_a_generated_kernel() -> None:
    """The first product of a shape takes the plain paths, the second a kernel; a factor
    with an infinite or NaN entry, or a shape too large to write out, never does. (From
    Python 3.12 on, where kernels call sum(), a long inner dimension keeps the plain paths.)"""
    long_inner = sys.version_info < (3, 12)
    for m, k, n, kernel in ((3, 2, 5, True), (9, 6, 4, True), (2, 30, 3, long_inner)):
        A = Matrix.from_flat(m, k, [(i % 5 - 2) / 3 for i in range(m * k)])
        B = Matrix.from_flat(k, n, [(i % 7 - 3) / 2 for i in range(k * n)])
        _shapes_seen.discard((m, k, n))
        assert _generated_product(A.data, m, k, B.data, n) is None
        assert (_generated_product(A.data, m, k, B.data, n) is not None) == kernel
        for bad in (math.inf, math.nan):
            spoilt = (bad, *B.data[1:])
            assert _generated_product(A.data, m, k, spoilt, n) is None
    big = int(_KERNEL_MAX_TERMS**0.5) + 1
    data = (1.0,) * (big * big)
    for _ in range(2):
        assert _generated_product(data, big, big, data, big) is None


_UNARY = st.one_of(_entries(3), _SPECIAL)


@given(st.lists(_UNARY, min_size=1, max_size=30))
def test_relu_and_step_match_the_float_table(xs: list[Any]) -> None:
    A = Matrix.from_flat(1, len(xs), xs)
    assert A.domain is FLOAT
    for name in ("relu", "step"):
        f = FLOAT.fn(name)
        got = getattr(ops, name)(A).data
        assert [_key(x) for x in got] == [_key(f(x)) for x in xs], name


@given(st.lists(_UNARY, min_size=1, max_size=30))
def test_sin_and_cos_match_the_float_table(xs: list[Any]) -> None:
    """sin and cos map the C function over the matrix (FLOAT_UNCHECKED); the values, and
    the DomainError for ±inf, are those of the float table's checked functions."""
    A = Matrix.from_flat(1, len(xs), xs)
    for name in ("sin", "cos"):
        f = FLOAT.fn(name)
        try:
            want = [_key(f(x)) for x in xs]
        except DomainError as exc:
            with pytest.raises(DomainError, match=re.escape(str(exc))):
                getattr(ops, name)(A)
            continue
        assert [_key(x) for x in getattr(ops, name)(A).data] == want, name
