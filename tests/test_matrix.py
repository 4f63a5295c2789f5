"""Tests of ``refnn.Matrix``: the article's examples, every error path, printing, and
Hypothesis properties of the float arithmetic against exact Fraction arithmetic.

The exact references below are computed independently of the code under test: with
``fractions.Fraction`` and explicit index loops over ``tolist()``, never with the op that
is being checked.
"""

from __future__ import annotations

import copy
import math
import pickle
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from refnn import DomainError, Matrix, ShapeError
from refnn.matrix import gamma
from refnn.scalars import FLOAT, FRACTION, MPMATH, SYMPY
from refnn.testing import (
    assert_close,
    finite_floats,
    matmul_bound,
    matmul_pairs,
    matrices,
    matrix_pairs,
    sum_bound,
    sum_cols_bound,
    sum_rows_bound,
)

A_ART = [[1, 2], [3, 4]]
B_ART = [[5, 6], [7, 8]]


# ------------------------------------------------------------------ independent references
def q(rows: list[list[Any]]) -> list[list[Fraction]]:
    """Entries as exact Fractions (float → Fraction is exact)."""
    return [[Fraction(x) for x in r] for r in rows]


def qmat(rows: list[list[Fraction]]) -> Matrix[Fraction]:
    return Matrix(rows)


def ref_matmul(a: list[list[Fraction]], b: list[list[Fraction]]) -> list[list[Fraction]]:
    m, k, n = len(a), len(b), len(b[0])
    return [[sum((a[i][t] * b[t][j] for t in range(k)), Fraction(0)) for j in range(n)]
            for i in range(m)]  # fmt: skip


# ------------------------------------------------------------------ the article's examples
def test_article_addition() -> None:
    assert Matrix(A_ART) + Matrix(B_ART) == Matrix([[6, 8], [10, 12]])
    assert (Matrix(A_ART) + Matrix(B_ART)).tolist() == [[6, 8], [10, 12]]


def test_article_subtraction() -> None:
    assert (Matrix(B_ART) - Matrix(A_ART)).tolist() == [[4, 4], [4, 4]]


def test_article_hadamard() -> None:
    assert Matrix(B_ART).hadamard(Matrix(A_ART)).tolist() == [[5, 12], [21, 32]]


def test_article_indexing_and_shape() -> None:
    A = Matrix(A_ART)
    assert A.shape == (2, 2) and A.size == 4
    assert (A[1, 1], A[1, 2], A[2, 1], A[2, 2]) == (1, 2, 3, 4)
    assert Matrix([[1, 2, 3]]).shape == (1, 3)
    assert Matrix([[1], [2], [3]]).shape == (3, 1)
    assert A.row(2).tolist() == [[3, 4]] and A.col(2).tolist() == [[2], [4]]


def test_small_worked_products() -> None:
    A, B = Matrix(A_ART), Matrix(B_ART)
    assert (A @ B).tolist() == [[19, 22], [43, 50]]  # 1·5+2·7, 1·6+2·8, 3·5+4·7, 3·6+4·8
    assert A.T.tolist() == [[1, 3], [2, 4]]
    assert (3 * A).tolist() == [[3, 6], [9, 12]] and (A * 3) == 3 * A
    assert (-A).tolist() == [[-1, -2], [-3, -4]]
    assert A.sum() == 10
    assert A.sum_rows().tolist() == [[4, 6]] and A.sum_cols().tolist() == [[3], [7]]


def test_int_entries_stay_int() -> None:
    C = Matrix(A_ART) + Matrix(B_ART)
    assert all(type(x) is int for x in C.data)
    assert all(type(x) is float for x in (Matrix(A_ART) + Matrix([[0.5, 0.5], [0.5, 0.5]])).data)


# ------------------------------------------------------------------ indexing errors
@pytest.mark.parametrize(
    ("key", "words"),
    [
        ((0, 1), ["row index 0", "1-based", "1..2"]),
        ((3, 1), ["row index 3", "1-based", "1..2", "2×2"]),
        ((1, 0), ["column index 0", "1-based"]),
        ((1, 3), ["column index 3", "1-based", "1..2"]),
        ((-1, 1), ["row index -1", "1-based"]),
        ((1, -1), ["column index -1", "1-based"]),
        ((1.0, 1), ["must be an int", "float", "1-based"]),
        ((1, "1"), ["must be an int", "str"]),
        ((True, 1), ["must be an int", "bool"]),
    ],
)
def test_index_errors(key: tuple[Any, Any], words: list[str]) -> None:
    A = Matrix(A_ART)
    with pytest.raises(IndexError) as info:
        A[key]
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("key", [1, (1,), (1, 1, 1), slice(None)])
def test_index_needs_two_indices(key: Any) -> None:
    with pytest.raises(IndexError, match=r"two 1-based indices"):
        Matrix(A_ART)[key]


