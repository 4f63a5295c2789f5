"""Golden vectors: every registry op's outputs and VJPs on designed inputs, as JSON, so that a
backend in any language can be checked without Python (format: ``docs/vectors.md``), plus
whole training runs (:mod:`refnn.conformance.traces`) in ``traces/<name>.json``.

Values are computed at 60 significant digits with the reference kernels and VJPs on
``mpmath`` matrices, cross-checked against the op's independent SymPy specification
evaluated at 60 digits, then correctly rounded to float64. Every number is written both
as the shortest round-tripping decimal string and as a C99/Python hex float. Each
expected entry comes with the absolute tolerance a conforming backend must meet (the op's
stated bound, computed exactly as :func:`refnn.conformance.conform` does), rounded up.

The input and comparison policy is the one ``refnn conform`` uses, in the same words
(:data:`refnn.conformance.policy.POLICY_TEXT`), and is written into every file
(:data:`POLICY`): parameters reach an implementation as ``int`` (integer kind, from
``OpSpec.int_params``) or as the nearest double (real kind); ``subnormals`` strict or flush
(cases holding a subnormal are marked ``"subnormal": true``); ``signed_zero`` strict or
ignore, judged only in the outputs of files marked ``"zero_sign": "ieee"``
(:func:`refnn.conformance.policy.zero_sign_specified`, the predicate ``conform`` uses). An
expected zero carries the sign the reference's own float kernel gives it (mpmath has no
signed zero).
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
from refnn.conformance.policy import POLICY_TEXT, zero_sign
from refnn.matrix import Matrix
from refnn.ops import InputDomain, OpSpec, registry

__all__ = [
    "FORMAT",
    "POLICY",
    "VERSION",
    "compute_case",
    "definition",
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

#: How the vectors apply the policies of ``refnn conform``: the shared definitions
#: (:data:`refnn.conformance.policy.POLICY_TEXT`, one text for both tools) and what belongs
#: to the files alone, the parameters as received and the comparison.
POLICY: dict[str, Any] = {
    "parameters": 'a parameter of kind "integer" reaches an implementation as an integer '
    '(exact); one of kind "real" as the double written in decimal/hex (the '
    "nearest double to exact), never as a fraction",
    "subnormals": POLICY_TEXT["subnormals"],
    "signed_zero": POLICY_TEXT["signed_zero"],
    "compare": "for every entry |got - expected| <= tolerance; a non-finite got fails",
}

#: What each op means beyond the registry's ``formula`` and ``rule`` (which
#: :func:`definition` takes from :data:`refnn.ops.registry`), written for someone
#: implementing it from the vectors alone: ``shapes`` (with the orientation), ``params``,
#: ``kinks``, and ``formula``/``vjp`` notes (indexing, domain, how the reference computes it).
_EXTRAS: dict[str, dict[str, Any]] = {
    "add": {"shapes": "A m×n, B m×n → m×n"},
    "sub": {"shapes": "A m×n, B m×n → m×n"},
    "neg": {"shapes": "m×n → m×n", "formula": "exact"},
    "hadamard": {"shapes": "A m×n, B m×n → m×n"},
    "scale": {
        "shapes": "m×n → m×n; the public call is scale(c, A) (scalar_first), the files "
        "list the matrix input under inputs and c under params",
        "params": {"c": "real constant multiplying every entry"},
    },
    "add_scalar": {"shapes": "m×n → m×n", "params": {"c": "real constant added to every entry"}},
    "div": {"shapes": "A m×n, B m×n → m×n", "formula": "B[i,j] = 0 is outside the domain"},
    "matmul": {
        "shapes": "A m×k, B k×n → m×n",
        "formula": "y[i,j] = Σ_k A[i,k]·B[k,j], the matrix product",
    },
    "transpose": {"shapes": "m×n → n×m", "formula": "y[i,j] = A[j,i]"},
    "broadcast": {
        "shapes": "A 1×1, 1×n, m×1 or m×n → m×n (a 1×n row repeats down, an m×1 "
        "column repeats across)",
        "formula": "y[i,j] = A[i′,j′] with i′ = 1 if A has one row else i, and "
        "j′ = 1 if A has one column else j",
        "params": {"m": "integer: rows of the result", "n": "integer: columns of the result"},
        "vjp": "A already m×n: dA = g; A 1×1: sum(g); A 1×n: sum_rows(g); A m×1: sum_cols(g)",
    },
    "add_row": {"shapes": "A m×n, B 1×n → m×n", "formula": "y[i,j] = A[i,j] + B[1,j]"},
    "concat_cols": {
        "shapes": "A m×n1, B m×n2 → m×(n1+n2)",
        "formula": "y[i,j] = A[i,j] for j ≤ n1, B[i,j−n1] for j > n1",
        "vjp": "dA = columns 1..n1 of g; dB = columns n1+1..n1+n2 of g",
    },
    "slice_cols": {
        "shapes": "m×n → m×(j2−j1+1)",
        "formula": "y[i,j] = A[i, j1+j−1]: 1-based and inclusive (1 ≤ j1 ≤ j2 ≤ n)",
        "params": {
            "j1": "integer: first column kept (1-based)",
            "j2": "integer: last column kept (1-based, inclusive)",
        },
        "vjp": "an m×n matrix",
    },
    "sum": {"shapes": "m×n → 1×1"},
    "sum_rows": {
        "shapes": "m×n → 1×n",
        "formula": "the sum of the rows; a 1×n input is returned unchanged",
        "vjp": "dA[i,j] = g[1,j]",
    },
    "sum_cols": {
        "shapes": "m×n → m×1",
        "formula": "the sum of the columns; an m×1 input is returned unchanged",
        "vjp": "dA[i,j] = g[i,1]",
    },
    "mean": {
        "shapes": "m×n → 1×1",
        "formula": "the sum as for sum, then one division",
        "vjp": "computed as c·g with c the double nearest 1/(mn)",
    },
    "exp": {"shapes": "m×n → m×n", "formula": "element-wise"},
    "log": {"shapes": "m×n → m×n", "formula": "natural logarithm, element-wise; A > 0"},
    "sqrt": {
        "shapes": "m×n → m×n",
        "formula": "element-wise, correctly rounded; A ≥ 0, and A > 0 for the VJP",
    },
    "pow": {
        "shapes": "m×n → m×n",
        "formula": "element-wise for a real constant p; A < 0 needs an integer p, A = 0 "
        "needs p ≥ 0",
        "params": {"p": "real exponent (the double given)"},
        "vjp": "p = 0: 0·g; p = 1: g",
    },
    "square": {"shapes": "m×n → m×n", "formula": "A ⊙ A"},
    "tanh": {"shapes": "m×n → m×n", "formula": "element-wise"},
    "sigmoid": {
        "shapes": "m×n → m×n",
        "formula": "element-wise, computed stably: 1/(1 + e^−x) for x ≥ 0 and "
        "e^x/(1 + e^x) for x < 0",
    },
    "softplus": {
        "shapes": "m×n → m×n",
        "formula": "natural logarithm, element-wise, computed as max(x, 0) + log1p(e^−|x|)",
    },
    "sin": {"shapes": "m×n → m×n", "formula": "element-wise, radians"},
    "cos": {"shapes": "m×n → m×n", "formula": "element-wise, radians"},
    "step": {
        "shapes": "m×n → m×n",
        "formula": "step(+0) = step(−0) = 0",
        "kinks": "the derivative is taken as 0 everywhere",
    },
    "relu": {"shapes": "m×n → m×n", "kinks": "relu′(0) = 0 (step(0) = 0)"},
    "leaky_relu": {
        "shapes": "m×n → m×n",
        "params": {"slope": "real slope for A ≤ 0"},
        "formula": "computed as relu(A) − slope·relu(−A)",
        "kinks": "the derivative at 0 is slope",
        "vjp": "1 − slope rounded to a double",
    },
    "clip": {
        "shapes": "m×n → m×n",
        "formula": "element-wise; lo ≤ hi (lo = hi allowed)",
        "params": {"lo": "real lower bound", "hi": "real upper bound (≥ lo)"},
        "kinks": "the derivative is 1 strictly inside (lo, hi) and 0 elsewhere, at lo "
        "and hi included",
    },
    "softmax_rows": {
        "shapes": "m×n → m×n",
        "formula": "computed with the row maximum M subtracted first: "
        "e^(A[i,j]−M) / Σ_k e^(A[i,k]−M)",
    },
    "log_softmax_rows": {
        "shapes": "m×n → m×n",
        "formula": "computed as (A[i,j] − M) − log Σ_k e^(A[i,k]−M) with M the row maximum",
    },
}

_INDEXING = "entries are 1-based [row, column]; matrices are stored row-major"


def _with_note(text: str, note: str | None) -> str:
    return text if note is None else f"{text}; {note}"


def definition(spec: OpSpec) -> dict[str, Any]:
    """What ``spec`` means, as its vector file states it: the registry's formula and VJP
    rule (``y`` the output, ``g`` its cotangent, ``dA``/``dB`` the inputs' cotangents) with
    the vector-specific notes, shapes, parameters, kinks and zero-sign convention."""
    extra = _EXTRAS[spec.name]
    formula = spec.formula if spec.formula.startswith("y") else f"y = {spec.formula}"
    names = ("dA", "dB")[: spec.arity]
    lhs = names[0] if spec.arity == 1 else f"({', '.join(names)})"
    return {
        "formula": _with_note(formula, extra.get("formula")),
        "shapes": extra["shapes"],
        "params": extra.get("params", {}),
        "kinks": extra.get("kinks", "none: the op is smooth where defined"),
        "vjp": _with_note(f"{lhs} = {spec.rule}", extra.get("vjp")),
        "indexing": _INDEXING,
    }


#: Parameter value classes beyond those each op is proven on (``spec.cases``): negative,
#: fractional, large exponents; constants that need rounding; equal and unusual bounds.
_EXTRA_CLASSES: dict[str, tuple[tuple[Any, ...], ...]] = {
    "pow": ((Fraction(-5, 2),), (7,), (Fraction(3, 2),)),
    "scale": ((Fraction(1, 10),), (Fraction(-7, 3),), (1000,)),
    "add_scalar": ((Fraction(1, 10),), (Fraction(-1, 3),)),
    "clip": (
        (Fraction(1, 4), Fraction(1, 4)),
        (Fraction(-3, 2), Fraction(-1, 2)),
        (Fraction(-1, 10), Fraction(7, 10)),
    ),
    "leaky_relu": ((Fraction(3, 10),), (1,)),
}


def _class_key(spec: OpSpec, shapes: tuple[tuple[int, int], ...], params: tuple[Any, ...]) -> Any:
    """The parameter class of a case: its parameters, or for the integer (shape) parameters
    the structure they select."""
    if spec.name == "broadcast":
        ((a, b),) = shapes
        m, n = params
        return (a == 1, b == 1, (a, b) == (m, n))
    if spec.name == "slice_cols":
        ((_, n),) = shapes
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
    return registry[op].param_kind(name) == "int"


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
    return {
        "name": name,
        "kind": "integer" if integer else "real",
        "exact": text,
        "decimal": repr(f),
        "hex": f.hex(),
        "integer": integer,
    }


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

    sxs = [
        sympy.Matrix(x.shape[0], x.shape[1], [sympy.Rational(Fraction(v)) for v in x.data])
        for x in xs
    ]
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
    dps = _digits([*(v for x in inputs for v in x), *cotangent, *(p for p in fparams if p != 0)])
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
        vjps = [
            _signed([ex.round_float(v) for v in c.data], cf.data)
            for c, cf in zip(cts, cts_f, strict=True)
        ]
        out_tol = [_tolerance(a) for a in allow]
        vjp_tol = [[_tolerance(a) for a in al] for _, al in vallow]
    for v in (*y, *(v for c in vjps for v in c), *out_tol, *(t for c in vjp_tol for t in c)):
        if not math.isfinite(v):
            raise OverflowError(f"{spec.name}: a value beyond the double range")
    subnormal = _has_subnormal(
        [*(v for x in inputs for v in x), *cotangent, *y, *(v for c in vjps for v in c)]
    )
    return {
        "params": [
            _param(spec.name, n, p, fp)
            for n, p, fp in zip(spec.params, params, fparams, strict=True)
        ],
        "subnormal": subnormal,
        "inputs": [_matrix(x.shape, x.data) for x in xs],
        "cotangent": _matrix(g.shape, g.data),
        "output": _matrix(y_mp.shape, y),
        "output_tolerance": _matrix(y_mp.shape, out_tol),
        "vjp": [_matrix(c.shape, v) for c, v in zip(cts, vjps, strict=True)],
        "vjp_tolerance": [_matrix(c.shape, t) for c, t in zip(cts, vjp_tol, strict=True)],
    }


def _designed_case(
    spec: OpSpec,
    shapes: tuple[tuple[int, int], ...],
    params: tuple[Any, ...],
    rng: random.Random,
    index: int,
) -> dict[str, Any]:
    """A case with random inputs in the op's domain; from the second case on, a few entries
    are designed values (±0, subnormal, tiny, large), kept only where the op defines a
    finite result."""
    fparams = _as_received(spec.name, spec.params, params)
    om, on = spec.shape(*shapes, *fparams)
    attempts = 24 if index > 0 else 0
    for attempt in range(attempts + 1):
        inputs = [
            [_draw(rng, dom) for _ in range(m * n)]
            for (m, n), dom in zip(shapes, spec.domains, strict=True)
        ]
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
    return {
        "format": FORMAT,
        "version": VERSION,
        "op": spec.name,
        "arity": spec.arity,
        "param_names": list(spec.params),
        "param_kinds": [
            "integer" if _is_integer_kind(spec.name, n) else "real" for n in spec.params
        ],
        "scalar_first": spec.scalar_first,
        "definition": definition(spec),
        "zero_sign": zero_sign(spec),
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
    index = {
        "format": FORMAT,
        "version": VERSION,
        "seed": seed,
        "ops": names,
        "traces": trace_names,
    }
    index_path = os.path.join(directory, "index.json")
    _write_json(index_path, index)
    paths.append(index_path)
    return paths
