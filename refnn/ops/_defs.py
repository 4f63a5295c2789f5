"""The registry's ops, each with its reference kernel, VJP and SymPy specification side by side.

Reading guide for one entry::

    def _tanh_vjp(g, y, inputs, params):         # cotangent(s), written in registry ops
        return (sub(g, hadamard(g, square(y))),)  # g ⊙ (1 − y²)

    @defop(arity=1, vjp=_tanh_vjp,                # a unary op's shape and cases default
           spec=lambda A: A.applyfunc(sympy.tanh),  # the meaning, independent of the kernel
           bound=..., formula="tanh A", rule="g ⊙ (1 − y²)")
    def tanh(A):                                 # the reference kernel on Matrices
        return _map1(A, "tanh")

``g`` is the cotangent of the output, ``y`` the output, ``inputs``/``params`` the call's
arguments. Parameters (``p`` of ``pow``, ``slope``, ``lo``/``hi``, ``c``) are constants, not
differentiated; they are converted to the domain of the matrix they act on (a ``Fraction``
parameter stays exact on a Fraction or SymPy matrix and is rounded to the nearest double
on a float matrix), see :func:`const`.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Iterator
from fractions import Fraction
from itertools import repeat
from typing import Any

from refnn import scalars
from refnn.errors import DomainError, ShapeError
from refnn.matrix import Matrix, fmt_shape
from refnn.ops._core import (
    Case,
    ErrorBound,
    InputDomain,
    Shape,
    Value,
    binary_cases,
    defop,
    same_shape,
    unary_cases,
)

Mat = Matrix[Any]
_bsum = builtins.sum
_sympy: Any = None


def _sp() -> Any:
    global _sympy
    if _sympy is None:
        import sympy

        _sympy = sympy
    return _sympy


# ------------------------------------------------------------------------ helpers
def concrete(x: Value) -> Value:
    """The concrete value under any number of autodiff tracers."""
    while hasattr(x, "__refnn_value__"):
        x = x.__refnn_value__
    return x


def const(p: Any, like: Value) -> Any:
    """The parameter ``p`` (int, float, Fraction, SymPy number) in the domain of ``like``."""
    v = concrete(like)
    dom = v.domain if isinstance(v, Matrix) else scalars.FLOAT
    if type(p) is int:
        return p
    if dom is scalars.FLOAT:
        if isinstance(p, Fraction):
            return int(p) if p.denominator == 1 else float(p)
        return float(p)
    if dom is scalars.FRACTION:
        return Fraction(p)
    if dom is scalars.SYMPY:
        sp = _sp()
        return p if isinstance(p, sp.Basic) else sp.Rational(Fraction(p))
    import mpmath

    q = Fraction(p)
    return mpmath.mpf(q.numerator) / q.denominator


def _map1(A: Mat, fname: str) -> Mat:
    f = A.domain.fn(fname)
    m, n = A.shape
    if A.domain is scalars.FLOAT:
        raw = scalars.FLOAT_UNCHECKED.get(fname)
        if raw is not None:  # the C function, without a Python call per entry
            try:
                return Matrix._new(m, n, tuple(map(raw, A.data)), A.domain)
            except ValueError:
                pass  # an entry the checked function refuses: it raises the DomainError
    return Matrix._new(m, n, tuple(map(f, A.data)), A.domain)


def _mapp(A: Mat, fname: str, p: Any) -> Mat:
    f = A.domain.fn(fname)
    m, n = A.shape
    return Matrix._new(m, n, tuple(map(f, A.data, repeat(p))), A.domain)


def _elem(A: Mat, B: Mat, f: Any) -> Mat:
    m, n = A.shape
    dom = A._join(B)
    return Matrix._new(m, n, tuple(map(f, A.data, B.data)), dom)


def _zeros_like_slice(g: Value, m: int, k: int) -> Value:
    """An m×k block of zeros on g's backend (built with ops, so it stays differentiable)."""
    return broadcast(scale(0, sum(g)), m, k)


_EXACT = ErrorBound(ulps=0.5, vjp_ulps=2.0)
# correctly rounded forward, VJP of up to three correctly rounded steps (div: (g/b)·(a/b);
# leaky_relu: a·g + (1 − a)·(g ⊙ step), with 1 − a rounded): ≤ 3u relative to its terms
_EXACT3 = ErrorBound(ulps=0.5, vjp_ulps=4.0)
_NOOP = ErrorBound(ulps=0.0, vjp_ulps=0.0)
_LIBM = ErrorBound(ulps=2.0, vjp_ulps=8.0)
_RED = ErrorBound(ulps=0.5, reduction=True, vjp_ulps=2.0)

_POS = InputDomain(lo=0.05, hi=5.0)
_NEG_INF = -math.inf
_KINK0 = InputDomain(lo=-3.0, hi=3.0, avoid=(0.0,), margin=1e-2)


# ======================================================================= arithmetic
def _add_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (g, g)


