"""``Matrix``: the article's matrix, immutable, 2-D and **1-based**.

``A = Matrix([[1, 2], [3, 4]])`` is the 2×2 matrix whose top-left entry is ``A[1, 1] == 1``
(A₁,₁ in the article's notation). Entries are stored flat and row-major in a tuple; every
operation returns a new matrix. The same code runs on every scalar domain of
:mod:`refnn.scalars` (floats, exact Fractions, SymPy symbols, mpmath numbers).

Operators:

=================  ==========================================================
``A + B``          element-wise sum (equal shapes)
``A - B``, ``-A``  element-wise difference, negation
``A.hadamard(B)``  element-wise (Hadamard) product A ⊙ B (equal shapes)
``c * A``          scalar multiple (also ``A * c``)
``A / c``          scalar quotient: c⁻¹·A, the exact reciprocal taken into A's domain
``A @ B``          matrix product (m×k @ k×n → m×n)
``A.T``            transpose
``A * B``          refused: ``TypeError`` pointing to ``hadamard`` and ``@``
``A / B``          refused: ``TypeError`` pointing to ``ops.div`` (A ⊘ B)
``A + 1``          refused: ``TypeError`` pointing to ``ops.add_scalar``
=================  ==========================================================

A 1×n row added to an m×n matrix (the article's bias, ``X @ W + b``) is refused with a
``ShapeError`` that names ``ops.add_row(A, b)``, the op that adds a row to every row.

Accuracy of float reductions (``@``, :meth:`Matrix.sum`, :meth:`Matrix.sum_rows`,
:meth:`Matrix.sum_cols`): each result entry is a plain recursive sum of ``n`` terms, so
``|computed − exact| ≤ γₙ · Σ|termᵢ|`` with ``γₙ = n·u / (1 − n·u)`` and ``u = 2⁻⁵³``.
Exact results come from the ``Fraction`` domain, not from slower float tricks.

Reproducibility: these sums are Python's built-in ``sum``, which adds floats one by one up
to Python 3.11 and with Neumaier compensation from Python 3.12 on (more accurate, within
the same bound, but not the same bits: ``sum([1e16, 1.0, -1e16])`` is 0.0 on 3.11 and 1.0
on 3.12). Results are therefore bit-identical across machines with IEEE doubles for the
same Python minor version.

Speed without a changed bit: ``@`` on floats leaves out the terms of exact zeros of the left
factor where that cannot change a sum, and from the second product of a shape on runs a
kernel generated for that shape, which writes each entry's terms out as Python arithmetic
(``s0 += a0 * b0_0`` …) instead of calling ``sum`` per entry; both give the bits of the plain
computation they stand in for (``_matmul_skipping_zeros`` and ``_generated_product`` say why).
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from functools import lru_cache
from itertools import chain, compress, cycle, repeat
from typing import Any, Generic, NoReturn, TypeVar, cast

from refnn import scalars
from refnn.errors import ShapeError
from refnn.scalars import Domain

__all__ = ["Matrix", "equal_shapes_message", "fmt_shape", "gamma", "reciprocal"]

E = TypeVar("E")
U = TypeVar("U")

_UNIT_ROUNDOFF = 2.0**-53
#: Up to this inner dimension k, ``@`` sums k outer products (faster than m·n short sums).
_SMALL_INNER = 4
#: From this many columns of the right factor on, ``@`` skips the exact zeros of the left.
_SKIP_ZEROS_MIN_COLS = 4
#: Up to Python 3.11 the built-in ``sum`` adds one term at a time from the int 0, with the
#: same ``+`` as Python code; from 3.12 on it compensates (see the module docstring).
_SUM_IS_PLAIN = sys.version_info < (3, 12)
#: The most multiply-adds one generated matmul kernel spells out (its code grows with them:
#: compiling takes about 8 µs per term, once per shape).
_KERNEL_MAX_TERMS = 4096


def gamma(n: int) -> float:
    """γₙ = n·u / (1 − n·u), the classic bound factor for an n-term float sum or dot product."""
    nu = n * _UNIT_ROUNDOFF
    return nu / (1.0 - nu)


def fmt_shape(shape: tuple[int, int]) -> str:
    """A shape in the article's ``m×n`` form."""
    return f"{shape[0]}×{shape[1]}"


def equal_shapes_message(rule: str, a: tuple[int, int], b: tuple[int, int]) -> str:
    """The message of an equal-shapes rule broken by the shapes ``a`` (of the left operand,
    A) and ``b`` (of the right, B), naming the op that does what was probably meant when
    one of them is a row or a column of the other's width or height."""
    msg = f"{rule} needs equal shapes: {fmt_shape(a)} and {fmt_shape(b)}"
    left_big = a[0] * a[1] >= b[0] * b[1]
    (m, n), small = (a, b) if left_big else (b, a)
    big_name, small_name = ("A", "B") if left_big else ("B", "A")
    if small == (1, n) and m > 1 and ("addition" in rule or "subtraction" in rule):
        if "addition" in rule:
            call = f"ops.add_row({big_name}, {small_name})"
        elif left_big:
            call = "ops.add_row(A, ops.neg(B))"
        else:
            call = "ops.add_row(ops.neg(B), A)"
        return (
            f"{msg}; to add a 1×{n} row to every row of the {m}×{n} matrix (a bias, as "
            f"in tanh(X @ W + b)) use {call}, or stretch the row with "
            f"ops.broadcast({small_name}, {m}, {n})"
        )
    if small in ((1, n), (m, 1), (1, 1)) and small != (m, n):
        return (
            f"{msg}; to stretch {small_name} to {m}×{n} first use "
            f"ops.broadcast({small_name}, {m}, {n})"
        )
    return msg


