"""The NumPy backend (extra ``numpy``): float64 values wrapped in :class:`NumpyMatrix`.

``NumpyMatrix`` is an immutable wrapper around a read-only 2-D float64 ``ndarray`` (so op
dispatch by type is unambiguous: a raw ``ndarray`` is not a refnn value). It has ``.shape``
and the operators of :class:`~refnn.Matrix` (``+ - @ .T .hadamard``, scalar ``*``), each a
registry op. ``.array`` gives the (read-only) ndarray.

Numerics follow the reference where that is cheap: ``sigmoid`` and ``softplus`` in their
stable forms, ``softmax_rows``/``log_softmax_rows`` shifted by the row maximum, and the
same :class:`~refnn.DomainError` for ``log`` of a non-positive entry, ``sqrt`` of a negative
one, division by a zero entry, ``pow`` of a negative entry to a non-integer power or of
zero to a negative one, and ``OverflowError`` for ``exp`` of an entry above ~709.78.
Reductions use NumPy's pairwise summation and BLAS, both within the reference bound
``γₙ · Σ|terms|``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from refnn.backends._value import ArrayValue
from refnn.errors import DomainError
from refnn.matrix import Matrix
from refnn.ops import const
from refnn.rules import check_array

__all__ = ["KERNELS", "NumpyBackend", "NumpyMatrix", "backend", "kernels"]

Array = npt.NDArray[np.float64]
_F64 = np.dtype(np.float64)


class NumpyMatrix(ArrayValue):
    """An immutable float64 matrix held by NumPy."""

    __slots__ = ("_a",)

    _a: Array

    def __init__(self, data: Any) -> None:
        a = np.array(data, dtype=np.float64)
        self._check_shape(a.shape)
        a.flags.writeable = False
        object.__setattr__(self, "_a", a)

    @classmethod
    def _wrap(cls, a: Any) -> NumpyMatrix:
        """Internal fast path: ``a`` is a fresh float64 2-D array nobody else holds (or a
        read-only view of one)."""
        self = object.__new__(cls)
        arr = a if type(a) is np.ndarray and a.dtype == _F64 else np.asarray(a, dtype=_F64)
        if arr.flags.writeable:
            if arr.base is not None:  # a writeable view: someone else could change it
                arr = arr.copy()
            arr.setflags(write=False)
        _set_a(self, arr)
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return self._a.shape  # a 2-tuple of ints

    @property
    def array(self) -> Array:
        """The entries as a read-only float64 ndarray."""
        return self._a

    def _rows(self) -> list[list[float]]:
        rows: list[list[float]] = self._a.tolist()
        return rows


_set_a = NumpyMatrix.__dict__["_a"].__set__  # the slot's own setter (immutable class)


def _a(x: NumpyMatrix) -> Array:
    return x._a


def _w(a: Any) -> NumpyMatrix:
    return NumpyMatrix._wrap(a)


def _num(p: Any) -> Any:
    """A parameter as a float backend sees it (ints stay ints, the rest the nearest double):
    the registry's own conversion for the float domain (a float is already that)."""
    return p if type(p) is float else const(p, None)