@defop(
    vjp_reads=(),
    arity=2,
    shape=same_shape("element-wise addition"),
    vjp=_add_vjp,
    formula="A + B",
    rule="(g, g)",
    spec=lambda A, B: A + B,
    bound=_EXACT,
    cases=binary_cases,
)
def add(A: Mat, B: Mat) -> Mat:
    """A + B, element-wise (equal shapes). Correctly rounded.

    Bound: forward 0.5 ulp (one IEEE addition, correctly rounded); VJP 2 ulp (the cotangent
    itself, copied: exact).
    """
    return A + B


def _sub_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (g, neg(g))


@defop(
    vjp_reads=(),
    arity=2,
    shape=same_shape("element-wise subtraction"),
    vjp=_sub_vjp,
    formula="A − B",
    rule="(g, −g)",
    spec=lambda A, B: A - B,
    bound=_EXACT,
    cases=binary_cases,
)
def sub(A: Mat, B: Mat) -> Mat:
    """A − B, element-wise (equal shapes). Correctly rounded.

    Bound: forward 0.5 ulp (one IEEE subtraction); VJP 2 ulp (g and −g: exact).
    """
    return A - B


def _neg_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (neg(g),)


@defop(arity=1, vjp=_neg_vjp, spec=lambda A: -A, bound=_NOOP, formula="−A", rule="−g", vjp_reads=())
def neg(A: Mat) -> Mat:
    """−A. Exact.

    Bound: forward 0 ulp (a sign flip is exact); VJP 0 ulp (−g: exact).
    """
    return -A


def _hadamard_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    A, B = xs
    return (hadamard(g, B), hadamard(g, A))


@defop(
    vjp_reads=("inputs",),
    arity=2,
    shape=same_shape("the Hadamard product ⊙"),
    vjp=_hadamard_vjp,
    formula="A ⊙ B",
    rule="(g ⊙ B, g ⊙ A)",
    spec=lambda A, B: A.multiply_elementwise(B),
    bound=_EXACT,
    cases=binary_cases,
)
def hadamard(A: Mat, B: Mat) -> Mat:
    """A ⊙ B, the element-wise (Hadamard) product. Correctly rounded.

    Bound: forward 0.5 ulp (one IEEE product); VJP 2 ulp (g⊙B and g⊙A: one product each, ½ ulp).
    """
    return A.hadamard(B)


def _scale_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (scale(ps[0], g),)


@defop(
    vjp_reads=(),
    arity=1,
    params=("c",),
    scalar_first=True,
    vjp=_scale_vjp,
    formula="c·A",
    rule="c·g",
    spec=lambda A, c: c * A,
    bound=_EXACT,
    cases=unary_cases(((2,), (Fraction(-1, 2),), (0,))),
)
def scale(A: Mat, c: Any) -> Mat:
    """c·A, read as ``scale(c, A)``. ``c`` is a constant converted to A's domain. Correctly
    rounded.

    Bound: forward 0.5 ulp (one product by the double nearest c); VJP 2 ulp (c·g: one product, ½
    ulp).
    """
    return A.scale(const(c, A))


def _add_scalar_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (g,)


@defop(
    vjp_reads=(),
    arity=1,
    params=("c",),
    vjp=_add_scalar_vjp,
    formula="A + c (c added to every entry)",
    rule="g",
    spec=lambda A, c: A.applyfunc(lambda x: x + c),
    bound=_EXACT,
    cases=unary_cases(((1,), (Fraction(-1, 4),))),
)
def add_scalar(A: Mat, c: Any) -> Mat:
    """A + c, adding the constant c to every entry. Correctly rounded.

    Bound: forward 0.5 ulp (one addition of the double nearest c); VJP 2 ulp (g: exact).
    """
    k = const(c, A)
    m, n = A.shape
    return Matrix._new(m, n, tuple(map(operator.add, A.data, repeat(k))), A.domain)


def _div_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    gA = div(g, xs[1])
    return (gA, neg(hadamard(gA, y)))  # ∂(a/b)/∂b = −(a/b)/b


@defop(
    arity=2,
    shape=same_shape("element-wise division"),
    vjp=_div_vjp,
    formula="A ⊘ B",
    rule="(g ⊘ B, −(g ⊘ B) ⊙ y)",
    spec=lambda A, B: A.multiply_elementwise(B.applyfunc(lambda x: 1 / x)),
    domains=(InputDomain(), InputDomain(avoid=(0.0,), margin=0.2)),
    bound=_EXACT3,
    cases=binary_cases,
)
def div(A: Mat, B: Mat) -> Mat:
    """A ⊘ B, element-wise quotient. A zero divisor raises :class:`~refnn.DomainError` (all
    domains). Correctly rounded.

    Bound: forward 0.5 ulp (one IEEE division); VJP 4 ulp (g/b, then (g/b)·(a/b) reusing the
    rounded y: three rounded steps reach 3 × ½ ulp… plus the reuse of y, ≤ 3u relative to the
    terms, stated as 4).
    """
    return _elem(A, B, A._join(B).fn("div"))


# ======================================================================= products, shape
def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if a[1] != b[0]:
        raise ShapeError(
            f"the matrix product needs the columns of the left to match the rows of the "
            f"right: {fmt_shape(a)} @ {fmt_shape(b)}"
        )
    return (a[0], b[1])