def reciprocal(c: Any) -> Any:
    """1/c for a scalar c, exact: ``Fraction(1, 3)`` for 3, ``Fraction(2, 5)`` for 2.5 (the
    double 2.5 is exactly 5/2). ``A / c`` is the scalar multiple ``reciprocal(c)·A`` (for
    a traced value: the op ``scale``), the reciprocal converted into A's domain (rounded
    once to the nearest double in the float domain). ``c`` may also be a SymPy or mpmath
    number. A zero ``c`` raises :class:`~refnn.DomainError`."""
    from refnn.errors import DomainError

    if not _is_scalar(c):
        raise TypeError(f"A / c needs a number c, got {type(c).__name__}")
    if c == 0:
        raise DomainError("division of a matrix by zero (A / 0)")
    if isinstance(c, (int, float, Fraction)):
        return Fraction(1) / Fraction(c)
    return 1 / c


def _in_domain(q: Any, domain: Domain) -> Any:
    """An exact rational (or a SymPy/mpmath number) as a scalar of ``domain`` (the same
    conversion ``refnn.ops.const`` applies to op parameters)."""
    if not isinstance(q, Fraction):
        return q
    if q.denominator == 1 and domain is not scalars.FRACTION:
        return int(q)
    if domain is scalars.FLOAT:
        return float(q)
    if domain is scalars.FRACTION:
        return q
    if domain is scalars.SYMPY:
        import sympy

        return sympy.Rational(q.numerator, q.denominator)
    import mpmath

    return mpmath.mpf(q.numerator) / q.denominator


def _matrix_division_error() -> TypeError:
    """The TypeError of ``A / B`` for two matrices (Matrix and backend values alike)."""
    return TypeError(
        "`/` between two matrices is ambiguous: use ops.div(A, B) for the element-wise "
        "quotient A ⊘ B (there is no matrix division; for A·B⁻¹ solve a linear system)"
    )


def _number_over_matrix_error(c: object) -> TypeError:
    """The TypeError of ``c / A``: the element-wise reciprocal to call instead."""
    return TypeError(
        f"`{c!r} / A` is not defined for a matrix A: the element-wise reciprocal "
        f"is ops.pow(A, -1), so this is ops.scale({c!r}, ops.pow(A, -1))"
    )


def _scalar_operand_error(op: str, c: object, right: bool) -> TypeError:
    """The TypeError of ``A + 1``, ``A - 1``, ``1 - A`` and ``c / A``: what to call instead."""
    if op == "+":
        how = f"ops.add_scalar(A, {c!r})"
    elif right:
        how = f"ops.add_scalar(ops.neg(A), {c!r})"
    else:
        how = f"ops.add_scalar(A, {_negated(c)!r})"
    expr = f"{c!r} {op} A" if right else f"A {op} {c!r}"
    verb = (
        "add a number to"
        if op == "+"
        else "subtract every entry from a number in"
        if right
        else "subtract a number from"
    )
    return TypeError(
        f"`{expr}`: `{op}` combines two matrices of equal shape; to {verb} every entry use {how}"
    )


def _negated(c: Any) -> Any:
    return -c


def _is_number(c: object) -> bool:
    """Whether ``c`` is a plain number (cheap for matrices and other shaped values, which
    are checked first: the operators ask this on every call)."""
    return not hasattr(c, "shape") and _is_scalar(c)


def _is_scalar(c: object) -> bool:
    try:
        scalars.domain_of_scalar(c)
    except TypeError:
        return False
    return True


def _matmul_skipping_zeros(
    rows: Iterable[tuple[Any, ...]], b: tuple[Any, ...], k: int, n: int
) -> list[float] | None:
    """The float product A @ B (rows of A, B flat k×n) leaving out the terms whose A entry
    is an exact zero — ReLU activations and masked cotangents are about half zeros — or
    ``None`` when B does not allow it (an entry that is not a finite float).

    Bit-identical to the plain sums ``sum(map(mul, row, col))``: with every B entry a finite
    float, a left-out term is 0·b = ±0.0; a running float sum that starts from the int 0 is
    never −0.0 (0 + x is +0.0 for x = −0.0, and x + y is −0.0 only when both are), and
    s + (±0.0) = s for every other s, inf and NaN included (on Python 3.12+ Neumaier's
    compensation term is unchanged too). The kept terms are the same products, added in the
    same order, and a row without non-zero entries gives the plain sum's 0.0.
    """
    if not _finite_floats(b):
        return None  # an int, inf or NaN in B: 0·b may not be ±0.0 (or not a float)
    mul = operator.mul
    b_rows = [b[t * n : (t + 1) * n] for t in range(k)]
    cols = list(zip(*b_rows, strict=True))
    zeros = (0.0,) * n
    wide = k > 32
    out: list[float] = []
    extend = out.extend
    for r in rows:
        kept = tuple(compress(r, r))  # the non-zero entries (NaN is kept: it is truthy)
        s = len(kept)
        if 4 * s > 3 * k:  # mostly non-zero: the plain sums
            extend(map(sum, map(map, repeat(mul), repeat(r, n), cols)))
        elif s == 0:
            extend(zeros)
        elif wide:  # long rows: gather the matching entries of every column, then sum
            gathered = zip(*compress(b_rows, r), strict=True)
            extend(map(sum, map(map, repeat(mul), repeat(kept, n), gathered)))
        else:  # short rows: sum the kept rows of B, each scaled by its entry, column by column
            scaled = map(map, repeat(mul), map(repeat, kept), compress(b_rows, r))
            extend(map(sum, zip(*scaled, strict=True)))
    return out


