"""Algebraic laws of ``Matrix``, proven on matrices of SymPy symbols for every shape up to 3×3.

Each proof runs refnn's own ``Matrix`` code on symbolic entries (the same code that runs on
floats) and shows that the two sides of a law agree: every entry of ``lhs − rhs`` expands
to ``0`` as a polynomial in the symbols. Because the entries are free symbols, one check
covers every matrix of that shape over any commutative ring.

The laws alone would also hold for some wrong implementations (a transpose that does
nothing satisfies (Aᵀ)ᵀ = A on square matrices), so the first group pins each operation
to its definition entry by entry, written here independently with explicit indices.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
import sympy

from refnn import Matrix

SIZES = (1, 2, 3)
SHAPES = [(m, n) for m in SIZES for n in SIZES]
SHAPE_IDS = [f"{m}x{n}" for m, n in SHAPES]
TRIPLES = [(m, k, n) for m in SIZES for k in SIZES for n in SIZES]
TRIPLE_IDS = [f"{m}x{k}x{n}" for m, k, n in TRIPLES]
QUADS = [(m, k, l, n) for m in SIZES for k in SIZES for l in SIZES for n in SIZES]
QUAD_IDS = [f"{m}x{k}x{l}x{n}" for m, k, l, n in QUADS]

c, d = sympy.symbols("c d")


def sym(name: str, m: int, n: int) -> Matrix[Any]:
    """The m×n matrix of symbols name_i_j (1-based i, j)."""
    return Matrix(
        [[sympy.Symbol(f"{name}_{i}_{j}") for j in range(1, n + 1)] for i in range(1, m + 1)]
    )


def entry(name: str, i: int, j: int) -> sympy.Symbol:
    return sympy.Symbol(f"{name}_{i}_{j}")


def assert_equal(lhs: Matrix[Any], rhs: Matrix[Any]) -> None:
    """lhs and rhs have the same shape and every entry of lhs − rhs expands to zero."""
    assert lhs.shape == rhs.shape, f"shapes differ: {lhs.shape} vs {rhs.shape}"
    for k, (x, y) in enumerate(zip(lhs.data, rhs.data, strict=True)):
        diff = sympy.expand(sympy.sympify(x) - sympy.sympify(y))
        i, j = divmod(k, lhs.shape[1])
        assert diff == 0, f"entry ({i + 1}, {j + 1}): {x} − {y} = {diff} ≠ 0"


def ones(m: int, n: int) -> Matrix[int]:
    return Matrix.full(m, n, 1)


# ------------------------------------------------------------------ definitions, entry by entry
@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_elementwise_definitions(m: int, n: int) -> None:
    A, B = sym("a", m, n), sym("b", m, n)
    S, D, H, N, C = A + B, A - B, A.hadamard(B), -A, c * A
    T = A.T
    assert T.shape == (n, m)
    for i, j in product(range(1, m + 1), range(1, n + 1)):
        a, b = entry("a", i, j), entry("b", i, j)
        assert A[i, j] == a
        assert sympy.expand(S[i, j] - (a + b)) == 0
        assert sympy.expand(D[i, j] - (a - b)) == 0
        assert sympy.expand(H[i, j] - a * b) == 0
        assert sympy.expand(N[i, j] + a) == 0
        assert sympy.expand(C[i, j] - c * a) == 0
        assert T[j, i] == a


@pytest.mark.parametrize(("m", "k", "n"), TRIPLES, ids=TRIPLE_IDS)
def test_matmul_definition(m: int, k: int, n: int) -> None:
    P = sym("a", m, k) @ sym("b", k, n)
    assert P.shape == (m, n)
    for i, j in product(range(1, m + 1), range(1, n + 1)):
        spec = sum(entry("a", i, t) * entry("b", t, j) for t in range(1, k + 1))
        assert sympy.expand(P[i, j] - spec) == 0


@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_reduction_definitions(m: int, n: int) -> None:
    A = sym("a", m, n)
    rows, cols = range(1, m + 1), range(1, n + 1)
    assert sympy.expand(A.sum() - sum(entry("a", i, j) for i in rows for j in cols)) == 0
    R, C = A.sum_rows(), A.sum_cols()
    assert R.shape == (1, n) and C.shape == (m, 1)
    for j in cols:
        assert sympy.expand(R[1, j] - sum(entry("a", i, j) for i in rows)) == 0
    for i in rows:
        assert sympy.expand(C[i, 1] - sum(entry("a", i, j) for j in cols)) == 0


# ------------------------------------------------------------------ + and ⊙
@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_addition_and_hadamard_laws(m: int, n: int) -> None:
    A, B, C = sym("a", m, n), sym("b", m, n), sym("c", m, n)
    assert_equal(A + B, B + A)
    assert_equal((A + B) + C, A + (B + C))
    assert_equal(A.hadamard(B), B.hadamard(A))
    assert_equal(A.hadamard(B).hadamard(C), A.hadamard(B.hadamard(C)))
    assert_equal(A.hadamard(B + C), A.hadamard(B) + A.hadamard(C))


# ------------------------------------------------------------------ @
@pytest.mark.parametrize(("m", "k", "n"), TRIPLES, ids=TRIPLE_IDS)
def test_matmul_distributes_over_addition(m: int, k: int, n: int) -> None:
    A, B = sym("a", m, k), sym("b", m, k)
    C, D = sym("c", k, n), sym("d", k, n)
    assert_equal(A @ (C + D), A @ C + A @ D)  # left distributivity
    assert_equal((A + B) @ C, A @ C + B @ C)  # right distributivity


@pytest.mark.parametrize(("m", "k", "l", "n"), QUADS, ids=QUAD_IDS)
def test_matmul_is_associative(m: int, k: int, l: int, n: int) -> None:
    A, B, C = sym("a", m, k), sym("b", k, l), sym("c", l, n)
    assert_equal((A @ B) @ C, A @ (B @ C))


# ------------------------------------------------------------------ transpose
@pytest.mark.parametrize(("m", "k", "n"), TRIPLES, ids=TRIPLE_IDS)
def test_transpose_of_product(m: int, k: int, n: int) -> None:
    A, B = sym("a", m, k), sym("b", k, n)
    assert_equal((A @ B).T, B.T @ A.T)


@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_transpose_laws(m: int, n: int) -> None:
    A, B = sym("a", m, n), sym("b", m, n)
    assert_equal((A + B).T, A.T + B.T)
    assert_equal(A.T.T, A)
    assert_equal((c * A).T, c * A.T)


# ------------------------------------------------------------------ scalars
@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_scalar_laws(m: int, n: int) -> None:
    A, B = sym("a", m, n), sym("b", m, n)
    assert_equal(c * (A + B), c * A + c * B)
    assert_equal((c + d) * A, c * A + d * A)
    assert_equal(c * (d * A), (c * d) * A)
    assert_equal(A * c, c * A)
    assert_equal(1 * A, A)


@pytest.mark.parametrize(("m", "k", "n"), TRIPLES, ids=TRIPLE_IDS)
def test_scalar_commutes_with_matmul(m: int, k: int, n: int) -> None:
    A, B = sym("a", m, k), sym("b", k, n)
    assert_equal(c * (A @ B), (c * A) @ B)
    assert_equal(c * (A @ B), A @ (c * B))


# ------------------------------------------------------------------ identity and zero
@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_identity_and_zero_laws(m: int, n: int) -> None:
    A = sym("a", m, n)
    Z = Matrix.zeros(m, n)
    assert_equal(Matrix.identity(m) @ A, A)
    assert_equal(A @ Matrix.identity(n), A)
    assert_equal(A + Z, A)
    assert_equal(Z + A, A)
    assert_equal(A - A, Z)
    assert_equal(A + (-A), Z)
    assert_equal(A.hadamard(ones(m, n)), A)
    assert_equal(0 * A, Z)


# ------------------------------------------------------------------ reductions as products
@pytest.mark.parametrize(("m", "n"), SHAPES, ids=SHAPE_IDS)
def test_reductions_are_products_with_ones(m: int, n: int) -> None:
    A = sym("a", m, n)
    assert_equal(A.sum_rows(), ones(1, m) @ A)  # 1ᵀA: column totals
    assert_equal(A.sum_cols(), A @ ones(n, 1))  # A1: row totals
    assert_equal(Matrix([[A.sum()]]), ones(1, m) @ A @ ones(n, 1))
    assert_equal(A.sum_rows().T, A.T.sum_cols())