def _matmul_cases(k: int) -> Iterator[Case]:
    for m in range(1, k + 1):
        for j in range(1, k + 1):
            for n in range(1, k + 1):
                yield ((m, j), (j, n)), ()


def _matmul_vjp(
    g: Value,
    y: Value,
    xs: tuple[Value, ...],
    ps: tuple[Any, ...],
    needs: tuple[bool, ...] = (True, True),
) -> tuple[Value, ...]:
    A, B = xs
    return (
        matmul(g, transpose(B)) if needs[0] else None,
        matmul(transpose(A), g) if needs[1] else None,
    )


@defop(
    vjp_reads=("inputs",),
    arity=2,
    shape=_matmul_shape,
    vjp=_matmul_vjp,
    spec=lambda A, B: A * B,
    formula="AB",
    rule="(g Bᵀ, Aᵀ g)",
    bound=_RED,
    cases=_matmul_cases,
    vjp_selective=True,
)
def matmul(A: Mat, B: Mat) -> Mat:
    """AB: (AB)₍ᵢ,ⱼ₎ = Σₖ A₍ᵢ,ₖ₎B₍ₖ,ⱼ₎; float bound |error| ≤ γₖ · Σₖ |A₍ᵢ,ₖ₎B₍ₖ,ⱼ₎|.

    Bound: forward 0.5 ulp + γₖ·Σₖ|AᵢₖBₖⱼ| (recursive summation of k rounded products, Higham
    §3.1); VJP 2 ulp on top of the same γ term of the two products g·Bᵀ and Aᵀ·g, which the
    harness adds.
    """
    return A @ B


def _transpose_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (transpose(g),)


@defop(
    vjp_reads=(),
    arity=1,
    shape=lambda a: (a[1], a[0]),
    vjp=_transpose_vjp,
    spec=lambda A: A.T,
    formula="Aᵀ",
    rule="gᵀ",
    bound=_NOOP,
)
def transpose(A: Mat) -> Mat:
    """Aᵀ. Exact.

    Bound: forward 0 ulp (a copy); VJP 0 ulp (a copy).
    """
    return A.T


def _broadcast_shape(a: Shape, m: int, n: int) -> Shape:
    if a not in ((1, 1), (1, n), (m, 1), (m, n)):
        raise ShapeError(
            f"broadcast stretches a 1×1, 1×n or m×1 matrix to m×n: {fmt_shape(a)} cannot "
            f"become {m}×{n}"
        )
    return (m, n)


def _broadcast_cases(k: int) -> Iterator[Case]:
    for m in range(1, k + 1):
        for n in range(1, k + 1):
            for src in sorted({(1, 1), (1, n), (m, 1), (m, n)}):
                yield (src,), (m, n)


def _broadcast_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    (a,) = xs
    src, dst = a.shape, ps
    if src == dst:
        return (g,)
    if src == (1, 1):
        return (sum(g),)
    if src[0] == 1:
        return (sum_rows(g),)
    return (sum_cols(g),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    params=("m", "n"),
    int_params=("m", "n"),
    shape=_broadcast_shape,
    vjp=_broadcast_vjp,
    formula="A stretched to m×n (a 1×1, 1×n or m×1 A repeated)",
    rule="g summed over the stretched directions: sum, sum_rows or sum_cols of g",
    spec=lambda A, m, n: _sp().Matrix(
        m, n, lambda i, j: A[0 if A.rows == 1 else i, 0 if A.cols == 1 else j]
    ),
    bound=_NOOP,
    cases=_broadcast_cases,
)
def broadcast(A: Mat, m: int, n: int) -> Mat:
    """A stretched to m×n: a 1×1 fills everything, a 1×n row repeats down, an m×1 column
    repeats across. Exact. Its VJP is a sum (``sum``, ``sum_rows`` or ``sum_cols`` of the
    cotangent), so the VJP carries that reduction's bound γₙ·Σ|terms| — which the tests and
    the conformance harness add for every VJP — on top of the 0 ulps stated here.

    Bound: forward 0 ulp (a copy); VJP 0 ulp beyond the γₙ·Σ|g| of the reduction it calls.
    """
    a, b = A.shape
    if (a, b) == (m, n):
        return A
    if a == 1:
        return Matrix._new(m, n, A.data * m if b == n else A.data * (m * n), A.domain)
    data = tuple(x for x in A.data for _ in range(n))
    return Matrix._new(m, n, data, A.domain)


def _add_row_shape(a: Shape, b: Shape) -> Shape:
    if b != (1, a[1]):
        raise ShapeError(
            f"add_row adds a 1×n row to every row of an m×n matrix: {fmt_shape(a)} and "
            f"{fmt_shape(b)}"
        )
    return a


def _add_row_cases(k: int) -> Iterator[Case]:
    for m in range(1, k + 1):
        for n in range(1, k + 1):
            yield ((m, n), (1, n)), ()


def _add_row_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (g, sum_rows(g))


