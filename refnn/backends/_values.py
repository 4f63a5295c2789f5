"""The operators every backend value shares: they call ``refnn.ops``, so code written with
``A @ B + C``, ``A.hadamard(B)``, ``A.T`` and ``c * A`` reads (and differentiates) the same on
every backend as on a reference :class:`~refnn.Matrix`."""

from __future__ import annotations

from typing import Any, NoReturn

from refnn import ops
from refnn.matrix import _is_scalar


class OpsOperators:
    """Mixin: arithmetic operators of a backend value, each one registry op."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return ops.add(self, other)

    def __sub__(self, other: Any) -> Any:
        return ops.sub(self, other)

    def __neg__(self) -> Any:
        return ops.neg(self)

    def __matmul__(self, other: Any) -> Any:
        return ops.matmul(self, other)

    def hadamard(self, other: Any) -> Any:
        """The Hadamard (element-wise) product self ⊙ other."""
        return ops.hadamard(self, other)

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
        raise TypeError("a backend matrix is not iterable; convert it with backend.to_matrix")
