"""The comparison policies of ``refnn conform`` and of the golden vectors: what counts as a
difference, declared rather than guessed.

:data:`POLICY_TEXT` is the one text of their definitions: ``subnormals`` (strict or flush),
``signed_zero`` (strict or ignore) and ``special_values`` (on or off), with how ``refnn
conform`` applies each and how a consumer of the vector files does. Every vector file embeds
it under ``policy``; :func:`describe_policies` renders it as prose. :func:`zero_sign_specified`
is the one predicate of where the sign of a zero is judged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from refnn.ops import OpSpec

__all__ = [
    "POLICY_TEXT",
    "SMALLEST_NORMAL",
    "Policy",
    "describe_policies",
    "flush",
    "is_subnormal",
    "zero_sign",
    "zero_sign_specified",
]

#: 2⁻¹⁰²², the smallest positive normal double.
SMALLEST_NORMAL = 2.0**-1022

Subnormals = Literal["strict", "flush"]
SignedZero = Literal["strict", "ignore"]


#: The definitions of the policies, for ``refnn conform`` and the vector files alike: per
#: policy its default, the meaning of each value, then how ``conform`` applies it and how a
#: consumer of the vector files does.
POLICY_TEXT: dict[str, dict[str, str]] = {
    "subnormals": {
        "default": "strict",
        "strict": "a subnormal (a non-zero number of magnitude below 2⁻¹⁰²², the smallest "
        "normal double) input or result is a number like any other: the expected "
        "value is the exact one, subnormals included, and a backend that flushes "
        "them to zero has subnormal findings",
        "flush": "models flush-to-zero / denormals-are-zero arithmetic (XLA on CPU, many "
        "GPUs): every value of magnitude below 2⁻¹⁰²² counts as a zero of the same "
        "sign",
        "conform": "under flush, every input entry of magnitude below 2⁻¹⁰²² becomes a zero "
        "of its sign before the reference and the backend see it; every result "
        "entry of the backend below 2⁻¹⁰²² counts as a zero of its sign; and each "
        "entry's absolute allowance grows by 2⁻¹⁰²² × (the number of input "
        "entries), the most that flushed intermediate results can move it",
        "vectors": "expected values were computed at the unflushed inputs, so a case with a "
        "subnormal among its inputs, cotangent or expected values is marked "
        '"subnormal": true; under flush a consumer skips exactly those cases '
        "and counts them as skipped by policy, not as failures, and takes every "
        "other value below 2⁻¹⁰²² (input, expected, got) as a zero of its sign",
    },
    "signed_zero": {
        "default": "strict",
        "strict": "the sign of a zero is judged only where IEEE 754 fixes it: in the forward "
        "result of an op that is neither a reduction nor piecewise (the arithmetic "
        "ops, sqrt, the odd functions tanh and sin, the exact copies transpose, "
        "broadcast, concat_cols, slice_cols…), a zero of the other sign than the "
        "reference's own float64 kernel gives (0/(−30) = −0, tanh(−0) = −0, "
        "−0 + −0 = −0) is a signed-zero finding. Reductions (the sign of an "
        "exact-zero sum depends on where an accumulator starts), piecewise ops "
        "(relu, step, clip, leaky_relu: their zero is a convention) and VJPs (they "
        "sum cotangents) are never judged on it",
        "ignore": "−0 and +0 compare equal everywhere",
        "conform": "a signed-zero mismatch is a finding class of its own, in the examples and "
        "in the special-value cases alike",
        "vectors": 'each op file states "zero_sign": "ieee" (the signs of its forward '
        'zeros are specified) or "unspecified"; under strict a consumer judges '
        'the sign of an expected zero only in the output of an "ieee" file, '
        'never in VJPs, in "unspecified" files or in training traces (every '
        "expected zero still carries the sign the reference's float64 kernel or "
        "VJP gives it)",
    },
    "special_values": {
        "default": "on",
        "on": "each input entry in turn is set to +0, −0, +inf, −inf and NaN, forward only. "
        "The expected value is what the reference's float kernel returns, which follows "
        "IEEE 754 and C99 Annex F (NaN in gives NaN out; exp(−inf) = 0; "
        "tanh(±inf) = ±1; sigmoid(−inf) = 0; relu(+inf) = +inf; 1/±inf = ±0). A case "
        "is undefined, and not checked, where the reference raises a typed error "
        "(log(0), sqrt(−inf), sin(±inf), a division by zero: the same domain errors it "
        "raises for finite input) or returns NaN from NaN-free input (inf − inf, "
        "0·inf). A finite expected value must be met within the op's ulps; an infinity "
        "exactly; a NaN by any NaN",
        "off": "the special-value class does not run",
        "conform": "on by default; --no-special turns it off",
        "vectors": "the vector files hold finite values only: this class is not part of them",
    },
}


def describe_policies() -> str:
    """:data:`POLICY_TEXT` as prose, one paragraph per policy."""
    paras = []
    for name, text in POLICY_TEXT.items():
        values = [k for k in text if k not in ("default", "conform", "vectors")]
        lines = [f"{name} (default {text['default']}):"]
        lines += [f"  {v}: {text[v]}." for v in values]
        lines += [
            f"  In refnn conform: {text['conform']}.",
            f"  In the vector files: {text['vectors']}.",
        ]
        paras.append("\n".join(lines))
    return "\n\n".join(paras)


def zero_sign_specified(spec: OpSpec) -> bool:
    """Whether IEEE 754 fixes the sign of the zeros in ``spec``'s forward result: the op is
    neither a reduction nor piecewise (the ``signed_zero`` policy judges only these)."""
    return not spec.bound.reduction and spec.smooth


def zero_sign(spec: OpSpec) -> Literal["ieee", "unspecified"]:
    """The ``zero_sign`` field of ``spec``'s vector file (see :func:`zero_sign_specified`)."""
    return "ieee" if zero_sign_specified(spec) else "unspecified"


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
            raise ValueError(f"signed_zero must be 'strict' or 'ignore', got {self.signed_zero!r}")

    @property
    def flushes(self) -> bool:
        return self.subnormals == "flush"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a report header."""
        sv = "on" if self.special_values else "off"
        return f"subnormals {self.subnormals}, signed zeros {self.signed_zero}, special values {sv}"