@defop(
    vjp_reads=(),
    arity=2,
    shape=_add_row_shape,
    vjp=_add_row_vjp,
    formula="A + 1·B (the 1×n row B added to every row of A: a bias)",
    rule="(g, sum_rows(g))",
    spec=lambda A, b: A + _sp().ones(A.rows, 1) * b,
    bound=_EXACT,
    cases=_add_row_cases,
)
def add_row(A: Mat, b: Mat) -> Mat:
    """A + 1·b: the 1×n row b added to every row of the m×n matrix A (a bias). Correctly
    rounded.

    Bound: forward 0.5 ulp (one addition per entry); VJP 2 ulp beyond sum_rows's γₘ·Σ|g| for b
    (g itself for A: exact).
    """
    m, n = A.shape
    dom = A._join(b)
    return Matrix._new(m, n, tuple(map(operator.add, A.data, b.data * m)), dom)


def _concat_shape(a: Shape, b: Shape) -> Shape:
    if a[0] != b[0]:
        raise ShapeError(
            f"concat_cols needs the same number of rows: {fmt_shape(a)} and {fmt_shape(b)}"
        )
    return (a[0], a[1] + b[1])


def _concat_cases(k: int) -> Iterator[Case]:
    for m in range(1, k + 1):
        for n1 in range(1, k + 1):
            for n2 in range(1, k + 1):
                yield ((m, n1), (m, n2)), ()


def _concat_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    n1 = xs[0].shape[1]
    n = y.shape[1]
    return (slice_cols(g, 1, n1), slice_cols(g, n1 + 1, n))


@defop(
    arity=2,
    shape=_concat_shape,
    vjp=_concat_vjp,
    spec=lambda A, B: A.row_join(B),
    formula="[A B] (the columns of B right of those of A)",
    rule="(the first columns of g, the remaining columns of g)",
    bound=_NOOP,
    cases=_concat_cases,
)
def concat_cols(A: Mat, B: Mat) -> Mat:
    """[A B]: the columns of B placed to the right of those of A (equal row counts). Exact.

    Bound: forward 0 ulp (a copy); VJP 0 ulp (two slices: copies).
    """
    dom = A._join(B)
    data = tuple(x for ra, rb in zip(A.rows(), B.rows(), strict=True) for x in (*ra, *rb))
    return Matrix._new(A.shape[0], A.shape[1] + B.shape[1], data, dom)


def _slice_shape(a: Shape, j1: int, j2: int) -> Shape:
    if not (isinstance(j1, int) and isinstance(j2, int) and 1 <= j1 <= j2 <= a[1]):
        raise ShapeError(
            f"slice_cols takes columns j1..j2 with 1 ≤ j1 ≤ j2 ≤ n (1-based, inclusive) of a "
            f"{fmt_shape(a)} matrix; got {j1}..{j2}"
        )
    return (a[0], j2 - j1 + 1)


def _slice_cases(k: int) -> Iterator[Case]:
    for m in range(1, k + 1):
        for n in range(1, k + 1):
            for j1 in range(1, n + 1):
                for j2 in range(j1, n + 1):
                    yield ((m, n),), (j1, j2)


def _slice_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    j1, j2 = ps
    m, n = xs[0].shape
    out = g
    if j1 > 1:
        out = concat_cols(_zeros_like_slice(g, m, j1 - 1), out)
    if j2 < n:
        out = concat_cols(out, _zeros_like_slice(g, m, n - j2))
    return (out,)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    params=("j1", "j2"),
    int_params=("j1", "j2"),
    shape=_slice_shape,
    vjp=_slice_vjp,
    formula="columns j1..j2 of A",
    rule="g placed in columns j1..j2 of a zero matrix",
    spec=lambda A, j1, j2: A[:, j1 - 1 : j2],
    bound=_NOOP,
    cases=_slice_cases,
)
def slice_cols(A: Mat, j1: int, j2: int) -> Mat:
    """Columns j1 through j2 of A (1-based, inclusive). Exact.

    Bound: forward 0 ulp (a copy); VJP 0 ulp (the cotangent placed among exact zeros).
    """
    data = tuple(x for r in A.rows() for x in r[j1 - 1 : j2])
    return Matrix._new(A.shape[0], j2 - j1 + 1, data, A.domain)


# ======================================================================= reductions
def _sum_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    m, n = xs[0].shape
    return (broadcast(g, m, n),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    shape=lambda a: (1, 1),
    vjp=_sum_vjp,
    formula="Σᵢⱼ Aᵢⱼ (1×1)",
    rule="g broadcast to A's shape",
    spec=lambda A: _sp().Matrix([[_bsum(A)]]),
    bound=_RED,
)
def sum(A: Mat) -> Mat:
    """Σᵢⱼ A₍ᵢ,ⱼ₎ as a 1×1 matrix; float bound |error| ≤ γ_{mn−1} · Σ|A₍ᵢ,ⱼ₎|.

    Bound: forward 0.5 ulp + γₙ·Σ|aᵢⱼ| (recursive summation, Higham §4.2); VJP 2 ulp (broadcast
    of g: exact).
    """
    return Matrix._new(1, 1, (A.sum(),), A.domain)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    shape=lambda a: (1, a[1]),
    vjp=_sum_vjp,
    formula="Σᵢ Aᵢⱼ, the 1×n row of column totals",
    rule="g repeated down the rows of A",
    spec=lambda A: _sp().Matrix([[_bsum(A[:, j]) for j in range(A.cols)]]),
    bound=_RED,
)
def sum_rows(A: Mat) -> Mat:
    """The sum of the rows of A: the 1×n row of column totals Σᵢ A₍ᵢ,ⱼ₎; float bound
    γ_{m−1} · Σᵢ|A₍ᵢ,ⱼ₎| per entry.

    Bound: forward 0.5 ulp + γₘ·Σᵢ|aᵢⱼ| per entry; VJP 2 ulp (broadcast: exact).
    """
    return A.sum_rows()