def _finite_floats(b: tuple[Any, ...]) -> bool:
    """Whether every entry is a finite float, so that 0·b is ±0.0 for each (the condition
    under which a product may leave out the terms of a zero entry of its left factor)."""
    return set(map(type, b)) == {float} and math.isfinite(sum(b))


def _rows_kernel_source(k: int, n: int, start: str) -> str:
    """The source of a generated "rows" kernel ``f(a, b)`` for A (m×k) @ B (k×n), both as
    flat row-major entries: B's k·n entries become local variables once, then each row of A
    gives its n entries, each written out term by term in the order t = 0, 1, …, k − 1::

        for a0, a1, …, in zip(*[iter(a)] * k):
            s0 = s1 = … = 0                # start "zero"
            s0 += a0 * b0_0
            s1 += a0 * b0_1
            …
            extend((s0, s1, …))

    With start "skip" the sums start at 0.0 and the n terms of each A entry are added under
    ``if a0:`` (a zero entry's terms are left out); with "first" each sum starts as its first
    term (``s0 = a0 * b0_0``); with "sum" each entry is ``sum((a0 * b0_0, a1 * b1_0, …))``.
    """
    sums = [f"s{j}" for j in range(n)]
    lines = [
        f"def matmul_rows_{k}x{n}_{start}(a, b):",
        f"    {', '.join(f'b{t}_{j}' for t in range(k) for j in range(n))}, = b",
        "    out = []",
        "    extend = out.extend",
        f"    for {', '.join(f'a{t}' for t in range(k))}, in zip(*[iter(a)] * {k}):",
    ]
    if start == "sum":
        entries = (f"sum(({', '.join(f'a{t} * b{t}_{j}' for t in range(k))},))" for j in range(n))
        lines.append(f"        extend(({', '.join(entries)},))")
        return "\n".join([*lines, "    return out"])
    if start != "first":
        lines.append(f"        {' = '.join(sums)} = {'0.0' if start == 'skip' else '0'}")
    pad = " " * (12 if start == "skip" else 8)
    for t in range(k):
        if start == "skip":
            lines.append(f"        if a{t}:")
        op = "=" if start == "first" and t == 0 else "+="
        lines += [f"{pad}s{j} {op} a{t} * b{t}_{j}" for j in range(n)]
    lines.append(f"        extend(({', '.join(sums)},))")
    return "\n".join([*lines, "    return out"])


def _steps_kernel_source(m: int, n: int, start: str) -> str:
    """The source of a generated "steps" kernel ``f(a_cols, b_rows)`` for A (m×k) @ B (k×n),
    for a long inner dimension k: the m·n sums are local variables, and each step t takes
    column t of A and row t of B and adds its term a_it·b_tj to every sum, so each sum gets
    its terms in the order t = 0, 1, …, k − 1 as in the rows kernel::

        s0_0 = s0_1 = … = 0                # start "zero"; "skip": 0.0, and ``if a0:``
        for (a0, a1, …,), (b0, b1, …,) in zip(a_cols, b_rows):
            s0_0 += a0 * b0
            s0_1 += a0 * b1
            …
        return [s0_0, s0_1, …]             # row-major
    """
    sums = [f"s{i}_{j}" for i in range(m) for j in range(n)]
    a_names = ", ".join(f"a{i}" for i in range(m))
    b_names = ", ".join(f"b{j}" for j in range(n))
    lines = [
        f"def matmul_steps_{m}x{n}_{start}(a_cols, b_rows):",
        f"    {' = '.join(sums)} = {'0.0' if start == 'skip' else '0'}",
        f"    for ({a_names},), ({b_names},) in zip(a_cols, b_rows):",
    ]
    pad = " " * (12 if start == "skip" else 8)
    for i in range(m):
        if start == "skip":
            lines.append(f"        if a{i}:")
        lines += [f"{pad}s{i}_{j} += a{i} * b{j}" for j in range(n)]
    lines.append(f"    return [{', '.join(sums)}]")
    return "\n".join(lines)


