"""The domain rules of the ops, in one table: where ``log``, ``sqrt``, ``pow`` and ``div``
are undefined, and the words for it.

Every implementation — each scalar domain's table in :mod:`refnn.scalars`, the NumPy and
PyTorch backends — checks a rule with its ``outside`` predicate and raises
:func:`violation`, so the reference and the backends refuse the same inputs with the same
message. A predicate is written with ``<``, ``==`` and ``&`` only, so it works unchanged on
a Python number, a NumPy array or a torch tensor (``(x < 0) & (p != int(p))``).

=============  ==============================================  =========================
rule           an entry is outside when                         message
=============  ==============================================  =========================
``log``        x ≤ 0                                            log needs positive entries
``sqrt``       x < 0                                            sqrt needs non-negative …
``div``        the divisor is 0                                 element-wise division by …
``pow_neg``    x < 0 and p is not an integer                    pow of a negative entry …
``pow_zero``   x = 0 and p < 0                                  pow of a zero entry …
=============  ==============================================  =========================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refnn.errors import DomainError

__all__ = ["RULES", "Rule", "check", "check_array", "violation"]


@dataclass(frozen=True)
class Rule:
    """One domain rule: its predicate (true where an entry is outside) and its message."""

    message: str
    outside: Callable[..., Any]


RULES: dict[str, Rule] = {
    "log": Rule("log needs positive entries", lambda x: x <= 0),
    "sqrt": Rule("sqrt needs non-negative entries", lambda x: x < 0),
    "div": Rule("element-wise division by a zero entry", lambda y: y == 0),
    "pow_neg": Rule(
        "pow of a negative entry to a non-integer power", lambda x, p: (x < 0) & (p != int(p))
    ),
    "pow_zero": Rule("pow of a zero entry to a negative power", lambda x, p: (x == 0) & (p < 0)),
}


def violation(rule: str, entry: Any = None, p: Any = None) -> DomainError:
    """The :class:`~refnn.DomainError` of ``rule``, naming the offending entry (and the power
    ``p`` of a ``pow`` rule)."""
    text = RULES[rule].message
    if p is not None:
        try:  # the same words whether p arrived as 2, 2.0 or Fraction(2)
            text += f" {float(p):g}"
        except (TypeError, ValueError):
            text += f" {p!r}"
    if entry is not None:
        text += f", got the entry {entry!r}"
    return DomainError(text)


def check(rule: str, x: Any, p: Any = None) -> None:
    """Raise :func:`violation` if the scalar ``x`` is outside ``rule``."""
    outside = RULES[rule].outside
    if outside(x) if p is None else outside(x, p):
        raise violation(rule, x, p)


def check_array(rule: str, a: Any, p: Any = None) -> None:
    """Raise :func:`violation` if any entry of the array ``a`` (NumPy or torch) is outside
    ``rule``, naming the first such entry."""
    outside = RULES[rule].outside
    bad = outside(a) if p is None else outside(a, p)
    if bool(bad.any()):
        raise violation(rule, float(a[bad].reshape(-1)[0]), p)