@defop(
    vjp_reads=("inputs",),
    arity=1,
    shape=lambda a: (a[0], 1),
    vjp=_sum_vjp,
    formula="Σⱼ Aᵢⱼ, the m×1 column of row totals",
    rule="g repeated across the columns of A",
    spec=lambda A: _sp().Matrix([[_bsum(A[i, :])] for i in range(A.rows)]),
    bound=_RED,
)
def sum_cols(A: Mat) -> Mat:
    """The sum of the columns of A: the m×1 column of row totals Σⱼ A₍ᵢ,ⱼ₎; float bound
    γ_{n−1} · Σⱼ|A₍ᵢ,ⱼ₎| per entry.

    Bound: forward 0.5 ulp + γₙ·Σⱼ|aᵢⱼ| per entry; VJP 2 ulp (broadcast: exact).
    """
    return A.sum_cols()


def _mean_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    m, n = xs[0].shape
    return (broadcast(scale(Fraction(1, m * n), g), m, n),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    shape=lambda a: (1, 1),
    vjp=_mean_vjp,
    formula="Σᵢⱼ Aᵢⱼ / (mn) (1×1)",
    rule="g/(mn) broadcast to A's shape",
    spec=lambda A: _sp().Matrix([[_bsum(A) / (A.rows * A.cols)]]),
    bound=ErrorBound(ulps=1.0, reduction=True, vjp_ulps=2.0),
)
def mean(A: Mat) -> Mat:
    """The mean of all entries as a 1×1 matrix: (Σ A₍ᵢ,ⱼ₎)/(mn). Float bound
    γ_{mn−1}·Σ|A₍ᵢ,ⱼ₎|/(mn) plus half an ulp for the division.

    Bound: forward 1 ulp + γₙ·Σ|aᵢⱼ|/(mn) (the sum's bound, then one division: ½ ulp, stated as
    1); VJP 2 ulp (g·(1/mn): one product, plus the rounding of 1/mn).
    """
    N = A.size
    total = A.sum()
    if A.domain is scalars.FLOAT or A.domain is scalars.MPMATH:
        # one correctly rounded division; total·(1/N) would round twice (an ulp off)
        value: Any = total / N
    else:
        value = total * const(Fraction(1, N), A)  # exact
    return Matrix._new(1, 1, (value,), A.domain)


# ======================================================================= element-wise
def _exp_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (hadamard(g, y),)


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_exp_vjp,
    spec=lambda A: A.applyfunc(_sp().exp),
    formula="eᴬ",
    rule="g ⊙ y",
    bound=_LIBM,
)
def exp(A: Mat) -> Mat:
    """eˣ element-wise. In the float domain an overflowing entry (x > 709.78) raises
    ``OverflowError`` rather than returning inf.

    Bound: forward 2 ulp (a libm exp: CPython's math.exp, glibc's, NumPy's are within 1 ulp; 2
    leaves room for vendor libms); VJP 8 ulp (g⊙y reuses y, which carries its own 2 ulp, then
    one product).
    """
    return _map1(A, "exp")


def _log_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (div(g, xs[0]),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_log_vjp,
    spec=lambda A: A.applyfunc(_sp().log),
    formula="log A",
    rule="g ⊘ A",
    domains=(_POS,),
    bound=_LIBM,
)
def log(A: Mat) -> Mat:
    """The natural logarithm element-wise; a non-positive float entry raises
    :class:`~refnn.DomainError`.

    Bound: forward 2 ulp (libm log, as exp); VJP 8 ulp (g/x: one division).
    """
    return _map1(A, "log")


def _sqrt_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (div(g, scale(2, y)),)


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_sqrt_vjp,
    spec=lambda A: A.applyfunc(_sp().sqrt),
    formula="√A",
    rule="g ⊘ (2y)",
    domains=(_POS,),
    bound=_EXACT,
)
def sqrt(A: Mat) -> Mat:
    """√x element-wise (correctly rounded); a negative float entry raises
    :class:`~refnn.DomainError`. The derivative at 0 is infinite: 0 is outside the domain
    of the VJP (it divides by zero and raises).

    Bound: forward 0.5 ulp (IEEE √ is correctly rounded); VJP 2 ulp (g/(2y): one division of an
    exact doubling, reusing y's ½ ulp).
    """
    return _map1(A, "sqrt")


