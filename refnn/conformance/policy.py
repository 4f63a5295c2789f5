"""The comparison policies of ``refnn conform`` (and of the golden vectors): what counts as a
difference, declared rather than guessed.

``subnormals`` — how numbers below the smallest normal double, 2⁻¹⁰²², are judged:

* ``strict`` (default): a subnormal input or result is a number like any other; the
  expected value is the exact one, subnormals included. A backend that flushes them to
  zero has *subnormal* findings.
* ``flush``: models flush-to-zero / denormals-are-zero arithmetic (XLA on CPU, many GPUs).
  Every input entry of magnitude below 2⁻¹⁰²² becomes a zero of the same sign before the
  reference *and* the backend see it; every result entry of the backend of magnitude below
  2⁻¹⁰²² counts as a zero of its sign; and each entry's absolute allowance grows by
  2⁻¹⁰²² × (the number of input entries), the most that flushed intermediate results can
  move it.

``signed_zero`` — where IEEE 754 fixes the sign of a zero result:

* ``strict`` (default): for ops whose zero results have a sign fixed by IEEE 754 (the
  arithmetic ops, ``sqrt``, the odd functions ``tanh``/``sin``, and the exact copies
  ``transpose``/``broadcast``/``concat_cols``/``slice_cols``…), a zero of the other sign than
  the reference's own float kernel gives (``0/(−30) = −0``, ``tanh(−0) = −0``,
  ``−0 + −0 = −0``) is a *signed-zero* finding. Reductions (the sign of an exact-zero sum
  depends on where an accumulator starts) and piecewise ops (``relu``, ``step``, ``clip``…,
  whose zero is a convention) are never judged on it, nor are VJPs (they sum cotangents).
* ``ignore``: −0 and +0 compare equal everywhere.

``special_values`` — whether the special-value class runs (default on): each input entry in
turn set to +0, −0, +inf, −inf and NaN, forward only. The expected value is what the
reference's float kernel returns, which follows IEEE 754 and C99 Annex F (NaN in gives NaN
out; ``exp(−inf) = 0``; ``tanh(±inf) = ±1``; ``sigmoid(−inf) = 0``; ``relu(+inf) = +inf``;
``1/±inf = ±0``). A case is *undefined*, and not checked, where the reference raises a
typed error (``log(0)``, ``sqrt(−inf)``, ``sin(±inf)``, a division by zero: the same domain
errors it raises for finite input) or returns NaN from NaN-free input (``inf − inf``,
``0·inf``). A finite expected value must be met within the op's ulps; an infinity exactly;
a NaN by any NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["SMALLEST_NORMAL", "Policy", "flush", "is_subnormal"]

#: 2⁻¹⁰²², the smallest positive normal double.
SMALLEST_NORMAL = 2.0**-1022

Subnormals = Literal["strict", "flush"]
SignedZero = Literal["strict", "ignore"]


def is_subnormal(x: float) -> bool:
    """Whether ``x`` is a non-zero double of magnitude below 2⁻¹⁰²²."""
    return x != 0 and abs(x) < SMALLEST_NORMAL


def flush(x: float) -> float:
    """``x``, or a zero of its sign when it is subnormal."""
    return math.copysign(0.0, x) if is_subnormal(x) else x


@dataclass(frozen=True)
class Policy:
    """The declared comparison policy of one conformance run (see the module docstring)."""

    subnormals: Subnormals = "strict"
    signed_zero: SignedZero = "strict"
    special_values: bool = True

    def __post_init__(self) -> None:
        if self.subnormals not in ("strict", "flush"):
            raise ValueError(f"subnormals must be 'strict' or 'flush', got {self.subnormals!r}")
        if self.signed_zero not in ("strict", "ignore"):
            raise ValueError(
                f"signed_zero must be 'strict' or 'ignore', got {self.signed_zero!r}"
            )

    @property
    def flushes(self) -> bool:
        return self.subnormals == "flush"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a report header."""
        sv = "on" if self.special_values else "off"
        return (f"subnormals {self.subnormals}, signed zeros {self.signed_zero}, "
                f"special values {sv}")