def test_row_col_index_errors() -> None:
    A = Matrix([[1, 2, 3]])
    with pytest.raises(IndexError, match=r"row index 2 .*1-based.*1\.\.1"):
        A.row(2)
    with pytest.raises(IndexError, match=r"column index 0 .*1-based.*1\.\.3"):
        A.col(0)


# ------------------------------------------------------------------ shape errors
@pytest.mark.parametrize(
    ("op", "rule"),
    [
        (lambda a, b: a + b, "element-wise addition needs equal shapes"),
        (lambda a, b: a - b, "element-wise subtraction needs equal shapes"),
        (lambda a, b: a.hadamard(b), "Hadamard product ⊙ needs equal shapes"),
    ],
)
def test_elementwise_shape_errors(op: Any, rule: str) -> None:
    with pytest.raises(ShapeError) as info:
        op(Matrix(A_ART), Matrix([[1, 2, 3]]))
    assert rule in str(info.value)
    assert "2×2 and 1×3" in str(info.value)
    assert isinstance(info.value, ValueError)  # ShapeError is also a ValueError


def test_matmul_shape_error() -> None:
    with pytest.raises(ShapeError) as info:
        Matrix([[1, 2, 3]]) @ Matrix(A_ART)
    msg = str(info.value)
    assert "columns of the left" in msg and "rows of the right" in msg
    assert "1×3 @ 2×2" in msg


def test_reshape_and_constructor_shape_errors() -> None:
    with pytest.raises(ShapeError, match="2×2 cannot become 3×1"):
        Matrix(A_ART).reshape(3, 1)
    with pytest.raises(ShapeError, match="needs 6 entries, got 5"):
        Matrix.from_flat(2, 3, [1, 2, 3, 4, 5])
    with pytest.raises(ShapeError, match=r"m ≥ 1 rows .* got 0×3"):
        Matrix.from_flat(0, 3, [])
    with pytest.raises(ShapeError, match="n ≥ 1"):
        Matrix.identity(0)
    assert Matrix(A_ART).reshape(1, 4).tolist() == [[1, 2, 3, 4]]


# ------------------------------------------------------------------ construction errors
def test_ragged_rows() -> None:
    with pytest.raises(ShapeError) as info:
        Matrix([[1, 2], [3]])
    assert "ragged rows" in str(info.value)
    assert "row 1 has 2 entries but row 2 has 1" in str(info.value)


def test_empty_input() -> None:
    with pytest.raises(ShapeError, match="at least one row"):
        Matrix([])
    with pytest.raises(ShapeError, match="at least one column"):
        Matrix([[]])


@pytest.mark.parametrize(
    ("bad", "words"),
    [("x", ["str"]), (None, ["NoneType"]), (True, ["bool"]), (1j, ["complex"]), ([1], ["list"])],
)
def test_non_numeric_entries(bad: Any, words: list[str]) -> None:
    with pytest.raises(TypeError) as info:
        Matrix([[1, bad]])
    for w in words:
        assert w in str(info.value)