def _pow_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    (p,) = ps
    if p == 0:
        return (scale(0, g),)
    if p == 1:
        return (g,)
    return (hadamard(g, scale(p, pow(xs[0], p - 1))),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    params=("p",),
    vjp=_pow_vjp,
    formula="Aᵖ",
    rule="g ⊙ p·Aᵖ⁻¹",
    spec=lambda A, p: A.applyfunc(lambda x: x**p),
    domains=(InputDomain(lo=0.1, hi=3.0),),
    bound=_LIBM,
    cases=unary_cases(((2,), (3,), (-1,), (Fraction(1, 2),), (0,), (1,))),
)
def pow(A: Mat, p: Any) -> Mat:
    """xᵖ element-wise for a constant p. A negative entry with a non-integer p, or a zero
    entry with p < 0, raises :class:`~refnn.DomainError`.

    Bound: forward 2 ulp (libm pow, as exp); VJP 8 ulp (p·x^(p−1)⊙g: a libm pow, a product by p
    and by g).
    """
    return _mapp(A, "pow", const(p, A))


def _square_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (hadamard(g, scale(2, xs[0])),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_square_vjp,
    spec=lambda A: A.applyfunc(lambda x: x**2),
    formula="A²",
    rule="g ⊙ 2A",
    bound=_EXACT,
)
def square(A: Mat) -> Mat:
    """x² element-wise (x·x, correctly rounded).

    Bound: forward 0.5 ulp (x·x, one product); VJP 2 ulp (g⊙(2x): one product, the doubling is
    exact).
    """
    return _map1(A, "square")


def _tanh_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (sub(g, hadamard(g, square(y))),)  # g ⊙ (1 − y²)


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_tanh_vjp,
    spec=lambda A: A.applyfunc(_sp().tanh),
    formula="tanh A",
    rule="g ⊙ (1 − y²)",
    bound=_LIBM,
)
def tanh(A: Mat) -> Mat:
    """tanh x element-wise.

    Bound: forward 2 ulp (libm tanh, as exp); VJP 8 ulp (g − g⊙y²: y carries 2 ulp, then three
    rounded steps).
    """
    return _map1(A, "tanh")


def _sigmoid_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (hadamard(g, sub(y, square(y))),)  # g ⊙ σ(1 − σ)


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_sigmoid_vjp,
    formula="σ(A) = 1/(1 + e⁻ᴬ)",
    rule="g ⊙ y ⊙ (1 − y)",
    spec=lambda A: A.applyfunc(lambda x: 1 / (1 + _sp().exp(-x))),
    domains=(InputDomain(lo=-8.0, hi=8.0),),
    bound=ErrorBound(ulps=4.0, vjp_ulps=16.0),
)
def sigmoid(A: Mat) -> Mat:
    """σ(x) = 1/(1 + e⁻ˣ) element-wise, in the stable form: for x ≥ 0 it computes
    1/(1 + e⁻ˣ), for x < 0 it computes eˣ/(1 + eˣ), so no exponential of a large positive
    number is formed and large |x| gives 0 or 1 without overflow.

    Bound: forward 4 ulp (the stable form: one libm exp (2 ulp), an addition and a division,
    each ½ ulp, and the exp's error passed through 1/(1 + e) at most once: 2 + 3·½ rounded up to
    4); VJP 16 ulp (g⊙(y − y²): y carries 4 ulp, amplified at most twice by the subtraction's
    terms, then two rounded steps).
    """
    return _map1(A, "sigmoid")


def _softplus_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    return (hadamard(g, sigmoid(xs[0])),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_softplus_vjp,
    formula="log(1 + eᴬ)",
    rule="g ⊙ σ(A)",
    spec=lambda A: A.applyfunc(lambda x: _sp().log(1 + _sp().exp(x))),
    domains=(InputDomain(lo=-8.0, hi=8.0),),
    bound=ErrorBound(ulps=4.0, vjp_ulps=16.0),
)
def softplus(A: Mat) -> Mat:
    """log(1 + eˣ) element-wise, computed as max(x, 0) + log1p(e^−|x|): no overflow for
    large x, full relative accuracy for very negative x.

    Bound: forward 4 ulp (max(x, 0) + log1p(e^−|x|): a libm exp and a libm log1p (2 ulp each)
    and one addition); VJP 16 ulp (g⊙σ(x): σ's 4 ulp forward, then one product, with margin for
    σ's internal steps).
    """
    return _map1(A, "softplus")


def _sin_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (hadamard(g, cos(xs[0])),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_sin_vjp,
    spec=lambda A: A.applyfunc(_sp().sin),
    formula="sin A",
    rule="g ⊙ cos A",
    domains=(InputDomain(lo=-4.0, hi=4.0),),
    bound=_LIBM,
)
def sin(A: Mat) -> Mat:
    """sin x element-wise (x in radians).

    Bound: forward 2 ulp (libm sin on the test domain |x| ≤ 4, as exp); VJP 8 ulp (g⊙cos x: a
    libm cos and one product).
    """
    return _map1(A, "sin")


def _cos_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (neg(hadamard(g, sin(xs[0]))),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_cos_vjp,
    spec=lambda A: A.applyfunc(_sp().cos),
    formula="cos A",
    rule="−g ⊙ sin A",
    domains=(InputDomain(lo=-4.0, hi=4.0),),
    bound=_LIBM,
)
def cos(A: Mat) -> Mat:
    """cos x element-wise (x in radians).

    Bound: forward 2 ulp (libm cos, as sin); VJP 8 ulp (−g⊙sin x: a libm sin and one product).
    """
    return _map1(A, "cos")