@lru_cache(maxsize=64)
def _kernel(kind: str, size: int, n: int, start: str) -> Callable[..., list[Any]]:
    """The generated matmul kernel of that kind, shape and start (``size`` is k for "rows",
    m for "steps"), compiled once: see :func:`_rows_kernel_source`,
    :func:`_steps_kernel_source` and, for what it computes, :func:`_generated_product`."""
    make = _rows_kernel_source if kind == "rows" else _steps_kernel_source
    source = make(size, n, start)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<refnn.matrix: generated {kind} kernel>", "exec"), namespace)
    return cast("Callable[..., list[Any]]", namespace[f"matmul_{kind}_{size}x{n}_{start}"])


#: The shapes (m, k, n) multiplied once: a kernel is compiled the second time a shape comes.
_shapes_seen: set[tuple[int, int, int]] = set()


def _finite(x: tuple[Any, ...]) -> bool:
    """Whether every entry of a float-domain matrix is finite (no ±inf, no NaN)."""
    try:  # an inf or NaN entry makes the sum inf or NaN (a sum that overflows is refused too)
        return math.isfinite(sum(x))
    except OverflowError:  # an int too large for a float
        return False


def _kernel_start(a: tuple[Any, ...], k: int, b: tuple[Any, ...]) -> str:
    """How the generated kernel of a float product with finite entries starts each entry's
    sum, chosen so that the kernel gives the plain definition's bits:

    * k ≤ 4, "first": p₀ + p₁ + … added left to right, as the outer-product path of ``@``
      computes them (plain additions on every Python version, not ``sum``).
    * Python 3.11, "zero": ``sum(ps)`` is ((0 + p₀) + p₁) + …, since its fast paths keep an
      exact running int, or a running C double that takes a float term by double addition
      and an int term converted to the nearest double — what ``float + int`` does — and
      otherwise call ``+`` itself; so ``s = 0`` then ``s += p`` per term gives its value and
      its type, for int and float entries alike.
    * Python 3.11, "skip" (A has a zero entry and every B entry is a float): as "zero",
      leaving out the terms of A's zero entries. Every term is a float and a left-out one is
      0·b = ±0.0 (b is finite); s starts at 0.0 (0.0 + p₀ is 0 + p₀), and s + (±0.0) = s for
      every s the sum reaches, which is never −0.0 (0.0 + x is not, and s + x is only when
      both are), so a sum of left-out terms only is 0.0, as ``sum`` gives.
    * Python 3.12 and later, "sum": ``sum((p₀, p₁, …))`` per entry, the same call on the same
      products in the same order as the plain definition (compensation included).
    """
    if k <= _SMALL_INNER:
        return "first"
    if not _SUM_IS_PLAIN:
        return "sum"
    if not all(a) and set(map(type, b)) == {float}:
        return "skip"
    return "zero"


def _generated_product(
    a: tuple[Any, ...], m: int, k: int, b: tuple[Any, ...], n: int
) -> list[Any] | None:
    """The float product A @ B (A m×k and B k×n, as flat row-major entries) by a generated
    kernel (:func:`_kernel`), or ``None`` where none applies: a shape met for the first time
    (compiling costs more than a one-off product; a training loop meets its shapes again),
    one too large to spell out (more than :data:`_KERNEL_MAX_TERMS` terms in the kernel's
    body), or a factor with an infinite or NaN entry.

    A kernel writes each entry out as Python arithmetic on the products aₜ·bₜⱼ, t = 0, 1, …,
    k − 1, instead of calling ``sum(map(mul, row, col))`` per entry, whose call and iterator
    overhead outweighs a short dot product; :func:`_kernel_start` says why the bits are the
    plain definition's. Finite factors only: IEEE arithmetic fixes every result bit except
    which NaN's sign and payload an operation passes on, and that depends on the operand
    order the C compiler chose, which differs between ``sum``, ``operator.mul`` and the
    interpreter's own float instructions. With finite entries the only NaN that can arise
    is the one ∞ − ∞ makes, always the same bits, so that choice changes nothing.
    """
    shape = (m, k, n)
    if shape not in _shapes_seen:
        if len(_shapes_seen) >= 4096:
            _shapes_seen.clear()
        _shapes_seen.add(shape)
        return None
    rows_fit, steps_fit = k * n <= _KERNEL_MAX_TERMS, m * n <= _KERNEL_MAX_TERMS
    if not (rows_fit or steps_fit) or not (_finite(a) and _finite(b)):
        return None
    start = _kernel_start(a, k, b)
    if start in ("zero", "skip") and steps_fit and (k > m or not rows_fit):
        # a long inner dimension: step along it, with the m·n sums in variables
        a_cols = zip(*zip(*[iter(a)] * k, strict=True), strict=True)
        return _kernel("steps", m, n, start)(a_cols, zip(*[iter(b)] * n, strict=True))
    # A "sum" kernel gains nothing on a long inner dimension (each entry is one sum() of k
    # terms either way) and skips no zeros: the plain paths do as well there.
    if rows_fit and (k <= m or start != "sum"):
        return _kernel("rows", k, n, start)(a, b)
    return None