def test_rows_must_be_sequences() -> None:
    with pytest.raises(TypeError, match="a sequence of rows"):
        Matrix("12")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"row 1 is a int"):
        Matrix([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"row 2 is a str"):
        Matrix([[1], "2"])  # type: ignore[list-item]


def test_fraction_with_float_is_refused() -> None:
    with pytest.raises(DomainError, match="Fraction and float"):
        Matrix([[Fraction(1, 2), 0.5]])


# ------------------------------------------------------------------ operator refusals
def test_star_between_matrices_is_refused() -> None:
    with pytest.raises(TypeError) as info:
        Matrix(A_ART) * Matrix(B_ART)  # type: ignore[operator]
    assert "hadamard" in str(info.value) and "@" in str(info.value)


def test_bad_operands() -> None:
    A = Matrix(A_ART)
    with pytest.raises(TypeError):
        A + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        A * "2"
    with pytest.raises(TypeError):
        A * True
    with pytest.raises(TypeError):
        A @ 2  # type: ignore[operator]
    with pytest.raises(TypeError, match="hadamard needs a Matrix"):
        A.hadamard([[1, 2], [3, 4]])  # type: ignore[arg-type]


def test_not_iterable_and_no_truth_value() -> None:
    A = Matrix(A_ART)
    with pytest.raises(TypeError, match="not iterable"):
        iter(A)
    with pytest.raises(TypeError, match="ambiguous"):
        bool(A)


# ------------------------------------------------------------------ immutability and hashing
def test_immutability() -> None:
    A = Matrix(A_ART)
    with pytest.raises(TypeError, match="immutable"):
        A[1, 1] = 9  # type: ignore[index]
    with pytest.raises(AttributeError, match="immutable"):
        A._data = (9, 9, 9, 9)  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        A.anything = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        del A._m
    assert isinstance(A.data, tuple)
    rows = A.tolist()
    rows[0][0] = 99
    assert A[1, 1] == 1
    assert A.tolist() == A_ART
    assert copy.copy(A) is A and copy.deepcopy(A) is A


def test_pickle_round_trip() -> None:
    for A in (Matrix(A_ART), Matrix([[0.1, -2.5]]), Matrix([[Fraction(1, 3)]])):
        B = pickle.loads(pickle.dumps(A))
        assert B == A and B.domain is A.domain


def test_hashing_and_dict_keys() -> None:
    A, A2 = Matrix(A_ART), Matrix([[1, 2], [3, 4]])
    assert A == A2 and hash(A) == hash(A2)
    table = {A: "a"}
    assert table[A2] == "a"
    assert Matrix([[1, 2]]) != Matrix([[1], [2]])  # same entries, different shape
    assert Matrix([[1, 2]]) not in {Matrix([[1], [2]]): 0}
    assert Matrix(A_ART) != Matrix(B_ART)
    # across domains: whenever two matrices are equal, their hashes are equal
    pool = [
        Matrix([[1, 2]]), Matrix([[1.0, 2.0]]), Matrix([[Fraction(1), Fraction(2)]]),
        Matrix([[sympy.Integer(1), sympy.Integer(2)]]), Matrix([[mpmath.mpf(1), 2]]),
        Matrix([[0.5]]), Matrix([[Fraction(1, 2)]]), Matrix([[sympy.Rational(1, 2)]]),
        Matrix([[Fraction(1, 3)]]), Matrix([[sympy.Rational(1, 3)]]),
    ]  # fmt: skip
    for X in pool:
        for Y in pool:
            if X == Y:
                assert hash(X) == hash(Y), (X, Y)
    assert pool[0] == pool[1] == pool[2] == pool[3]
    assert pool[5] == pool[6] == pool[7] and pool[8] == pool[9]
    assert {pool[6]: "half"}[pool[7]] == "half"
    assert (Matrix(A_ART) == [[1, 2], [3, 4]]) is False


# ------------------------------------------------------------------ printing
REPR_NS = {"Matrix": Matrix, "Fraction": Fraction, "S": sympy.sympify}


@pytest.mark.parametrize(
    "A",
    [
        Matrix(A_ART),
        Matrix([[0.1, -2.5e-300, 1e300]]),
        Matrix([[Fraction(1, 3), Fraction(-7, 2)], [1, 0]]),
        Matrix([[sympy.Symbol("x") + 1, sympy.Rational(1, 2)], [sympy.sin(sympy.Symbol("y")), 3]]),
    ],
)
def test_repr_round_trip(A: Matrix[Any]) -> None:
    B = eval(repr(A), REPR_NS)
    assert B == A and B.domain is A.domain and B.shape == A.shape


@given(matrices(elements=st.floats(allow_nan=False, allow_infinity=False)))
def test_repr_round_trip_floats(A: Matrix[float]) -> None:
    B = eval(repr(A), REPR_NS)
    assert B == A
    assert all(
        math.copysign(1, x) == math.copysign(1, y) for x, y in zip(A.data, B.data, strict=True)
    )


def test_repr_of_nonfinite() -> None:
    A = Matrix([[float("nan"), float("inf"), -float("inf")]])
    B = eval(repr(A), REPR_NS)
    assert math.isnan(B[1, 1]) and B[1, 2] == math.inf and B[1, 3] == -math.inf


def test_str_bracket_form() -> None:
    assert str(Matrix(A_ART)) == "⎡1  2⎤\n⎣3  4⎦"
    assert str(Matrix([[1, 2], [3, 4], [5, 6]])) == "⎡1  2⎤\n⎢3  4⎥\n⎣5  6⎦"
    assert str(Matrix([[1, 22], [333, 4]])) == "⎡  1  22⎤\n⎣333   4⎦"
    assert str(Matrix([[1, 2, 3]])) == "[1  2  3]"
    assert str(Matrix([[0.1, 2.0]])) == "[0.1  2]"
    assert str(Matrix([[1 / 3]])) == "[0.333333]"
    assert str(Matrix([[Fraction(1, 2)], [Fraction(-3)]])) == "⎡1/2⎤\n⎣ -3⎦"


def test_to_latex() -> None:
    assert Matrix(A_ART).to_latex() == r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"
    assert Matrix([[Fraction(-1, 2), 3]]).to_latex() == (
        r"\begin{bmatrix} -\frac{1}{2} & 3 \end{bmatrix}"
    )
    x = sympy.Symbol("x")
    assert Matrix([[x**2]]).to_latex() == r"\begin{bmatrix} x^{2} \end{bmatrix}"


# ------------------------------------------------------------------ constructors and structure
def test_constructors() -> None:
    assert Matrix.zeros(2, 3).tolist() == [[0, 0, 0], [0, 0, 0]]
    assert Matrix.identity(3).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert Matrix.full(2, 1, 0.5).tolist() == [[0.5], [0.5]]
    assert Matrix.from_flat(2, 3, range(1, 7)).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert Matrix(Matrix(A_ART)) == Matrix(A_ART)
    assert Matrix(iter([iter([1, 2]), (3, 4)])).tolist() == A_ART
    M = Matrix([[1, 2, 3], [4, 5, 6]])
    assert list(M.rows()) == [(1, 2, 3), (4, 5, 6)]
    assert list(M.cols()) == [(1, 4), (2, 5), (3, 6)]
    assert M.map(lambda v: v * 10).tolist() == [[10, 20, 30], [40, 50, 60]]
    assert M.zip_with(M, lambda u, v: u - v) == Matrix.zeros(2, 3)
    with pytest.raises(ShapeError, match="zip_with needs equal shapes: 2×3 and 3×2"):
        M.zip_with(M.T, lambda u, v: u)


# ------------------------------------------------------------------ domains of results
def test_domain_mixing_rules() -> None:
    ints = Matrix(A_ART)
    floats = Matrix([[0.5, 1.5], [2.5, 3.5]])
    fracs = Matrix([[Fraction(1, 2), Fraction(1, 3)], [Fraction(1, 4), Fraction(1, 5)]])
    syms = Matrix([[sympy.Symbol("x"), 1], [2, 3]])
    mps = Matrix([[mpmath.mpf(1), 2], [3, 4]])
    assert ints.domain is FLOAT and floats.domain is FLOAT and fracs.domain is FRACTION
    assert syms.domain is SYMPY and mps.domain is MPMATH

    s = ints + fracs  # int entries join the Fraction domain, exactly
    assert s.domain is FRACTION and s[1, 2] == Fraction(7, 3)
    assert (ints @ fracs).domain is FRACTION
    assert (fracs.hadamard(ints))[2, 2] == Fraction(4, 5)
    for op in (
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a.hadamard(b),
        lambda a, b: a @ b,
    ):
        with pytest.raises(DomainError, match="Fraction"):
            op(floats, fracs)
        with pytest.raises(DomainError, match="Fraction"):
            op(fracs, floats)
        with pytest.raises(DomainError):
            op(fracs, mps)
        with pytest.raises(DomainError):
            op(syms, mps)
        assert op(floats, syms).domain is SYMPY
        assert op(fracs, syms).domain is SYMPY
        assert op(floats, mps).domain is MPMATH
        assert op(ints, mps).domain is MPMATH
    with pytest.raises(DomainError):
        0.5 * fracs
    assert (Fraction(1, 2) * ints).domain is FRACTION
    assert (2 * fracs).domain is FRACTION
    assert (sympy.Symbol("c") * floats).domain is SYMPY
    assert floats.map(Fraction).domain is FRACTION
    assert fracs.map(float).domain is FLOAT


def test_exactness_in_fraction_and_sympy_domains() -> None:
    third = Matrix([[Fraction(1, 3)] * 3])
    assert third.sum() == 1  # 1/3 + 1/3 + 1/3 exactly (0.1-style float error impossible)
    x = sympy.Symbol("x")
    P = Matrix([[x, 1]]) @ Matrix([[x], [-1]])
    assert sympy.expand(P[1, 1] - (x**2 - 1)) == 0


def test_typing_smoke() -> None:
    A: Matrix[float] = Matrix([[1.0, 2.0]])
    B: Matrix[float] = A + A
    t: float = B.sum()
    F: Matrix[Fraction] = Matrix([[Fraction(1, 2)]])
    assert t == 6.0 and F.T == F


# ------------------------------------------------------------------ float properties vs Fraction
@given(matrix_pairs())
def test_add_sub_are_correctly_rounded(pair: tuple[Matrix[float], Matrix[float]]) -> None:
    A, B = pair
    a, b = q(A.tolist()), q(B.tolist())
    m, n = A.shape
    exact_sum = qmat([[a[i][j] + b[i][j] for j in range(n)] for i in range(m)])
    exact_diff = qmat([[a[i][j] - b[i][j] for j in range(n)] for i in range(m)])
    assert_close(A + B, exact_sum, ulps=0.5, what="A + B")
    assert_close(A - B, exact_diff, ulps=0.5, what="A - B")
    assert_close(-A, qmat([[-x for x in r] for r in a]), what="-A")


@given(matrix_pairs())
def test_hadamard_is_correctly_rounded(pair: tuple[Matrix[float], Matrix[float]]) -> None:
    A, B = pair
    a, b = q(A.tolist()), q(B.tolist())
    m, n = A.shape
    exact = qmat([[a[i][j] * b[i][j] for j in range(n)] for i in range(m)])
    assert_close(A.hadamard(B), exact, ulps=0.5, what="A ⊙ B")


@given(matrices(), finite_floats())
def test_scalar_multiple_is_correctly_rounded(A: Matrix[float], c: float) -> None:
    exact = qmat([[Fraction(c) * x for x in r] for r in q(A.tolist())])
    assert_close(c * A, exact, ulps=0.5, what="c·A")
    assert_close(A * c, exact, ulps=0.5, what="A·c")


@given(matrices())
def test_transpose_is_exact(A: Matrix[float]) -> None:
    a = A.tolist()
    m, n = A.shape
    assert A.T.tolist() == [[a[i][j] for i in range(m)] for j in range(n)]
    assert A.T.T == A


@given(matmul_pairs())
def test_matmul_within_gamma_bound(pair: tuple[Matrix[float], Matrix[float]]) -> None:
    A, B = pair
    exact = ref_matmul(q(A.tolist()), q(B.tolist()))
    k = A.shape[1]
    abs_terms = ref_matmul(
        [[abs(x) for x in r] for r in q(A.tolist())], [[abs(x) for x in r] for r in q(B.tolist())]
    )
    assert_close(A @ B, qmat(exact), terms=qmat(abs_terms), n=k, what="A @ B")
    assert_close(A @ B, qmat(exact), abs_bound=matmul_bound(A, B), what="A @ B")
    # the Fraction domain computes the same product exactly
    assert A.map(Fraction) @ B.map(Fraction) == qmat(exact)


@given(matrices(shape=st.tuples(st.integers(1, 4), st.integers(1, 4))))
def test_sums_within_gamma_bound(A: Matrix[float]) -> None:
    a = q(A.tolist())
    m, n = A.shape
    total = sum((x for r in a for x in r), Fraction(0))
    abs_total = sum((abs(x) for r in a for x in r), Fraction(0))
    assert_close(A.sum(), total, terms=abs_total, n=m * n - 1, what="A.sum()")
    assert_close(A.sum(), total, abs_bound=sum_bound(A), what="A.sum()")
    col_totals = qmat([[sum((a[i][j] for i in range(m)), Fraction(0)) for j in range(n)]])
    row_totals = qmat([[sum((a[i][j] for j in range(n)), Fraction(0))] for i in range(m)])
    assert_close(A.sum_rows(), col_totals, abs_bound=sum_rows_bound(A), what="sum_rows")
    assert_close(A.sum_cols(), row_totals, abs_bound=sum_cols_bound(A), what="sum_cols")
    assert A.map(Fraction).sum() == total
    assert A.map(Fraction).sum_rows() == col_totals
    assert A.map(Fraction).sum_cols() == row_totals


def test_matmul_bound_is_attained_order_of_magnitude() -> None:
    """A cancelling dot product: a blanket rtol on the tiny result would fail, the
    condition-aware bound passes, and a bound without the γ factor would fail."""
    A = Matrix([[1e16, 1.0, -1e16]])
    B = Matrix([[1.0], [1.0], [1.0]])
    exact = Fraction(1)
    got = (A @ B)[1, 1]
    assert got != 1  # the float sum loses the 1 entirely
    assert_close(A @ B, Matrix([[exact]]), abs_bound=matmul_bound(A, B))
    with pytest.raises(AssertionError):
        assert_close(A @ B, Matrix([[exact]]), ulps=4)
    assert gamma(3) * 2e16 >= 1


@given(matmul_pairs(elements=st.integers(-50, 50)))
def test_int_matmul_is_exact(pair: tuple[Matrix[int], Matrix[int]]) -> None:
    A, B = pair
    P = A @ B
    assert all(type(x) is int for x in P.data)
    assert P == qmat(ref_matmul(q(A.tolist()), q(B.tolist())))
