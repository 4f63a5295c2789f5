"""The operators every non-Matrix value shares (autodiff tracers, backend arrays): each is one
``refnn.ops`` call, so code written with ``A @ B + C``, ``A.hadamard(B)``, ``A.T`` and
``c * A`` reads — and differentiates — the same everywhere as on a reference
:class:`~refnn.Matrix`. Reflected forms (``Matrix @ tracer``, ``A.hadamard(tracer)``) are
here too, because ``Matrix`` returns ``NotImplemented`` for values it does not own."""

from __future__ import annotations

from typing import Any, NoReturn

from refnn.matrix import (
    _is_number,
    _is_scalar,
    _matrix_division_error,
    _number_over_matrix_error,
    _scalar_operand_error,
    reciprocal,
)
from refnn.ops import _defs as ops


class OpsOperators:
    """Mixin: arithmetic operators of a backend value, each one registry op."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("+", other, right=False)
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("+", other, right=True)
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("-", other, right=False)
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Any:
        if _is_number(other):
            raise _scalar_operand_error("-", other, right=True)
        return ops.sub(other, self)

    def __truediv__(self, other: Any) -> Any:
        """``A / c`` for a number c: the op ``scale(1/c, A)``, so it differentiates (the
        same value as ``Matrix / c``, see :func:`refnn.matrix.reciprocal`)."""
        if _is_number(other):
            return ops.scale(reciprocal(other), self)
        if hasattr(other, "shape"):
            raise _matrix_division_error()
        return NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        if not _is_number(other):
            return NotImplemented
        raise _number_over_matrix_error(other)

    def __neg__(self) -> Any:
        return ops.neg(self)

    def __matmul__(self, other: Any) -> Any:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return ops.matmul(other, self)

    def hadamard(self, other: Any) -> Any:
        """The Hadamard (element-wise) product self ⊙ other."""
        return ops.hadamard(self, other)

    def __rhadamard__(self, other: Any) -> Any:
        return ops.hadamard(other, self)

    def __mul__(self, other: Any) -> Any:
        if hasattr(other, "shape"):
            raise TypeError(
                "`*` between two matrices is ambiguous: use A.hadamard(B) for the "
                "element-wise product A ⊙ B, or A @ B for the matrix product"
            )
        if not _is_scalar(other):
            return NotImplemented
        return ops.scale(other, self)

    __rmul__ = __mul__

    @property
    def T(self) -> Any:
        """The transpose."""
        return ops.transpose(self)

    def __bool__(self) -> NoReturn:
        raise TypeError("the truth value of a matrix is ambiguous")

    def __iter__(self) -> NoReturn:
        raise TypeError(
            "a matrix value is not iterable (is it rows or entries?); convert it to a Matrix first"
        )


class RecordedValue(OpsOperators):
    """Base of the values a recording wraps (autodiff's :class:`~refnn.autodiff.Tracer`,
    :mod:`refnn.explain`'s recorded values): the wrapped value under ``__refnn_value__``
    (which :func:`refnn.ops.concrete` unwraps), its shape, and the operators."""

    __slots__ = ("_value",)
    _value: Any

    @property
    def __refnn_value__(self) -> Any:
        return self._value

    @property
    def shape(self) -> tuple[int, int]:
        """The shape of the wrapped value."""
        return ops.concrete(self._value).shape  # type: ignore[no-any-return]
