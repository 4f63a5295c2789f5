"""Golden vectors: every registry op's outputs and VJPs on designed inputs, as JSON, so that a
backend in any language can be checked without Python (format: ``docs/vectors.md``), plus
whole training runs (:mod:`refnn.conformance.traces`) in ``traces/<name>.json``.

Values are computed at 60 significant digits with the reference kernels and VJPs on
``mpmath`` matrices, cross-checked against the op's independent SymPy specification
evaluated at 60 digits, then correctly rounded to float64. Every number is written both
as the shortest round-tripping decimal string and as a C99/Python hex float. Each
expected entry comes with the absolute tolerance a conforming backend must meet (the op's
stated bound, computed exactly as :func:`refnn.conformance.conform` does), rounded up.

The input and comparison policy is the one ``refnn conform`` uses, and is written into
every file (:data:`POLICY`): parameters reach an implementation as ``int`` (integer kind) or
as the nearest double (real kind); ``subnormals`` strict or flush (cases holding a subnormal
are marked ``"subnormal": true``); ``signed_zero`` strict or ignore (an expected zero carries
the sign the reference's own float kernel gives it; mpmath has no signed zero).
"""

from __future__ import annotations

import json
import math
import os
import random
import zlib
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import mpmath

from refnn.conformance import _exact as ex
from refnn.matrix import Matrix
from refnn.ops import InputDomain, OpSpec, registry

__all__ = [
    "DEFINITIONS",
    "FORMAT",
    "INTEGER_PARAMS",
    "POLICY",
    "VERSION",
    "compute_case",
    "export_vectors",
    "op_vectors",
    "param_classes",
]

FORMAT = "refnn-golden-vectors"
#: 2: ``integer`` by the parameter's kind, ``kind`` on parameters, ``definition`` per op,
#: ``policy`` per file, ``subnormal`` per case, signed expected zeros, ``traces/``.
VERSION = 2
_COTANGENT = InputDomain(lo=-2.0, hi=2.0)
_MIN_NORMAL = 2.0**-1022

#: (op, parameter) pairs of integer kind: they reach an implementation as ``int``. Every
#: other parameter is of real kind and reaches it as the nearest double.
INTEGER_PARAMS = frozenset({("broadcast", "m"), ("broadcast", "n"),
                            ("slice_cols", "j1"), ("slice_cols", "j2")})

POLICY: dict[str, Any] = {
    "parameters": "a parameter of kind \"integer\" reaches an implementation as an integer "
                  "(exact); one of kind \"real\" as the double written in decimal/hex (the "
                  "nearest double to exact), never as a fraction",
    "subnormals": {
        "default": "strict",
        "strict": "a subnormal input or result is a number like any other: expected values "
                  "are exact, subnormals included",
        "flush": "models flush-to-zero / denormals-are-zero hardware (XLA on CPU): every value "
                 "of magnitude below 2^-1022 (input, expected, got) is taken as a zero of the "
                 "same sign; a case marked \"subnormal\": true (a subnormal among its inputs, "
                 "cotangent or expected values, which were computed at the unflushed inputs) is "
                 "skipped and counted as skipped by policy, not as a failure",
    },
    "signed_zero": {
        "default": "strict",
        "strict": "an expected zero carries its IEEE 754 sign as the reference's own float64 "
                  "kernel (and float64 VJP) computes it (0/(-30) = -0, tanh(-0) = -0, "
                  "-0*2 = -0); a zero result of the opposite sign is a mismatch of its own kind",
        "ignore": "-0 and +0 compare equal",
    },
    "compare": "for every entry |got - expected| <= tolerance; a non-finite got fails",
}

_SUMS = ("sums are recursive from +0: 0 + a1 + a2 + … (so a sum of -0 terms is +0)")