# ------------------------------------------------------------ piecewise (kinks avoided in tests)
def _step_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (scale(0, g),)


@defop(
    vjp_reads=(),
    arity=1,
    vjp=_step_vjp,
    formula="step(A): 1 where A > 0, else 0",
    rule="0 (zero everywhere)",
    spec=lambda A: A.applyfunc(lambda x: _sp().Heaviside(x, 0)),
    domains=(_KINK0,),
    bound=_NOOP,
    smooth=False,
)
def step(A: Mat) -> Mat:
    """The Heaviside step: 1 where x > 0, else 0 (so step(0) = 0). Its derivative is taken
    as 0 everywhere (it is 0 wherever it exists); it is the mask in ReLU's VJP.

    Bound: forward 0 ulp (0 or 1: exact); VJP 0 ulp (0·g: exact).
    """
    if A.domain is scalars.FLOAT:
        # the float table's formula, inlined (x > 0.0 is x > 0 for ints and floats, faster):
        # 1 above 0, 0 at or below, NaN stays NaN
        m, n = A.shape
        return Matrix._new(
            m, n, tuple([1 if x > 0.0 else (0 if x <= 0.0 else x) for x in A.data]), A.domain
        )
    return _map1(A, "step")


def _relu_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    return (hadamard(g, step(xs[0])),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    vjp=_relu_vjp,
    formula="max(A, 0)",
    rule="g ⊙ step(A)",
    spec=lambda A: A.applyfunc(lambda x: _sp().Max(x, 0)),
    domains=(_KINK0,),
    bound=_NOOP,
    smooth=False,
)
def relu(A: Mat) -> Mat:
    """max(x, 0) element-wise. Its derivative at 0 is taken as 0 (``step(0) = 0``).

    Bound: forward 0 ulp (x or 0: exact); VJP 0 ulp (g⊙step(x): exact).
    """
    if A.domain is scalars.FLOAT:
        # the float table's formula, inlined (x > 0.0 is x > 0 for ints and floats, faster):
        # 0·x keeps an int an int and NaN NaN; −inf gives its limit 0
        m, n = A.shape
        return Matrix._new(
            m,
            n,
            tuple([x if x > 0.0 else (0 * x if x != _NEG_INF else 0.0) for x in A.data]),
            A.domain,
        )
    return _map1(A, "relu")


def _leaky_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    (a,) = ps
    # derivative: 1 where x > 0, a elsewhere  =  a + (1 − a)·step(x)
    return (add(scale(a, g), scale(1 - Fraction(a), hadamard(g, step(xs[0])))),)


@defop(
    vjp_reads=("inputs",),
    arity=1,
    params=("slope",),
    vjp=_leaky_vjp,
    formula="max(A, 0) + slope·min(A, 0)",
    rule="slope·g + (1 − slope)·(g ⊙ step(A))",
    spec=lambda A, a: A.applyfunc(lambda x: _sp().Max(x, 0) + a * _sp().Min(x, 0)),
    domains=(_KINK0,),
    bound=_EXACT3,
    cases=unary_cases(((Fraction(1, 100),), (Fraction(1, 5),))),
    smooth=False,
)
def leaky_relu(A: Mat, slope: Any) -> Mat:
    """x where x > 0, slope·x elsewhere. The derivative at 0 is taken as ``slope``.
    Computed as relu(x) − slope·relu(−x), which is exact for every entry.

    Bound: forward 0.5 ulp (relu(x) − slope·relu(−x): one product, the subtraction of an exact
    zero is exact); VJP 4 ulp (slope·g + (1 − slope)·(g⊙step(x)): 1 − slope rounded, two
    products and an addition: ≤ 3 × ½ ulp relative to the terms, stated as 4).
    """
    a = const(slope, A)
    pos = _map1(A, "relu")
    negpart = _map1(-A, "relu")
    return pos - negpart.scale(a)


def _clip_vjp(g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]) -> tuple[Value, ...]:
    lo, hi = ps
    x = xs[0]
    inside = hadamard(step(add_scalar(x, -Fraction(lo))), step(neg(add_scalar(x, -Fraction(hi)))))
    return (hadamard(g, inside),)


def _clip_shape(a: Shape, lo: Any, hi: Any) -> Shape:
    if not lo <= hi:
        raise DomainError(f"clip needs lo ≤ hi, got lo={lo!r}, hi={hi!r}")
    return a


@defop(
    vjp_reads=("inputs",),
    arity=1,
    params=("lo", "hi"),
    shape=_clip_shape,
    vjp=_clip_vjp,
    formula="min(max(A, lo), hi)",
    rule="g ⊙ [lo < A < hi]",
    spec=lambda A, lo, hi: A.applyfunc(lambda x: _sp().Min(_sp().Max(x, lo), hi)),
    domains=(InputDomain(lo=-2.0, hi=2.0, avoid=(-1.0, 0.0, 0.5, 1.0), margin=1e-2),),
    bound=_NOOP,
    cases=unary_cases(((-1, 1), (0, Fraction(1, 2)))),
    smooth=False,
)
def clip(A: Mat, lo: Any, hi: Any) -> Mat:
    """min(max(x, lo), hi) element-wise. The derivative is 1 strictly inside (lo, hi) and 0
    elsewhere, including at lo and hi themselves.

    Bound: forward 0 ulp (min and max select an input: exact); VJP 0 ulp (g⊙mask: exact).
    """
    f_max, f_min = A.domain.fn("max"), A.domain.fn("min")
    a, b = const(lo, A), const(hi, A)
    m, n = A.shape
    return Matrix._new(m, n, tuple(f_min(f_max(x, a), b) for x in A.data), A.domain)


