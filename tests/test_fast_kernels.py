"""The fast paths of the float kernels give the same bits as the plain formulas.

The matrix product skips the terms whose left entry is an exact zero (ReLU activations and
masked cotangents are about half zeros), and ``relu``/``step`` inline the float table's
formula. These tests hold each fast path against the plain definition written out here —
``sum(map(mul, row, col))`` per entry, and the scalar functions of the float domain applied
entry by entry — bit for bit (sign of zero, NaN, type of the entry), on inputs full of
exact zeros of both signs, ints, infinities and NaNs, so every branch is reached: rows with
no, few and many zeros, short and long inner dimensions, and a right factor that forbids
skipping (an int, inf or NaN in it).
"""

from __future__ import annotations

import math
import operator
import re
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnn import DomainError, Matrix, ops
from refnn.matrix import _SKIP_ZEROS_MIN_COLS, _SMALL_INNER
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
    got = A @ B
    want = _plain_product(A, B)
    assert got.shape == (A.shape[0], B.shape[1])
    assert [_key(x) for x in got.data] == [_key(x) for x in want]
    assert [_key(x) for x in ops.matmul(A, B).data] == [_key(x) for x in want]


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
    got = (A @ B).data
    assert got == tuple(_plain_product(A, B)) and all(type(x) is int for x in got)


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