class Matrix(Generic[E]):
    """An immutable m×n matrix with 1-based indexing ``A[i, j]``.

    Build one from nested sequences, ``Matrix([[1, 2], [3, 4]])``, or with
    :meth:`zeros`, :meth:`identity`, :meth:`full`, :meth:`from_flat`.
    Instances are hashable values: equal matrices (same shape, entries equal) hash alike.
    """

    __slots__ = ("_data", "_domain", "_m", "_n")

    _m: int
    _n: int
    _data: tuple[E, ...]
    _domain: Domain

    # ------------------------------------------------------------------ construction
    def __init__(self, rows: Iterable[Iterable[E]]) -> None:
        if isinstance(rows, Matrix):
            self._set(rows._m, rows._n, rows._data, rows._domain)
            return
        if isinstance(rows, (str, bytes)) or not isinstance(rows, Iterable):
            raise TypeError(
                f"Matrix needs a sequence of rows, e.g. Matrix([[1, 2], [3, 4]]); "
                f"got {type(rows).__name__}"
            )
        row_list = [r for r in rows]
        if not row_list:
            raise ShapeError("a matrix needs at least one row (got an empty sequence)")
        data: list[E] = []
        n = -1
        for i, r in enumerate(row_list, start=1):
            if isinstance(r, (str, bytes)) or not isinstance(r, Iterable):
                raise TypeError(
                    f"row {i} is a {type(r).__name__}, not a sequence of entries; "
                    f"a 1×n matrix is written Matrix([[a, b, c]])"
                )
            before = len(data)
            data.extend(r)
            length = len(data) - before
            if n < 0:
                n = length
                if n == 0:
                    raise ShapeError("a matrix needs at least one column (row 1 is empty)")
            elif length != n:
                raise ShapeError(
                    f"ragged rows: row 1 has {n} entries but row {i} has {length}; "
                    f"every row of a matrix needs the same length"
                )
        domain = scalars.detect(data)
        self._set(len(row_list), n, tuple(data), domain)

    def _set(self, m: int, n: int, data: tuple[E, ...], domain: Domain) -> None:
        object.__setattr__(self, "_m", m)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_domain", domain)

    @classmethod
    def _new(cls, m: int, n: int, data: tuple[U, ...], domain: Domain) -> Matrix[U]:
        """Internal fast path: no validation (the caller guarantees shape and domain)."""
        self = cast("Matrix[U]", object.__new__(cls))
        self._set(m, n, data, domain)
        return self

    @classmethod
    def from_flat(cls, m: int, n: int, entries: Iterable[U]) -> Matrix[U]:
        """An m×n matrix from ``m·n`` entries listed row by row."""
        data = tuple(entries)
        if not (isinstance(m, int) and isinstance(n, int)) or m < 1 or n < 1:
            raise ShapeError(f"a matrix needs m ≥ 1 rows and n ≥ 1 columns, got {m}×{n}")
        if len(data) != m * n:
            raise ShapeError(f"a {m}×{n} matrix needs {m * n} entries, got {len(data)}")
        return cls._new(m, n, data, scalars.detect(data))

    @classmethod
    def full(cls, m: int, n: int, value: U) -> Matrix[U]:
        """The m×n matrix with every entry equal to ``value``."""
        domain = scalars.domain_of_scalar(value)
        if not (isinstance(m, int) and isinstance(n, int)) or m < 1 or n < 1:
            raise ShapeError(f"a matrix needs m ≥ 1 rows and n ≥ 1 columns, got {m}×{n}")
        return cls._new(m, n, (value,) * (m * n), domain)

    @classmethod
    def symbols(cls, name: str, m: int, n: int) -> Matrix[Any]:
        """The m×n matrix of SymPy symbols ``name_ij``, the article's w₁₁ … wₘₙ
        (``name_i_j`` when m or n exceeds 9, so indices stay readable). Needs SymPy.

        ``Matrix.symbols("w", 2, 2)`` is ``⎡w_11  w_12⎤ / ⎣w_21  w_22⎦``: run any refnn code
        on it, and gradients come out as formulas. Float data met in such a run stays a
        SymPy ``Float`` (``0.5*w_11``): SymPy keeps the double as it is instead of guessing
        a rational, and refnn does not convert silently. Write exact data with ints or
        ``Fraction`` (``X.map(Fraction)`` turns each double into its exact value, 0.5 → 1/2)
        to get exact rational formulas.
        """
        import sympy

        if not (isinstance(m, int) and isinstance(n, int)) or m < 1 or n < 1:
            raise ShapeError(f"a matrix needs m ≥ 1 rows and n ≥ 1 columns, got {m}×{n}")
        if not isinstance(name, str) or not name:
            raise TypeError(f"Matrix.symbols needs a non-empty name, got {name!r}")
        sep = "_" if m > 9 or n > 9 else ""
        data = tuple(
            sympy.Symbol(f"{name}_{i}{sep}{j}") for i in range(1, m + 1) for j in range(1, n + 1)
        )
        return cls._new(m, n, data, scalars.SYMPY)

    @classmethod
    def zeros(cls, m: int, n: int) -> Matrix[int]:
        """The m×n zero matrix (entries are the int ``0``, which joins every domain)."""
        return cls.full(m, n, 0)

    @classmethod
    def identity(cls, n: int) -> Matrix[int]:
        """The n×n identity matrix Iₙ (int entries)."""
        if not isinstance(n, int) or n < 1:
            raise ShapeError(f"the identity needs n ≥ 1, got {n}")
        data = [0] * (n * n)
        data[:: n + 1] = [1] * n
        return cls._new(n, n, tuple(data), scalars.FLOAT)

    # ------------------------------------------------------------------ immutability
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Matrix is immutable: cannot set attribute {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Matrix is immutable: cannot delete attribute {name!r}")

    def __setitem__(self, key: object, value: object) -> NoReturn:
        raise TypeError(
            "Matrix is immutable: entries cannot be assigned; build a new matrix "
            "(e.g. with A.map or Matrix.from_flat)"
        )

    def __copy__(self) -> Matrix[E]:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Matrix[E]:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Matrix.from_flat, (self._m, self._n, self._data))

    # ------------------------------------------------------------------ structure
    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: the number of rows and columns."""
        return (self._m, self._n)

    @property
    def size(self) -> int:
        """m·n, the number of entries."""
        return self._m * self._n

    @property
    def data(self) -> tuple[E, ...]:
        """The entries, flat and row-major (a tuple: read-only)."""
        return self._data

    def _entries(self) -> tuple[Any, ...]:
        return self._data

    def _any(self) -> Matrix[Any]:
        return self

    @property
    def domain(self) -> Domain:
        """The scalar domain of the entries (see :mod:`refnn.scalars`)."""
        return self._domain

    def _check_index(self, k: object, bound: int, what: str) -> int:
        if not isinstance(k, int) or isinstance(k, bool):
            raise IndexError(
                f"{what} index must be an int (indexing is 1-based, valid range 1..{bound}); "
                f"got {type(k).__name__} {k!r}"
            )
        if not 1 <= k <= bound:
            raise IndexError(
                f"{what} index {k} is out of range: indexing is 1-based, valid range "
                f"1..{bound} for a {fmt_shape(self.shape)} matrix"
            )
        return k

    def __getitem__(self, key: tuple[int, int]) -> E:
        if not isinstance(key, tuple) or len(key) != 2:
            raise IndexError(
                "index a matrix with two 1-based indices, A[i, j] "
                "(use A.row(i) or A.col(j) for a whole row or column)"
            )
        i = self._check_index(key[0], self._m, "row")
        j = self._check_index(key[1], self._n, "column")
        return self._data[(i - 1) * self._n + (j - 1)]

    def __iter__(self) -> NoReturn:
        raise TypeError(
            "a Matrix is not iterable (is it rows or entries?): use A.rows(), A.data or A.tolist()"
        )

    def __bool__(self) -> NoReturn:
        raise TypeError("the truth value of a Matrix is ambiguous; compare with == instead")

    def row(self, i: int) -> Matrix[E]:
        """Row i (1-based) as a 1×n matrix."""
        i = self._check_index(i, self._m, "row")
        n = self._n
        return Matrix._new(1, n, self._data[(i - 1) * n : i * n], self._domain)

    def col(self, j: int) -> Matrix[E]:
        """Column j (1-based) as an m×1 matrix."""
        j = self._check_index(j, self._n, "column")
        return Matrix._new(self._m, 1, self._data[j - 1 :: self._n], self._domain)

    def rows(self) -> Iterator[tuple[E, ...]]:
        """The rows, top to bottom, each as a tuple."""
        d, n = self._data, self._n
        return (d[k : k + n] for k in range(0, len(d), n))

    def cols(self) -> Iterator[tuple[E, ...]]:
        """The columns, left to right, each as a tuple."""
        d, n = self._data, self._n
        return (d[j::n] for j in range(n))

    def tolist(self) -> list[list[E]]:
        """The entries as a list of row lists."""
        return [list(r) for r in self.rows()]

    @property
    def T(self) -> Matrix[E]:
        """The transpose Aᵀ (n×m)."""
        return self.transpose()

    def transpose(self) -> Matrix[E]:
        """The transpose Aᵀ (n×m): (Aᵀ)₍ⱼ,ᵢ₎ = A₍ᵢ,ⱼ₎."""
        if self._m == 1 or self._n == 1:
            return Matrix._new(self._n, self._m, self._data, self._domain)
        return Matrix._new(self._n, self._m, tuple(chain.from_iterable(self.cols())), self._domain)

    def reshape(self, m: int, n: int) -> Matrix[E]:
        """The same entries, row-major, as an m×n matrix (m·n must equal the size)."""
        if m < 1 or n < 1 or m * n != self.size:
            raise ShapeError(
                f"reshape keeps the number of entries: {fmt_shape(self.shape)} "
                f"cannot become {m}×{n}"
            )
        return Matrix._new(m, n, self._data, self._domain)

    # ------------------------------------------------------------------ mapping
    def map(self, f: Callable[[E], U]) -> Matrix[U]:
        """``f`` applied to every entry (the result's domain is detected anew)."""
        data = tuple(map(f, self._data))
        return Matrix._new(self._m, self._n, data, scalars.detect(data))

    def zip_with(
        self, other: Matrix[Any], f: Callable[[E, Any], U], rule: str = "zip_with"
    ) -> Matrix[U]:
        """``f(a, b)`` for corresponding entries of two equal-shape matrices."""
        self._same_shape(other, rule)
        data = tuple(map(f, self._data, other._data))
        return Matrix._new(self._m, self._n, data, scalars.detect(data))

    def _same_shape(self, other: Matrix[Any], rule: str) -> Domain:
        if self._m != other._m or self._n != other._n:
            raise ShapeError(equal_shapes_message(rule, self.shape, other.shape))
        return self._join(other)

    def _join(self, other: Matrix[Any]) -> Domain:
        if self._domain is other._domain:
            return self._domain
        return scalars.join(self._domain, other._domain, self._data, other._data)

    def _elementwise(self, other: object, op: Callable[[Any, Any], Any], rule: str) -> Any:
        if not isinstance(other, Matrix):
            return NotImplemented
        domain = self._same_shape(other, rule)
        return Matrix._new(self._m, self._n, tuple(map(op, self._data, other._data)), domain)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: Matrix[E]) -> Matrix[E]:
        if _is_number(other):
            raise _scalar_operand_error("+", other, right=False)
        return cast("Matrix[E]", self._elementwise(other, operator.add, "element-wise addition"))

    def __radd__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("+", other, right=True)
        return NotImplemented

    def __sub__(self, other: Matrix[E]) -> Matrix[E]:
        if _is_number(other):
            raise _scalar_operand_error("-", other, right=False)
        return cast("Matrix[E]", self._elementwise(other, operator.sub, "element-wise subtraction"))

    def __rsub__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("-", other, right=True)
        return NotImplemented

    def __truediv__(self, other: Any) -> Matrix[Any]:
        """``A / c`` for a number c: the scalar multiple c⁻¹·A (see :func:`reciprocal`).
        ``A / B`` for two matrices is refused with a pointer to ``ops.div``."""
        if _is_number(other):
            return self.scale(_in_domain(reciprocal(other), self._domain))
        if isinstance(other, Matrix) or hasattr(other, "shape"):
            raise _matrix_division_error()
        return NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented
        raise _number_over_matrix_error(other)

    def __neg__(self) -> Matrix[E]:
        data = tuple(map(operator.neg, self._entries()))
        return Matrix._new(self._m, self._n, data, self._domain)

    def __pos__(self) -> Matrix[E]:
        return self

    def hadamard(self, other: Matrix[E]) -> Matrix[E]:
        """The Hadamard (element-wise) product A ⊙ B of two equal-shape matrices."""
        if not isinstance(other, Matrix):
            rh = getattr(other, "__rhadamard__", None)
            if rh is not None:
                return cast("Matrix[E]", rh(self))
            raise TypeError(f"hadamard needs a Matrix, got {type(other).__name__}")
        return cast("Matrix[E]", self._elementwise(other, operator.mul, "the Hadamard product ⊙"))

    def scale(self, c: Any) -> Matrix[Any]:
        """The scalar multiple c·A."""
        d = scalars.domain_of_scalar(c)
        domain = self._domain
        if d is not domain:
            cdata = (c,)
            domain = scalars.join(d, domain, cdata, self._data)
        data = tuple(map(operator.mul, repeat(c), self._data))
        return Matrix._new(self._m, self._n, data, domain)

    def __mul__(self, other: Any) -> Matrix[Any]:
        if isinstance(other, Matrix):
            raise TypeError(
                "`*` between two matrices is ambiguous: use A.hadamard(B) for the "
                "element-wise product A ⊙ B, or A @ B for the matrix product"
            )
        if _is_scalar(other):
            return self.scale(other)
        return NotImplemented

    def __rmul__(self, other: Any) -> Matrix[Any]:
        if _is_scalar(other):
            return self.scale(other)
        return NotImplemented

    def __matmul__(self, other: Matrix[E]) -> Matrix[E]:
        """The matrix product AB: (AB)₍ᵢ,ⱼ₎ = Σₖ A₍ᵢ,ₖ₎ B₍ₖ,ⱼ₎.

        Each entry is a recursive float sum of k products: |error| ≤ γₖ · Σₖ |A₍ᵢ,ₖ₎ B₍ₖ,ⱼ₎|.
        """
        if not isinstance(other, Matrix):
            return NotImplemented
        if self._n != other._m:
            raise ShapeError(
                f"the matrix product needs the columns of the left to match the rows of "
                f"the right: {fmt_shape(self.shape)} @ {fmt_shape(other.shape)}"
            )
        domain = self._join(other)
        k, n = self._n, other._n
        if domain is scalars.FLOAT:
            fast = _generated_product(self._data, self._m, k, other._data, n)
            if fast is not None:
                return Matrix._new(self._m, n, tuple(fast), domain)
        mul = operator.mul
        if k <= _SMALL_INNER:
            # Short inner dimension (coordinates in, a rank-1 product in a backward pass):
            # add up k outer products column by row, each as one pass over all m·n entries,
            # instead of m·n tiny sums. Same additions in the same order as the sums below
            # on Python 3.11; from 3.12 on, sum() compensates and these plain additions may
            # differ from it in the last bit (within the same bound).
            a, b = self._entries(), other._entries()
            acc: list[Any] = []
            for t in range(k):
                term = map(
                    mul,
                    chain.from_iterable(map(repeat, a[t::k], repeat(n))),
                    cycle(b[t * n : (t + 1) * n]),
                )
                acc = list(term) if t == 0 else list(map(operator.add, acc, term))
            return Matrix._new(self._m, n, tuple(acc), domain)
        if n >= _SKIP_ZEROS_MIN_COLS and domain is scalars.FLOAT and not all(self._data):
            skipped: list[Any] | None = _matmul_skipping_zeros(self.rows(), other._data, k, n)
            if skipped is not None:
                return Matrix._new(self._m, n, tuple(skipped), domain)
        # Entry (i, j) is sum(map(mul, row_i, col_j)), as a plain loop would compute it; the
        # loop over the m·n entries runs in C too (each row repeated n times against the
        # columns cycled), which saves the bytecode and the list comprehension per entry.
        rows_rep = chain.from_iterable(map(repeat, self.rows(), repeat(n)))
        cols = cycle(list(other.cols()))
        entries: Iterator[Iterable[Any]] = map(map, repeat(mul), rows_rep, cols)
        out: tuple[Any, ...] = tuple(map(sum, entries))
        return Matrix._new(self._m, n, out, domain)

    # ------------------------------------------------------------------ reductions
    def sum(self) -> E:
        """Σᵢⱼ A₍ᵢ,ⱼ₎ as a scalar; float bound |error| ≤ γ_{mn−1} · Σ|A₍ᵢ,ⱼ₎|."""
        return cast(E, sum(self._data))

    def sum_rows(self) -> Matrix[E]:
        """The sum of the rows: the 1×n matrix of column totals, Σᵢ A₍ᵢ,ⱼ₎.

        Float bound per entry: |error| ≤ γ_{m−1} · Σᵢ |A₍ᵢ,ⱼ₎|.
        """
        if self._m == 1:
            return self
        totals: tuple[Any, ...] = tuple(map(sum, self._any().cols()))
        return Matrix._new(1, self._n, totals, self._domain)

    def sum_cols(self) -> Matrix[E]:
        """The sum of the columns: the m×1 matrix of row totals, Σⱼ A₍ᵢ,ⱼ₎.

        Float bound per entry: |error| ≤ γ_{n−1} · Σⱼ |A₍ᵢ,ⱼ₎|.
        """
        if self._n == 1:
            return self
        totals: tuple[Any, ...] = tuple(map(sum, self._any().rows()))
        return Matrix._new(self._m, 1, totals, self._domain)

    # ------------------------------------------------------------------ values
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Matrix):
            return NotImplemented
        return (
            self._m == other._m
            and self._n == other._n
            and all(bool(a == b) for a, b in zip(self._data, other._data, strict=True))
        )

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        data: tuple[Any, ...] = self._data
        if self._domain is scalars.SYMPY:
            # SymPy's Rational(1, 2) == Fraction(1, 2) but hashes differently; hash such
            # entries as the equal Fraction so that equal matrices hash alike.
            data = tuple(
                Fraction(int(x.p), int(x.q)) if getattr(x, "is_Rational", False) else x
                for x in data
            )
        return hash((self._m, self._n, data))

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        def r(x: object) -> str:
            if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
                return f"float('{x}')"
            if self._domain is scalars.SYMPY:
                return f"S({str(x)!r})"
            return repr(x)

        body = ", ".join("[" + ", ".join(map(r, row)) + "]" for row in self.rows())
        return f"Matrix([{body}])"

    def __str__(self) -> str:
        """The bracketed form of the article, columns right-aligned::

        ⎡1  2⎤
        ⎣3  4⎦
        """

        def s(x: object) -> str:
            if isinstance(x, float):
                return format(x, ".6g")
            return str(x)

        cells = [[s(x) for x in row] for row in self.rows()]
        widths = [max(len(c[j]) for c in cells) for j in range(self._n)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        if self._m == 1:
            return f"[{lines[0]}]"
        edges = [("⎡", "⎤"), *repeat(("⎢", "⎥"), self._m - 2), ("⎣", "⎦")]
        return "\n".join(f"{a}{line}{b}" for (a, b), line in zip(edges, lines, strict=True))

    def to_latex(self) -> str:
        r"""The LaTeX ``bmatrix``: ``\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}``."""
        if self._domain is scalars.SYMPY:
            import sympy

            def tex(x: object) -> str:
                return str(sympy.latex(x))
        else:

            def tex(x: object) -> str:
                if isinstance(x, Fraction) and x.denominator != 1:
                    sign = "-" if x < 0 else ""
                    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"
                return str(x)

        body = r" \\ ".join(" & ".join(map(tex, row)) for row in self.rows())
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"

    def _repr_latex_(self) -> str:
        """The notebook display (Jupyter, IPython): the bracketed matrix of the article,
        ``$\\begin{bmatrix} … \\end{bmatrix}$``; SymPy entries as formulas."""
        return f"${self.to_latex()}$"

    def allclose(self, other: Any, *, rtol: float = 1e-9, atol: float = 0.0) -> bool:
        """Whether shapes match and every ``|a − b| ≤ atol + rtol·|b|`` (a quick check;
        tests use :func:`refnn.testing.assert_close`, whose tolerance follows the op)."""
        o = other if isinstance(other, Matrix) else Matrix(other)
        if o.shape != self.shape:
            return False
        return all(
            abs(a - b) <= atol + rtol * abs(b) for a, b in zip(self._data, o._data, strict=True)
        )