#: What every op means, written for someone implementing it from the vectors alone.
#: ``vjp`` is the formula the reference evaluates (in ops, as the VJP of the registry):
#: its float evaluation fixes the sign of every expected zero.
DEFINITIONS: dict[str, dict[str, Any]] = {
    "add": {"formula": "Y[i,j] = A[i,j] + B[i,j]", "shapes": "A m×n, B m×n → m×n",
            "vjp": "dA = G; dB = G"},
    "sub": {"formula": "Y[i,j] = A[i,j] − B[i,j]", "shapes": "A m×n, B m×n → m×n",
            "vjp": "dA = G; dB = −G"},
    "neg": {"formula": "Y[i,j] = −A[i,j] (exact; −(+0) = −0)", "shapes": "m×n → m×n",
            "vjp": "dA = −G"},
    "hadamard": {"formula": "Y[i,j] = A[i,j]·B[i,j]", "shapes": "A m×n, B m×n → m×n",
                 "vjp": "dA = G ⊙ B; dB = G ⊙ A"},
    "scale": {"formula": "Y[i,j] = c·A[i,j]",
              "shapes": "m×n → m×n; the public call is scale(c, A) (scalar_first), the files "
                        "list the matrix input under inputs and c under params",
              "params": {"c": "real constant multiplying every entry"},
              "vjp": "dA = c·G"},
    "add_scalar": {"formula": "Y[i,j] = A[i,j] + c", "shapes": "m×n → m×n",
                   "params": {"c": "real constant added to every entry"}, "vjp": "dA = G"},
    "div": {"formula": "Y[i,j] = A[i,j] / B[i,j]; B[i,j] = 0 is outside the domain",
            "shapes": "A m×n, B m×n → m×n", "vjp": "dA = G ⊘ B; dB = −((G ⊘ B) ⊙ Y)"},
    "matmul": {"formula": "Y[i,j] = Σ_k A[i,k]·B[k,j], added left to right from the first "
                          "product: A[i,1]B[1,j] + A[i,2]B[2,j] + … (so a lone −0 product "
                          "stays −0; this holds for inner size k ≤ 4, every case here)",
               "shapes": "A m×k, B k×n → m×n", "vjp": "dA = G·Bᵀ; dB = Aᵀ·G"},
    "transpose": {"formula": "Y[i,j] = A[j,i]", "shapes": "m×n → n×m", "vjp": "dA = Gᵀ"},
    "broadcast": {"formula": "Y[i,j] = A[i′,j′] with i′ = 1 if A has one row else i, and "
                             "j′ = 1 if A has one column else j",
                  "shapes": "A 1×1, 1×n, m×1 or m×n → m×n (a 1×n row repeats down, an m×1 "
                            "column repeats across)",
                  "params": {"m": "integer: rows of the result",
                             "n": "integer: columns of the result"},
                  "vjp": "if A is already m×n: dA = G; else if A is 1×1: dA = sum(G); "
                         "else if A is 1×n: dA = sum_rows(G); else (m×1): dA = sum_cols(G)"},
    "add_row": {"formula": "Y[i,j] = A[i,j] + b[1,j]: the row b added to every row of A (a "
                           "bias)",
                "shapes": "A m×n, b 1×n → m×n", "vjp": "dA = G; db = sum_rows(G)"},
    "concat_cols": {"formula": "Y = [A B]: Y[i,j] = A[i,j] for j ≤ n1, B[i,j−n1] for j > n1",
                    "shapes": "A m×n1, B m×n2 → m×(n1+n2)",
                    "vjp": "dA = columns 1..n1 of G; dB = columns n1+1..n1+n2 of G"},
    "slice_cols": {"formula": "Y[i,j] = A[i, j1+j−1]: columns j1 through j2 of A, 1-based and "
                              "inclusive (1 ≤ j1 ≤ j2 ≤ n)",
                   "shapes": "m×n → m×(j2−j1+1)",
                   "params": {"j1": "integer: first column kept (1-based)",
                              "j2": "integer: last column kept (1-based, inclusive)"},
                   "vjp": "dA = the m×n matrix with G in columns j1..j2 and, in the other "
                          "columns, the zero 0·sum(G) (so −0 when sum(G) < 0 or is −0)"},
    "sum": {"formula": "Y[1,1] = Σ_i Σ_j A[i,j] (" + _SUMS + ")", "shapes": "m×n → 1×1",
            "vjp": "dA = G[1,1] in every entry (broadcast)"},
    "sum_rows": {"formula": "Y[1,j] = Σ_i A[i,j]: the sum of the rows, i.e. the row of column "
                            "totals (" + _SUMS + "; a 1×n input is returned unchanged)",
                 "shapes": "m×n → 1×n", "vjp": "dA[i,j] = G[1,j] (broadcast down)"},
    "sum_cols": {"formula": "Y[i,1] = Σ_j A[i,j]: the sum of the columns, i.e. the column of "
                            "row totals (" + _SUMS + "; an m×1 input is returned unchanged)",
                 "shapes": "m×n → m×1", "vjp": "dA[i,j] = G[i,1] (broadcast across)"},
    "mean": {"formula": "Y[1,1] = (Σ_i Σ_j A[i,j]) / (m·n) (the sum as for sum, then one "
                        "division)",
             "shapes": "m×n → 1×1",
             "vjp": "dA[i,j] = c·G[1,1] with c the double nearest 1/(m·n)"},
    "exp": {"formula": "Y = e^A element-wise", "shapes": "m×n → m×n", "vjp": "dA = G ⊙ Y"},
    "log": {"formula": "Y = ln A element-wise; A > 0", "shapes": "m×n → m×n",
            "vjp": "dA = G ⊘ A"},
    "sqrt": {"formula": "Y = √A element-wise (correctly rounded); A ≥ 0, and A > 0 for the VJP",
             "shapes": "m×n → m×n", "vjp": "dA = G ⊘ (2·Y)"},
    "pow": {"formula": "Y = A^p element-wise for a real constant p; A < 0 needs an integer p, "
                       "A = 0 needs p ≥ 0",
            "shapes": "m×n → m×n", "params": {"p": "real exponent (the double given)"},
            "vjp": "p = 0: dA = 0·G; p = 1: dA = G; otherwise dA = G ⊙ (p·A^(p−1))"},
    "square": {"formula": "Y = A·A element-wise", "shapes": "m×n → m×n",
               "vjp": "dA = G ⊙ (2·A)"},
    "tanh": {"formula": "Y = tanh A element-wise", "shapes": "m×n → m×n",
             "vjp": "dA = G − G ⊙ (Y ⊙ Y)"},
    "sigmoid": {"formula": "Y = σ(A) = 1/(1 + e^−A) element-wise, computed stably: 1/(1 + "
                           "e^−x) for x ≥ 0 and e^x/(1 + e^x) for x < 0",
                "shapes": "m×n → m×n", "vjp": "dA = G ⊙ (Y − Y ⊙ Y)"},
    "softplus": {"formula": "Y = ln(1 + e^A) element-wise, computed as max(x, 0) + "
                            "log1p(e^−|x|)",
                 "shapes": "m×n → m×n", "vjp": "dA = G ⊙ σ(A)"},
    "sin": {"formula": "Y = sin A element-wise (radians)", "shapes": "m×n → m×n",
            "vjp": "dA = G ⊙ cos(A)"},
    "cos": {"formula": "Y = cos A element-wise (radians)", "shapes": "m×n → m×n",
            "vjp": "dA = −(G ⊙ sin(A))"},
    "step": {"formula": "Y = 1 where A > 0, else 0 (step(+0) = step(−0) = +0)",
             "shapes": "m×n → m×n", "kinks": "the derivative is taken as 0 everywhere",
             "vjp": "dA = 0·G (so −0 where G < 0)"},
    "relu": {"formula": "Y = A where A > 0, else 0·A (a zero carrying A's sign: relu(−3) = −0, "
                        "relu(−0) = −0, relu(+0) = +0)",
             "shapes": "m×n → m×n", "kinks": "relu′(0) = 0 (step(0) = 0)",
             "vjp": "dA = G ⊙ step(A)"},
    "leaky_relu": {"formula": "Y = A where A > 0, slope·A elsewhere; computed as relu(A) − "
                              "slope·relu(−A)",
                   "shapes": "m×n → m×n", "params": {"slope": "real slope for A ≤ 0"},
                   "kinks": "the derivative at 0 is slope",
                   "vjp": "dA = slope·G + (1 − slope)·(G ⊙ step(A)), with 1 − slope rounded "
                          "to a double"},
    "clip": {"formula": "Y = min(max(A, lo), hi) element-wise; lo ≤ hi (lo = hi allowed); "
                        "max and min return A itself on a tie (clip(−0, 0, 1) = −0)",
             "shapes": "m×n → m×n",
             "params": {"lo": "real lower bound", "hi": "real upper bound (≥ lo)"},
             "kinks": "the derivative is 1 strictly inside (lo, hi) and 0 elsewhere, at lo "
                      "and hi included",
             "vjp": "dA = G ⊙ (step(A + (−lo)) ⊙ step(−(A + (−hi))))"},
    "softmax_rows": {"formula": "Y[i,j] = e^A[i,j] / Σ_k e^A[i,k], each row on its own; "
                                "computed with the row maximum M subtracted first: "
                                "e^(A[i,j]−M) / Σ_k e^(A[i,k]−M)",
                     "shapes": "m×n → m×n",
                     "vjp": "dA = G ⊙ Y − Y ⊙ broadcast(sum_cols(G ⊙ Y))"},
    "log_softmax_rows": {"formula": "Y[i,j] = A[i,j] − ln Σ_k e^A[i,k], each row on its own; "
                                    "computed as (A[i,j] − M) − ln Σ_k e^(A[i,k]−M) with M "
                                    "the row maximum",
                         "shapes": "m×n → m×n",
                         "vjp": "dA = G − e^Y ⊙ broadcast(sum_cols(G))"},
}