# ---------------------------------------------------------------------- kernels
def _add(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    return _w(_a(A) + _a(B))


def _sub(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    return _w(_a(A) - _a(B))


def _neg(A: NumpyMatrix) -> NumpyMatrix:
    return _w(-_a(A))


def _hadamard(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    return _w(_a(A) * _a(B))


def _scale(A: NumpyMatrix, c: Any) -> NumpyMatrix:
    return _w((c if type(c) is float else float(_num(c))) * _a(A))


def _add_scalar(A: NumpyMatrix, c: Any) -> NumpyMatrix:
    return _w(_a(A) + float(_num(c)))


def _div(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    b = _a(B)
    check_array("div", b)
    return _w(_a(A) / b)


def _matmul(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    return _w(_a(A) @ _a(B))


def _transpose(A: NumpyMatrix) -> NumpyMatrix:
    # A contiguous copy, not a view: BLAS would read a transposed view directly, but it then
    # takes another kernel whose sums may round differently, and runs on this backend must
    # stay bit-identical from release to release (a view changed the --backend numpy run)
    return _w(np.ascontiguousarray(_a(A).T))


def _broadcast(A: NumpyMatrix, m: int, n: int) -> NumpyMatrix:
    return _w(np.broadcast_to(_a(A), (m, n)).copy())


def _add_row(A: NumpyMatrix, b: NumpyMatrix) -> NumpyMatrix:
    return _w(_a(A) + _a(b))


def _concat_cols(A: NumpyMatrix, B: NumpyMatrix) -> NumpyMatrix:
    return _w(np.concatenate((_a(A), _a(B)), axis=1))


def _slice_cols(A: NumpyMatrix, j1: int, j2: int) -> NumpyMatrix:
    return _w(_a(A)[:, j1 - 1 : j2].copy())


def _sum(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.sum(_a(A)).reshape(1, 1))


def _sum_rows(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.sum(_a(A), axis=0, keepdims=True))


def _sum_cols(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.sum(_a(A), axis=1, keepdims=True))


def _mean(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    return _w((np.sum(a) / a.size).reshape(1, 1))


def _exp(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    with np.errstate(over="ignore"):
        y = np.exp(a)
    if np.isinf(y).any() and not np.isinf(a[np.isinf(y)]).all():
        raise OverflowError("exp overflows for an entry above ~709.78")
    return _w(y)


def _log(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    check_array("log", a)
    return _w(np.log(a))


def _sqrt(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    check_array("sqrt", a)
    return _w(np.sqrt(a))


def _pow(A: NumpyMatrix, p: Any) -> NumpyMatrix:
    a, q = _a(A), _num(p)
    check_array("pow_neg", a, q)
    check_array("pow_zero", a, q)
    y = np.power(a, float(q))
    if q > 0 and not (q == int(q) and int(q) % 2 == 1):
        # C99: pow(±0, y) = +0 for y > 0 not an odd integer (NumPy's power(−0, 0.5) is −0)
        y = np.where(a == 0, 0.0, y)
    return _w(y)


def _square(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    return _w(a * a)


def _tanh(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.tanh(_a(A)))


def _sigmoid(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    e = np.exp(-np.abs(a))  # ≤ 1: never overflows
    return _w(np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def _softplus(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    return _w(np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a))))


def _sin(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.sin(_a(A)))


def _cos(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.cos(_a(A)))


def _step(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    return _w(np.where(a != a, a, (a > 0).astype(np.float64)))  # NaN propagates


def _relu(A: NumpyMatrix) -> NumpyMatrix:
    return _w(np.maximum(_a(A), 0.0))  # NaN propagates


def _leaky_relu(A: NumpyMatrix, slope: Any) -> NumpyMatrix:
    a = _a(A)
    return _w(np.where(a > 0, a, float(_num(slope)) * a))


def _clip(A: NumpyMatrix, lo: Any, hi: Any) -> NumpyMatrix:
    if not lo <= hi:
        raise DomainError(f"clip needs lo ≤ hi, got lo={lo!r}, hi={hi!r}")
    return _w(np.minimum(np.maximum(_a(A), float(_num(lo))), float(_num(hi))))


def _softmax_rows(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return _w(e / e.sum(axis=1, keepdims=True))


def _log_softmax_rows(A: NumpyMatrix) -> NumpyMatrix:
    a = _a(A)
    shifted = a - a.max(axis=1, keepdims=True)
    return _w(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


#: op name → NumPy forward kernel, for every registry op.
KERNELS: Mapping[str, Callable[..., Any]] = {
    "add": _add,
    "sub": _sub,
    "neg": _neg,
    "hadamard": _hadamard,
    "scale": _scale,
    "add_scalar": _add_scalar,
    "div": _div,
    "matmul": _matmul,
    "transpose": _transpose,
    "broadcast": _broadcast,
    "add_row": _add_row,
    "concat_cols": _concat_cols,
    "slice_cols": _slice_cols,
    "sum": _sum,
    "sum_rows": _sum_rows,
    "sum_cols": _sum_cols,
    "mean": _mean,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "pow": _pow,
    "square": _square,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "sin": _sin,
    "cos": _cos,
    "step": _step,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "clip": _clip,
    "softmax_rows": _softmax_rows,
    "log_softmax_rows": _log_softmax_rows,
}
kernels = KERNELS


class NumpyBackend:
    """The NumPy backend: values are :class:`NumpyMatrix`, kernels are :data:`kernels`.

    Subclass it (or pass ``kernels=``) to build a variant, e.g. a deliberately broken one.
    """

    array_type: type = NumpyMatrix

    def __init__(
        self, name: str = "numpy", kernels: Mapping[str, Callable[..., Any]] | None = None
    ) -> None:
        self.name = name
        self.kernels: Mapping[str, Callable[..., Any]] = dict(
            KERNELS if kernels is None else kernels
        )

    def from_matrix(self, A: Matrix[Any]) -> NumpyMatrix:
        """A reference matrix (any numeric domain) as a float64 :class:`NumpyMatrix`."""
        return NumpyMatrix([[float(x) for x in row] for row in A.rows()])

    def to_matrix(self, a: Any) -> Matrix[float]:
        """A :class:`NumpyMatrix` as a float reference :class:`~refnn.Matrix`."""
        if not isinstance(a, NumpyMatrix):
            raise TypeError(f"expected a NumpyMatrix, got {type(a).__name__}")
        m, n = a.shape
        return Matrix.from_flat(m, n, [float(x) for x in a.array.ravel()])

    def __repr__(self) -> str:
        return f"<refnn backend {self.name}>"


#: The NumPy backend instance (``refnn.backends.load("refnn.backends.numpy:backend")``).
backend = NumpyBackend()
