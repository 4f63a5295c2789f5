"""``assert_close``: compare a computed result with an exact (or high-precision) reference
under the error bound of the operation that produced it.

The tolerance is not a blanket ``rtol``; it is the bound the operation promises, entry by
entry, and it is the sum of up to three parts (each defaults to zero, so with no keyword
the comparison is exact)::

    allowed[i, j] = ulps · ulp(expected[i, j])          element-wise ops (exp, tanh, +, ⊙, …)
                  + abs_bound[i, j]                     any bound you computed yourself
                  + γₙ · terms[i, j]                    a sum or dot product of n terms

``ulp(x)`` is :func:`math.ulp` of ``x`` rounded to a double; a correctly rounded op is
within ``ulps=0.5``. ``terms`` holds, for each result entry, Σ|termᵢ| — the sum of the
absolute values of the terms the entry adds up — and ``n`` their count, so a sum whose
terms cancel is judged by the size of its terms, not of its (small) result. The helpers
:func:`matmul_bound`, :func:`sum_bound`, :func:`sum_rows_bound` and :func:`sum_cols_bound`
compute the bound of refnn's own reductions exactly.

The comparison itself is done in exact rational arithmetic (floats, ints, ``Fraction``,
SymPy numbers and mpmath numbers are converted without rounding), so the check never
adds rounding error of its own. Non-finite entries (NaN, ±inf) must match exactly.

Typical use, one line per error-bound class::

    assert_close(A + B, exact_sum, ulps=0.5)                # correctly rounded
    assert_close(ops.tanh(A), reference, ulps=4)            # a few ulps, libm-style
    assert_close(A @ B, exact, abs_bound=matmul_bound(A, B))
    assert_close(A.sum(), exact, terms=abs_sum, n=A.size)   # hand-made reduction bound
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from refnn.matrix import Matrix, fmt_shape, gamma

__all__ = [
    "assert_close",
    "exact",
    "matmul_bound",
    "sum_bound",
    "sum_cols_bound",
    "sum_rows_bound",
]

_MAX_REPORTED = 5


def exact(x: object) -> Fraction:
    """``x`` as an exact ``Fraction`` (no rounding): ints, floats, Fractions, SymPy numbers
    (Integer, Rational, Float) and mpmath ``mpf`` are accepted.

    Raises ``ValueError`` for NaN/inf and ``TypeError`` for anything that is not a finite
    real number (e.g. a SymPy expression that still contains symbols).
    """
    if isinstance(x, bool):
        raise TypeError("exact() needs a number, got a bool")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"exact() needs a finite number, got {x!r}")
        return Fraction(x)
    root = type(x).__module__.partition(".")[0]
    if root == "mpmath":
        mpf_tuple = getattr(x, "_mpf_", None)
        if mpf_tuple is None:
            raise TypeError(f"exact() needs a real mpmath number, got {x!r}")
        import mpmath

        if not mpmath.isfinite(x):
            raise ValueError(f"exact() needs a finite number, got {x!r}")
        sign, man, exp, _bc = mpf_tuple
        value = Fraction(int(man)) * Fraction(2) ** int(exp)
        return -value if sign else value
    if root == "sympy":
        import sympy

        number: Any = sympy.Rational(x) if getattr(x, "is_Float", False) else x
        if getattr(number, "is_Rational", False):
            return Fraction(int(number.p), int(number.q))
        raise TypeError(f"exact() needs a finite real number, got the SymPy expression {x!r}")
    raise TypeError(f"exact() needs a real number, got {type(x).__name__} {x!r}")


def _is_nonfinite(x: object) -> bool:
    if isinstance(x, float):
        return not math.isfinite(x)
    root = type(x).__module__.partition(".")[0]
    if root == "mpmath":
        import mpmath

        return not bool(mpmath.isfinite(x))
    if root == "sympy":
        import sympy

        return any(x == v for v in (sympy.nan, sympy.oo, -sympy.oo, sympy.zoo))
    return False


def _same_nonfinite(a: object, b: object) -> bool:
    fa, fb = float(a), float(b)  # type: ignore[arg-type]
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb


def _ulp(x: Fraction) -> Fraction:
    try:
        f = float(x)
    except OverflowError:
        return Fraction(0)  # beyond the double range: no ulp slack (the result is ±inf)
    return Fraction(math.ulp(f))


def _as_entries(x: object) -> tuple[tuple[int, int] | None, Sequence[Any]]:
    """(shape or None for a scalar, flat entries)."""
    if isinstance(x, Matrix):
        return x.shape, x.data
    return None, (x,)


def _bound_entries(b: object, shape: tuple[int, int] | None, name: str) -> Sequence[Any]:
    size = 1 if shape is None else shape[0] * shape[1]
    if isinstance(b, Matrix):
        if b.shape != (shape or (1, 1)):
            got = fmt_shape(b.shape)
            want = "a scalar result (1×1)" if shape is None else fmt_shape(shape)
            raise ValueError(f"assert_close: {name} is {got} but the result is {want}")
        return b.data
    return (b,) * size


def _where(k: int, shape: tuple[int, int] | None) -> str:
    if shape is None:
        return "the scalar"
    i, j = divmod(k, shape[1])
    return f"({i + 1}, {j + 1})"


def _fmt(x: object) -> str:
    if isinstance(x, Fraction):
        return f"{float(x):.17g}" if x.denominator != 1 else str(x.numerator)
    return repr(x)


def assert_close(
    actual: object,
    expected: object,
    *,
    ulps: float = 0.0,
    abs_bound: object = None,
    terms: object = None,
    n: int | None = None,
    what: str = "",
) -> None:
    """Assert that ``actual`` equals ``expected`` within the operation's error bound.

    ``actual`` and ``expected`` are matrices of the same shape or two scalars; ``expected``
    should be exact (``Fraction``, SymPy) or far more precise (mpmath) than ``actual``.
    For every entry the check is ``|actual − expected| ≤ allowed`` with

    * ``ulps`` — ``ulps · math.ulp(expected)``: the bound of an element-wise op
      (``0.5`` = correctly rounded);
    * ``abs_bound`` — a non-negative number, or a matrix of them (one per entry);
    * ``terms`` and ``n`` — ``γₙ · terms``, the bound of a recursive sum or dot product of
      ``n`` terms whose absolute values add up to ``terms`` (a number or a matrix);
      ``n`` is required with ``terms``.

    The parts add up; with none given the values must be equal. ``what`` names the
    operation in the failure message. On failure an ``AssertionError`` lists (up to five)
    offending positions, 1-based ``(i, j)``, each with actual, expected, |error| and the
    allowed bound.
    """
    a_shape, a_data = _as_entries(actual)
    e_shape, e_data = _as_entries(expected)
    label = f"{what}: " if what else ""
    if a_shape != e_shape:

        def shp(s: tuple[int, int] | None) -> str:
            return "a scalar" if s is None else fmt_shape(s)

        raise AssertionError(
            f"{label}shapes differ: actual is {shp(a_shape)}, expected is {shp(e_shape)}"
        )
    if ulps < 0:
        raise ValueError(f"assert_close: ulps must be ≥ 0, got {ulps!r}")
    if terms is not None and n is None:
        raise ValueError("assert_close: terms= needs n=, the number of terms summed")
    abs_data = _bound_entries(abs_bound if abs_bound is not None else 0, a_shape, "abs_bound")
    term_data = _bound_entries(terms if terms is not None else 0, a_shape, "terms")
    g = Fraction(gamma(n)) if n is not None else Fraction(0)
    ulps_q = Fraction(ulps)

    count, failures = _offending(a_data, e_data, abs_data, term_data, ulps_q, g, a_shape)
    if count:
        raise AssertionError(
            _failure_text(
                label, count, failures, ulps, abs_bound, terms, n, g, len(a_data), a_shape
            )
        )


def _offending(
    a_data: Any,
    e_data: Any,
    abs_data: Any,
    term_data: Any,
    ulps_q: Fraction,
    g: Fraction,
    a_shape: tuple[int, int] | None,
) -> tuple[int, list[str]]:
    """How many entries exceed their bound, and the first few described."""
    failures: list[str] = []
    count = 0
    for k, (a, e, ab, t) in enumerate(zip(a_data, e_data, abs_data, term_data, strict=True)):
        if _is_nonfinite(a) or _is_nonfinite(e):
            if _same_nonfinite(a, e):
                continue
            count += 1
            if len(failures) < _MAX_REPORTED:
                failures.append(
                    f"  at {_where(k, a_shape)}: actual={a!r}, expected={e!r} "
                    f"(non-finite values must match exactly)"
                )
            continue
        ea, ee = exact(a), exact(e)
        err = abs(ea - ee)
        allowed = ulps_q * _ulp(ee) + exact(ab) + g * exact(t)
        if err <= allowed:
            continue
        count += 1
        if len(failures) < _MAX_REPORTED:
            failures.append(
                f"  at {_where(k, a_shape)}: actual={_fmt(a)}, expected={_fmt(e)}, "
                f"|error|={float(err):.3g}, allowed={float(allowed):.3g}"
            )
    return count, failures


def _failure_text(
    label: str,
    count: int,
    failures: list[str],
    ulps: float,
    abs_bound: object,
    terms: object,
    n: int | None,
    g: Fraction,
    total: int,
    a_shape: tuple[int, int] | None,
) -> str:
    """The assertion's message: how many entries failed, under which bound, and where."""
    parts = []
    if ulps:
        parts.append(f"{ulps:g} ulp")
    if abs_bound is not None:
        parts.append("abs_bound")
    if terms is not None:
        parts.append(f"γ_{n}·Σ|terms| (γ_{n} = {float(g):.3g})")
    rule = " + ".join(parts) if parts else "exact equality"
    shape_txt = "scalar" if a_shape is None else fmt_shape(a_shape)
    return (
        f"{label}{count} of {total} entries of the {shape_txt} result exceed the "
        f"bound ({rule}):\n" + "\n".join(failures)
    )


