"""The typed errors of refnn's public API.

Every error refnn raises on bad input is one of these (or a built-in ``TypeError`` /
``IndexError`` where Python's conventions call for one), with a message that names
the rule that was broken and the values involved.
"""

from __future__ import annotations

__all__ = ["DomainError", "RefnnError", "ShapeError", "TrainingDiverged"]


class RefnnError(Exception):
    """Base class of refnn's own exceptions."""


class ShapeError(RefnnError, ValueError):
    """Operands have shapes the operation does not accept.

    The message names the rule and both shapes in the ``m×n`` form, e.g.
    ``element-wise addition needs equal shapes: 2×2 and 1×3``.
    """


class DomainError(RefnnError, ValueError):
    """An entry lies outside the domain of an operation (``log`` of a non-positive
    float, ``sqrt`` of a negative one), or an operation has no exact form in the
    scalar domain of its operand (``exp`` of a ``Fraction``), or two matrices of
    incompatible scalar domains were combined (``Fraction`` with ``float``)."""


class TrainingDiverged(RefnnError, ArithmeticError):
    """The loss became NaN or infinite during training; the message names the step."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step