#: Parameter value classes beyond those each op is proven on (``spec.cases``): negative,
#: fractional, large exponents; constants that need rounding; equal and unusual bounds.
_EXTRA_CLASSES: dict[str, tuple[tuple[Any, ...], ...]] = {
    "pow": ((Fraction(-5, 2),), (7,), (Fraction(3, 2),)),
    "scale": ((Fraction(1, 10),), (Fraction(-7, 3),), (1000,)),
    "add_scalar": ((Fraction(1, 10),), (Fraction(-1, 3),)),
    "clip": ((Fraction(1, 4), Fraction(1, 4)), (Fraction(-3, 2), Fraction(-1, 2)),
             (Fraction(-1, 10), Fraction(7, 10))),
    "leaky_relu": ((Fraction(3, 10),), (1,)),
}


def _class_key(spec: OpSpec, shapes: tuple[tuple[int, int], ...], params: tuple[Any, ...]
               ) -> Any:
    """The parameter class of a case: its parameters, or for the integer (shape) parameters
    the structure they select."""
    if spec.name == "broadcast":
        (a, b), = shapes
        m, n = params
        return (a == 1, b == 1, (a, b) == (m, n))
    if spec.name == "slice_cols":
        (_, n), = shapes
        j1, j2 = params
        return (j1 == 1, j2 == n, j1 == j2)
    return tuple(params)


