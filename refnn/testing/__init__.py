"""Tools for testing code built on refnn (and refnn itself).

Hypothesis strategies — shapes and matrices to draw test inputs from:

* :func:`shapes` ``(max_rows=3, max_cols=3, *, min_rows=1, min_cols=1)`` → ``(m, n)``
* :func:`matrices` ``(shape=None, elements=None)`` → ``Matrix``; ``shape`` is a tuple, a
  strategy of tuples or ``None`` (any shape from :func:`shapes`)
* :func:`matrix_pairs` ``(shape=None, elements=None)`` → ``(A, B)`` of equal shape
* :func:`matmul_pairs` ``(max_m=3, max_k=3, max_n=3, elements=None)`` → ``(A, B)``,
  m×k and k×n
* :func:`finite_floats` ``(max_magnitude=1e3, min_magnitude=1e-100)`` → the default entries

Checking results against a reference, with a tolerance that follows the op's error bound:

* :func:`assert_close` ``(actual, expected, *, ulps=0.0, abs_bound=None, terms=None,
  n=None, what="")`` — see :mod:`refnn.testing.assertions` for the bound classes
* :func:`matmul_bound`, :func:`sum_bound`, :func:`sum_rows_bound`, :func:`sum_cols_bound` —
  the exact γₙ·Σ|terms| bounds of refnn's float reductions, for ``abs_bound=``
* :func:`exact` — any real number (float, Fraction, SymPy, mpmath) as an exact ``Fraction``

Checking gradients numerically:

* :func:`check_grad` ``(f, *args, eps=None, rtol=1e-6, atol=1e-8)`` — ``refnn.grad`` against
  central finite differences for every entry of every argument (see
  :mod:`refnn.testing.gradcheck` for its accuracy); returns the largest relative error

``assert_close`` and ``check_grad`` work without Hypothesis; the strategies need it (the
``test`` extra) and raise an ``ImportError`` saying so when it is missing.

Usage::

    from hypothesis import given
    from refnn.testing import assert_close, matmul_bound, matmul_pairs

    @given(matmul_pairs())
    def test_matmul(pair):
        A, B = pair
        exact = A.map(Fraction) @ B.map(Fraction)
        assert_close(A @ B, exact, abs_bound=matmul_bound(A, B), what="A @ B")
"""

from __future__ import annotations

import importlib
from typing import Any

from refnn.testing.assertions import (
    assert_close,
    exact,
    matmul_bound,
    sum_bound,
    sum_cols_bound,
    sum_rows_bound,
)

_STRATEGIES = ("finite_floats", "matmul_pairs", "matrices", "matrix_pairs", "shapes")

try:
    from refnn.testing.strategies import (
        finite_floats,
        matmul_pairs,
        matrices,
        matrix_pairs,
        shapes,
    )
except ImportError as _missing:  # Hypothesis is not installed: fail on first use, clearly
    _strategies_error: ImportError | None = _missing
else:
    _strategies_error = None

__all__ = [
    "assert_close",
    "check_grad",
    "exact",
    "finite_floats",
    "matmul_bound",
    "matmul_pairs",
    "matrices",
    "matrix_pairs",
    "shapes",
    "sum_bound",
    "sum_cols_bound",
    "sum_rows_bound",
]


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES and _strategies_error is not None:
        raise ImportError(str(_strategies_error)) from _strategies_error
    if name == "check_grad":  # lives in refnn.testing.gradcheck; imported on first use
        return importlib.import_module("refnn.testing.gradcheck").check_grad
    raise AttributeError(f"module 'refnn.testing' has no attribute {name!r}")
