"""What every library's array needs to be a refnn value, written once.

:class:`ArrayValue` is the base of :class:`~refnn.backends.numpy.NumpyMatrix`,
:class:`~refnn.backends.torch.TorchMatrix` and :class:`~refnn.backends.jax.JaxMatrix`: the
operators of :class:`~refnn.Matrix` (each a registry op), immutability, the check that a
value is 2-D and non-empty, and ``repr``/``str``. A subclass holds its array in a slot of
its own and says how to list its rows (:meth:`_rows`).
"""

from __future__ import annotations

from typing import Any

from refnn.matrix import Matrix
from refnn.ops.operators import OpsOperators

__all__ = ["ArrayValue"]


class ArrayValue(OpsOperators):
    """An immutable 2-D float matrix held by an array library."""

    __slots__ = ()

    @classmethod
    def _check_shape(cls, shape: Any) -> None:
        """Refuse anything but a 2-D shape with m, n ≥ 1 (a zero-width array included)."""
        dims = tuple(int(d) for d in shape)
        if len(dims) != 2 or dims[0] < 1 or dims[1] < 1:
            raise ValueError(f"a {cls.__name__} is 2-D with m, n ≥ 1, got shape {dims}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set attribute {name!r}")

    def _rows(self) -> list[list[float]]:
        """The entries as nested lists of floats."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._rows()!r})"

    def __str__(self) -> str:
        return str(Matrix(self._rows()))
