"""Hypothesis strategies for matrices: shapes, matrices, pairs for binary ops and matmul.

Every strategy takes an optional ``elements`` strategy for the entries. The default,
:func:`finite_floats`, draws doubles that are ``0`` or have a magnitude in
``[1e-100, 1e3]``: no NaN, no inf, and no values so small that a product of a few of them
underflows — the γₙ error bounds of float reductions (see :mod:`refnn.matrix`) assume no
underflow. Pass ``elements=st.integers(-9, 9)`` for int matrices,
``elements=st.fractions(...)`` for exact ones, or any strategy of scalars.
"""

from __future__ import annotations

from typing import Any

try:
    from hypothesis import strategies as st
except ModuleNotFoundError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "refnn.testing's strategies need Hypothesis, which comes with the test extra: "
        "pip install 'refnn[test]' (or pip install hypothesis)"
    ) from _exc

from refnn.matrix import Matrix

__all__ = ["finite_floats", "matmul_pairs", "matrices", "matrix_pairs", "shapes"]

Shape = tuple[int, int]


def finite_floats(
    max_magnitude: float = 1e3, min_magnitude: float = 1e-100
) -> st.SearchStrategy[float]:
    """Doubles in ``[−max_magnitude, max_magnitude]`` that are ``0.0`` or at least
    ``min_magnitude`` in magnitude (smaller draws are mapped to ``0.0``); never NaN/inf."""
    if not 0 <= min_magnitude <= max_magnitude:
        raise ValueError("finite_floats needs 0 ≤ min_magnitude ≤ max_magnitude")
    base = st.floats(
        min_value=-max_magnitude,
        max_value=max_magnitude,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    )
    return base.map(lambda x: 0.0 if abs(x) < min_magnitude else x)


def shapes(
    max_rows: int = 3, max_cols: int = 3, *, min_rows: int = 1, min_cols: int = 1
) -> st.SearchStrategy[Shape]:
    """Shapes ``(m, n)`` with ``min_rows ≤ m ≤ max_rows`` and ``min_cols ≤ n ≤ max_cols``."""
    if not (1 <= min_rows <= max_rows and 1 <= min_cols <= max_cols):
        raise ValueError("shapes needs 1 ≤ min_rows ≤ max_rows and 1 ≤ min_cols ≤ max_cols")
    return st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols))


def _shape_strategy(shape: Shape | st.SearchStrategy[Shape] | None) -> st.SearchStrategy[Shape]:
    if shape is None:
        return shapes()
    if isinstance(shape, tuple):
        m, n = shape
        if m < 1 or n < 1:
            raise ValueError(f"a matrix shape needs m ≥ 1 and n ≥ 1, got {m}×{n}")
        return st.just((m, n))
    return shape


def _fixed(
    m: int, n: int, elements: st.SearchStrategy[Any] | None
) -> st.SearchStrategy[Matrix[Any]]:
    elems = finite_floats() if elements is None else elements
    return st.lists(elems, min_size=m * n, max_size=m * n).map(
        lambda xs: Matrix.from_flat(m, n, xs)
    )


def matrices(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    elements: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[Matrix[Any]]:
    """Matrices of a fixed ``shape`` (a tuple), of shapes drawn from a strategy, or (``None``)
    of any shape from :func:`shapes`; entries from ``elements`` (default
    :func:`finite_floats`)."""
    return _shape_strategy(shape).flatmap(lambda s: _fixed(s[0], s[1], elements))


def matrix_pairs(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    elements: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[tuple[Matrix[Any], Matrix[Any]]]:
    """Pairs ``(A, B)`` of the same shape, for element-wise binary ops (+, −, ⊙, …)."""
    return _shape_strategy(shape).flatmap(
        lambda s: st.tuples(_fixed(s[0], s[1], elements), _fixed(s[0], s[1], elements))
    )


def matmul_pairs(
    max_m: int = 3,
    max_k: int = 3,
    max_n: int = 3,
    elements: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[tuple[Matrix[Any], Matrix[Any]]]:
    """Pairs ``(A, B)`` with A of shape m×k and B of shape k×n (so ``A @ B`` is defined),
    ``1 ≤ m ≤ max_m``, ``1 ≤ k ≤ max_k``, ``1 ≤ n ≤ max_n``."""
    if min(max_m, max_k, max_n) < 1:
        raise ValueError("matmul_pairs needs max_m, max_k, max_n ≥ 1")
    dims = st.tuples(st.integers(1, max_m), st.integers(1, max_k), st.integers(1, max_n))
    return dims.flatmap(
        lambda d: st.tuples(_fixed(d[0], d[1], elements), _fixed(d[1], d[2], elements))
    )


# ------------------------------------------------------------------ inputs of a registry op
def _domain_floats(domain: Any) -> st.SearchStrategy[float]:
    """Doubles in ``[domain.lo, domain.hi]`` at least ``domain.margin`` away from each kink in
    ``domain.avoid`` (draws that fall too close are pushed out of the window, then checked).
    Like :func:`finite_floats`, magnitudes below ``1e-100`` become ``0.0`` (no underflow)."""
    lo, hi, avoid, margin = domain.lo, domain.hi, domain.avoid, domain.margin

    def push(x: float) -> float:
        if abs(x) < 1e-100:
            x = 0.0
        for a in avoid:
            if abs(x - a) < margin:
                x = a + margin if x >= a else a - margin
        return x

    base = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    return base.map(push).filter(domain.contains)


def _domain_matrix(m: int, n: int, domain: Any) -> st.SearchStrategy[Matrix[float]]:
    def build(xs: list[float]) -> Matrix[float]:
        return Matrix.from_flat(m, n, xs)

    return st.lists(_domain_floats(domain), min_size=m * n, max_size=m * n).map(build)


def op_inputs(
    spec: Any, max_dim: int = 3
) -> st.SearchStrategy[tuple[tuple[Matrix[float], ...], tuple[Any, ...]]]:
    """``(inputs, params)`` for the registry op ``spec`` (an :class:`~refnn.ops.OpSpec`):
    a case drawn from ``spec.cases(max_dim)`` (input shapes up to ``max_dim×max_dim`` and a
    parameter value class), and one float Matrix per input, with entries drawn from that
    argument's :class:`~refnn.ops.InputDomain` (inside ``[lo, hi]``, away from the kinks;
    ``0.0`` or at least ``1e-100`` in magnitude).

    Call the op as ``refnn.ops.apply(spec, inputs, params)``."""
    cases = list(spec.cases(max_dim))
    if not cases:
        raise ValueError(f"op {spec.name!r} lists no cases up to {max_dim}×{max_dim}")

    def draw(case: tuple[tuple[Shape, ...], tuple[Any, ...]]) -> st.SearchStrategy[Any]:
        shapes, params = case
        mats = [_domain_matrix(m, n, d) for (m, n), d in zip(shapes, spec.domains, strict=True)]
        return st.tuples(st.tuples(*mats), st.just(params))

    return st.sampled_from(cases).flatmap(draw)


__all__ += ["op_inputs"]