def param_classes(spec: OpSpec) -> list[list[tuple[tuple[tuple[int, int], ...], tuple[Any, ...]]]]:
    """The op's cases (up to 3×3) grouped by parameter class, in a fixed order."""
    groups: dict[Any, list[Any]] = {}
    all_cases = [(tuple(s), tuple(p)) for s, p in spec.cases(3)]
    for shapes, params in all_cases:
        groups.setdefault(_class_key(spec, shapes, params), []).append((shapes, params))
    base_shapes = sorted({s for s, _ in all_cases})
    for extra in _EXTRA_CLASSES.get(spec.name, ()):
        groups[extra] = [(s, extra) for s in base_shapes]
    return list(groups.values())


def _num(x: float) -> dict[str, str]:
    return {"decimal": repr(x), "hex": x.hex()}


def _matrix(shape: tuple[int, int], values: Iterable[float]) -> dict[str, Any]:
    vals = list(values)
    return {
        "rows": shape[0],
        "cols": shape[1],
        "decimal": [repr(v) for v in vals],
        "hex": [v.hex() for v in vals],
    }


def _tolerance(x: Any) -> float:
    """An mpmath allowance as a double, rounded up (never tighter than the bound)."""
    t = ex.round_float(x)
    return t if mpmath.mpf(t) >= x else math.nextafter(t, math.inf)