# ======================================================================= row-wise softmax
def _softmax_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    m, n = y.shape
    gy = hadamard(g, y)
    return (sub(gy, hadamard(y, broadcast(sum_cols(gy), m, n))),)  # y ⊙ (g − Σⱼ gⱼyⱼ)


def _softmax_spec(A: Any) -> Any:
    sp = _sp()
    return sp.Matrix(
        A.rows, A.cols, lambda i, j: sp.exp(A[i, j]) / _bsum(sp.exp(A[i, k]) for k in range(A.cols))
    )


def _row_shifts(A: Mat) -> list[Any]:
    """The per-row maximum (numbers) or 0 (symbols): subtracting it changes nothing
    mathematically and keeps every exponent ≤ 0 in floats."""
    if A.domain is scalars.SYMPY:
        return [0] * A.shape[0]
    return [max(r) for r in A.rows()]


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_softmax_vjp,
    spec=_softmax_spec,
    formula="yᵢⱼ = e^Aᵢⱼ / Σₖ e^Aᵢₖ, row by row",
    rule="y ⊙ (g − Σⱼ gⱼyⱼ of each row)",
    bound=ErrorBound(ulps=4.0, reduction=True, vjp_ulps=16.0),
)
def softmax_rows(A: Mat) -> Mat:
    """The softmax of each row: e^{a_ij} / Σₖ e^{a_ik}. Each row's maximum is subtracted
    first (a mathematical no-op) so no exponent is positive: no overflow for large
    entries.

    Bound: forward 4 ulp + γₙ·(|y| + Σ|∂y/∂x|·|x|) (the row's maximum subtracted (½ ulp), a libm
    exp (2 ulp), the normalising sum (γₙ) and one division (½ ulp): 3 ulp rounded up to 4 plus
    the sum's term); VJP 16 ulp (y⊙(g − Σⱼgⱼyⱼ): y carries the forward's error, a product, a
    reduction and a subtraction whose cancellation is judged against its terms).
    """
    exp = A.domain.fn("exp")
    div_ = A.domain.fn("div")
    out: list[Any] = []
    for r, mx in zip(A.rows(), _row_shifts(A), strict=True):
        e = [exp(x - mx) for x in r]
        s = math.fsum(e) if A.domain is scalars.FLOAT else _bsum(e)
        out.extend(div_(v, s) for v in e)
    return Matrix._new(A.shape[0], A.shape[1], tuple(out), A.domain)


def _log_softmax_vjp(
    g: Value, y: Value, xs: tuple[Value, ...], ps: tuple[Any, ...]
) -> tuple[Value, ...]:
    m, n = y.shape
    return (sub(g, hadamard(exp(y), broadcast(sum_cols(g), m, n))),)  # g − softmax·Σⱼ gⱼ


@defop(
    vjp_reads=("output",),
    arity=1,
    vjp=_log_softmax_vjp,
    formula="yᵢⱼ = Aᵢⱼ − log Σₖ e^Aᵢₖ, row by row",
    rule="g − eʸ ⊙ (Σⱼ gⱼ of each row)",
    spec=lambda A: _sp().Matrix(
        A.rows,
        A.cols,
        lambda i, j: A[i, j] - _sp().log(_bsum(_sp().exp(A[i, k]) for k in range(A.cols))),
    ),
    bound=ErrorBound(ulps=4.0, reduction=True, vjp_ulps=16.0, log_of_sum=True),
)
def log_softmax_rows(A: Mat) -> Mat:
    """log softmax of each row: a_ij − log Σₖ e^{a_ik}, computed as
    (a_ij − M) − log Σₖ e^{a_ik − M} with M the row maximum: stable for large |a|.

    Bound: forward 4 ulp + γₙ·(1 + |y| + Σ|∂y/∂x|·|x|) (the shift (½ ulp), a libm exp and log (2
    ulp each, the log's error absolute ≈ ulp(1)), the sum's relative γₙ turned absolute by the
    log, hence the 1); VJP 16 ulp (g − exp(y)⊙Σⱼgⱼ: a libm exp of y, a sum, a product and a
    subtraction).
    """
    exp, log = A.domain.fn("exp"), A.domain.fn("log")
    out: list[Any] = []
    for r, mx in zip(A.rows(), _row_shifts(A), strict=True):
        e = [exp(x - mx) for x in r]
        lse = log(math.fsum(e) if A.domain is scalars.FLOAT else _bsum(e))
        out.extend((x - mx) - lse for x in r)
    return Matrix._new(A.shape[0], A.shape[1], tuple(out), A.domain)