# ----------------------------------------------------------------- bounds of reductions
def _abs_exact(A: Matrix[Any]) -> Matrix[Fraction]:
    return Matrix.from_flat(A.shape[0], A.shape[1], (abs(exact(x)) for x in A.data))


def matmul_bound(A: Matrix[Any], B: Matrix[Any]) -> Matrix[Fraction]:
    """The bound of each entry of a float ``A @ B``: ``γₖ · Σₖ |A₍ᵢ,ₖ₎ B₍ₖ,ⱼ₎|`` (exact)."""
    k = A.shape[1]
    g = Fraction(gamma(k))
    return (_abs_exact(A) @ _abs_exact(B)).map(lambda s: g * s)


def sum_bound(A: Matrix[Any]) -> Fraction:
    """The bound of a float ``A.sum()`` (m·n terms, m·n − 1 additions): γ_{mn−1}·Σ|A₍ᵢ,ⱼ₎|."""
    return Fraction(gamma(A.size - 1)) * sum((abs(exact(x)) for x in A.data), Fraction(0))


def sum_rows_bound(A: Matrix[Any]) -> Matrix[Fraction]:
    """The bound of each entry of a float ``A.sum_rows()``: γ_{m−1}·Σᵢ|A₍ᵢ,ⱼ₎|."""
    g = Fraction(gamma(A.shape[0] - 1))
    return Matrix([[g * sum(map(abs, map(exact, c)), Fraction(0)) for c in A.cols()]])


def sum_cols_bound(A: Matrix[Any]) -> Matrix[Fraction]:
    """The bound of each entry of a float ``A.sum_cols()``: γ_{n−1}·Σⱼ|A₍ᵢ,ⱼ₎|."""
    g = Fraction(gamma(A.shape[1] - 1))
    return Matrix([[g * sum(map(abs, map(exact, r)), Fraction(0))] for r in A.rows()])