def _is_integer_kind(op: str, name: str) -> bool:
    declared = getattr(registry[op], "int_params", None)  # OpSpec.int_params, where present
    if declared is not None and declared:
        return name in declared
    return (op, name) in INTEGER_PARAMS


def _as_received(op: str, names: tuple[str, ...], params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parameters as an implementation receives them: int (integer kind) or the nearest
    double (real kind)."""
    out: list[Any] = []
    for name, p in zip(names, params, strict=True):
        if _is_integer_kind(op, name):
            q = Fraction(p)
            if q.denominator != 1:
                raise ValueError(f"{op}: integer parameter {name} = {p} is not an integer")
            out.append(int(q))
        else:
            out.append(float(Fraction(p)))
    return tuple(out)


def _param(op: str, name: str, p: Any, received: Any) -> dict[str, Any]:
    exact = Fraction(p)
    text = str(exact) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"
    f = float(received)
    integer = _is_integer_kind(op, name)
    return {"name": name, "kind": "integer" if integer else "real", "exact": text,
            "decimal": repr(f), "hex": f.hex(), "integer": integer}


def _draw(rng: random.Random, dom: InputDomain) -> float:
    while True:
        x = rng.uniform(dom.lo, dom.hi)
        if rng.random() < 0.5:
            x = float(f"{x:.3g}")  # some short decimals, exact cases of rounding included
        if dom.contains(x):
            return x


def _specials(dom: InputDomain, index: int) -> list[float]:
    """Designed inputs for the case with this index (≥ 1), in turn: ±0 and large
    magnitudes; tiny normal and large magnitudes; subnormals. Those an op cannot take (a
    value outside its domain, an overflowing result) are rejected when the case is
    computed."""
    big = 1000 * max(abs(dom.lo), abs(dom.hi))
    pools = (
        [5e-324, -5e-324, 1e-310, -1e-310, -(2.0**-1022) / 3],
        [0.0, -0.0, big, -big, 1e150, -1e150],
        [2.0**-1022, -(2.0**-1022), 1e-300, -1e-300, 3e-9, -3e-9, big, -big],
    )
    vals = pools[index % 3]
    if dom.lo > 0:
        vals = [v for v in vals if v > 0]
    return vals


def _digits(values: Iterable[float]) -> int:
    """Working precision for a case: :data:`ex.DPS` digits plus the decimal span of the
    nonzero magnitudes involved, so a sum of 10¹⁵⁰, 3 and −10¹⁵⁰ (or of 1, 10⁻³⁰⁰ and −1)
    is still exact where it cancels."""
    mags = [abs(v) for v in values if v != 0 and math.isfinite(v)]
    if not mags:
        return ex.DPS
    span = math.log10(max(mags)) - math.log10(min(mags))
    return ex.DPS + math.ceil(max(span, 0.0)) + 10


def _sympy_forward(
    spec: OpSpec, xs: tuple[Matrix[Any], ...], fparams: tuple[Any, ...], dps: int
) -> Any:
    """The op's SymPy specification at the same inputs, evaluated at ``dps`` digits."""
    import sympy

    sxs = [sympy.Matrix(x.shape[0], x.shape[1], [sympy.Rational(Fraction(v)) for v in x.data])
           for x in xs]
    sps = [p if type(p) is int else sympy.Rational(Fraction(p)) for p in fparams]
    out = spec.spec(*sxs, *sps)
    return [sympy.N(v, dps) for v in out]


def _signed(expected: list[float], floats: Iterable[Any]) -> list[float]:
    """Expected values whose zeros carry the sign of the reference's float kernel (mpmath
    has no signed zero)."""
    out = []
    for e, f in zip(expected, floats, strict=True):
        f = float(f)
        if e == 0 and f == 0:
            e = math.copysign(0.0, f)
        out.append(e)
    return out


def _has_subnormal(values: Iterable[float]) -> bool:
    return any(0 < abs(v) < _MIN_NORMAL for v in values)


def compute_case(
    spec: OpSpec,
    shapes: tuple[tuple[int, int], ...],
    params: tuple[Any, ...],
    inputs: list[list[float]],
    cotangent: list[float],
    *,
    verify: bool = True,
) -> dict[str, Any]:
    """One case of vectors: expected output and VJPs with their tolerances.

    Raises ``ArithmeticError``/``ValueError`` (``DomainError`` included) when the case is
    outside what the op defines in float64 (a zero divisor, a result beyond the double range).
    """
    xs = tuple(Matrix.from_flat(s[0], s[1], d) for s, d in zip(shapes, inputs, strict=True))
    fparams = _as_received(spec.name, spec.params, params)
    g = Matrix.from_flat(*spec.shape(*shapes, *fparams), cotangent)
    # the reference's own float64 kernel and VJP: the sign of every expected zero
    y_f = spec.forward(*xs, *fparams)
    cts_f = spec.vjp(g, y_f, xs, fparams)
    dps = _digits([*(v for x in inputs for v in x), *cotangent,
                   *(p for p in fparams if p != 0)])
    with mpmath.workdps(dps):
        xs_mp = tuple(ex.to_mp(x) for x in xs)
        y_mp = ex.exact_forward(spec, xs_mp, fparams)
        if verify:
            ref = _sympy_forward(spec, xs, fparams, dps)
            for a, b in zip(y_mp.data, ref, strict=True):
                if abs(a - mpmath.mpf(str(b))) > mpmath.mpf(10) ** -40 * max(1, abs(a)):
                    raise AssertionError(
                        f"{spec.name}: kernel {a} and SymPy specification {b} disagree"
                    )
        _, allow = ex.forward_scale_and_allowance(spec, xs_mp, y_mp, fparams)
        g_mp = ex.to_mp(g)
        cts = ex.exact_vjp(spec, g_mp, y_mp, xs_mp, fparams)
        vallow = ex.vjp_allowance(spec, g_mp, y_mp, xs_mp, fparams)
        y = _signed([ex.round_float(v) for v in y_mp.data], y_f.data)
        vjps = [_signed([ex.round_float(v) for v in c.data], cf.data)
                for c, cf in zip(cts, cts_f, strict=True)]
        out_tol = [_tolerance(a) for a in allow]
        vjp_tol = [[_tolerance(a) for a in al] for _, al in vallow]
    for v in (*y, *(v for c in vjps for v in c), *out_tol, *(t for c in vjp_tol for t in c)):
        if not math.isfinite(v):
            raise OverflowError(f"{spec.name}: a value beyond the double range")
    subnormal = _has_subnormal([*(v for x in inputs for v in x), *cotangent, *y,
                                *(v for c in vjps for v in c)])
    return {
        "params": [_param(spec.name, n, p, fp)
                   for n, p, fp in zip(spec.params, params, fparams, strict=True)],
        "subnormal": subnormal,
        "inputs": [_matrix(x.shape, x.data) for x in xs],
        "cotangent": _matrix(g.shape, g.data),
        "output": _matrix(y_mp.shape, y),
        "output_tolerance": _matrix(y_mp.shape, out_tol),
        "vjp": [_matrix(c.shape, v) for c, v in zip(cts, vjps, strict=True)],
        "vjp_tolerance": [_matrix(c.shape, t) for c, t in zip(cts, vjp_tol, strict=True)],
    }


def _designed_case(
    spec: OpSpec, shapes: tuple[tuple[int, int], ...], params: tuple[Any, ...],
    rng: random.Random, index: int,
) -> dict[str, Any]:
    """A case with random inputs in the op's domain; from the second case on, a few entries
    are designed values (±0, subnormal, tiny, large), kept only where the op defines a
    finite result."""
    fparams = _as_received(spec.name, spec.params, params)
    om, on = spec.shape(*shapes, *fparams)
    attempts = 24 if index > 0 else 0
    for attempt in range(attempts + 1):
        inputs = [[_draw(rng, dom) for _ in range(m * n)]
                  for (m, n), dom in zip(shapes, spec.domains, strict=True)]
        cot = [_draw(rng, _COTANGENT) for _ in range(om * on)]
        if attempt < attempts:
            for x, dom in zip(inputs, spec.domains, strict=True):
                pool = _specials(dom, index)
                for _ in range(min(2, len(x))):
                    x[rng.randrange(len(x))] = pool[rng.randrange(len(pool))]
            if rng.random() < 0.3:
                cot[rng.randrange(len(cot))] = rng.choice((0.0, -0.0))
        try:
            return compute_case(spec, shapes, params, inputs, cot)
        except (ArithmeticError, ValueError):
            continue
    raise AssertionError(f"{spec.name}: no valid case in the op's test domain")  # pragma: no cover


def op_vectors(spec: OpSpec, *, seed: int = 0, cases: int = 4) -> dict[str, Any]:
    """The vector document of one op (a JSON-ready dict): ``max(cases, classes)`` cases, the
    first of each parameter class (alternately its smallest and its largest shape), then
    random ones."""
    rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.name.encode()))
    classes = param_classes(spec)
    total = max(cases, len(classes), 1)
    docs = []
    for i in range(total):
        if i < len(classes):
            group = classes[i]
            shapes, params = group[0] if i % 2 == 0 else group[-1]
        else:
            shapes, params = rng.choice(rng.choice(classes))
        docs.append(_designed_case(spec, shapes, params, rng, i))
    b = spec.bound
    d = DEFINITIONS[spec.name]
    return {
        "format": FORMAT,
        "version": VERSION,
        "op": spec.name,
        "arity": spec.arity,
        "param_names": list(spec.params),
        "param_kinds": ["integer" if _is_integer_kind(spec.name, n) else "real"
                        for n in spec.params],
        "scalar_first": spec.scalar_first,
        "definition": {
            "formula": d["formula"],
            "shapes": d["shapes"],
            "params": d.get("params", {}),
            "kinks": d.get("kinks", "none: the op is smooth where defined"),
            "vjp": d["vjp"],
            "indexing": "entries are 1-based [row, column]; matrices are stored row-major",
        },
        "bound": {"ulps": b.ulps, "reduction": b.reduction, "vjp_ulps": b.vjp_ulps},
        "policy": POLICY,
        "digits": ex.DPS,
        "seed": seed,
        "doc": " ".join(spec.doc.split()),
        "cases": docs,
    }


def _write_json(path: str, doc: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def export_vectors(
    directory: str | os.PathLike[str],
    *,
    seed: int = 0,
    cases: int = 4,
    ops: Iterable[str] | None = None,
    traces: bool = True,
) -> list[str]:
    """Write ``<op>.json`` for every registry op (or those named), ``index.json`` and (with
    ``traces``) ``traces/<name>.json`` into ``directory``; return the paths written."""
    names = list(registry) if ops is None else list(ops)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown op(s): {', '.join(unknown)}")
    if cases < 1:
        raise ValueError(f"--cases must be at least 1, got {cases}")
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name in names:
        path = os.path.join(directory, f"{name}.json")
        _write_json(path, op_vectors(registry[name], seed=seed, cases=cases))
        paths.append(path)
    trace_names: list[str] = []
    if traces:
        from refnn.conformance.traces import TRACE_NAMES, export_traces

        paths += export_traces(os.path.join(directory, "traces"))
        trace_names = list(TRACE_NAMES)
    index = {"format": FORMAT, "version": VERSION, "seed": seed, "ops": names,
             "traces": trace_names}
    index_path = os.path.join(directory, "index.json")
    _write_json(index_path, index)
    paths.append(index_path)
    return paths

