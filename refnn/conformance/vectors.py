"""Golden vectors: every registry op's outputs and VJPs on a few inputs, as JSON, so that a
backend in any language can be checked without Python (format: ``docs/vectors.md``).

Values are computed at 60 significant digits with the reference kernels and VJPs on
``mpmath`` matrices, cross-checked against the op's independent SymPy specification
evaluated at 60 digits, then correctly rounded to float64. Every number is written both
as the shortest round-tripping decimal string and as a C99/Python hex float. Each
expected entry comes with the absolute tolerance a conforming backend must meet (the op's
stated bound, computed exactly as :func:`refnn.conformance.conform` does), rounded up.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import mpmath

from refnn.conformance import _exact as ex
from refnn.matrix import Matrix
from refnn.ops import InputDomain, OpSpec, registry

__all__ = ["FORMAT", "VERSION", "compute_case", "export_vectors", "op_vectors"]

FORMAT = "refnn-golden-vectors"
VERSION = 1
_COTANGENT = InputDomain(lo=-2.0, hi=2.0)


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


def _param(name: str, p: Any, as_float: Any) -> dict[str, Any]:
    exact = Fraction(p) if not isinstance(p, Fraction) else p
    text = str(exact) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"
    f = float(as_float)
    return {"name": name, "exact": text, "decimal": repr(f), "hex": f.hex(),
            "integer": type(as_float) is int}


def _draw(rng: random.Random, dom: InputDomain) -> float:
    while True:
        x = rng.uniform(dom.lo, dom.hi)
        if rng.random() < 0.5:
            x = float(f"{x:.3g}")  # some short decimals, exact cases of rounding included
        if dom.contains(x):
            return x


def _sympy_forward(spec: OpSpec, xs: tuple[Matrix[Any], ...], fparams: tuple[Any, ...]) -> Any:
    """The op's SymPy specification at the same inputs, evaluated at 60 digits."""
    import sympy

    sxs = [sympy.Matrix(x.shape[0], x.shape[1], [sympy.Rational(Fraction(v)) for v in x.data])
           for x in xs]
    sps = [p if type(p) is int else sympy.Rational(Fraction(p)) for p in fparams]
    out = spec.spec(*sxs, *sps)
    return [sympy.N(v, ex.DPS) for v in out]


def compute_case(
    spec: OpSpec,
    shapes: tuple[tuple[int, int], ...],
    params: tuple[Any, ...],
    inputs: list[list[float]],
    cotangent: list[float],
    *,
    verify: bool = True,
) -> dict[str, Any]:
    """One case of vectors: expected output and VJPs with their tolerances."""
    xs = tuple(Matrix.from_flat(s[0], s[1], d) for s, d in zip(shapes, inputs, strict=True))
    fparams = ex.float_params(params)
    with ex.precise():
        xs_mp = tuple(ex.to_mp(x) for x in xs)
        y_mp = ex.exact_forward(spec, xs_mp, fparams)
        if verify:
            ref = _sympy_forward(spec, xs, fparams)
            for a, b in zip(y_mp.data, ref, strict=True):
                if abs(a - mpmath.mpf(str(b))) > mpmath.mpf(10) ** -40 * max(1, abs(a)):
                    raise AssertionError(
                        f"{spec.name}: kernel {a} and SymPy specification {b} disagree"
                    )
        _, allow = ex.forward_scale_and_allowance(spec, xs_mp, y_mp, fparams)
        g = Matrix.from_flat(y_mp.shape[0], y_mp.shape[1], cotangent)
        g_mp = ex.to_mp(g)
        cts = ex.exact_vjp(spec, g_mp, y_mp, xs_mp, fparams)
        vallow = ex.vjp_allowance(spec, g_mp, y_mp, xs_mp, fparams)
        return {
            "params": [_param(n, p, fp) for n, p, fp in zip(spec.params, params, fparams,
                                                            strict=True)],
            "inputs": [_matrix(x.shape, x.data) for x in xs],
            "cotangent": _matrix(g.shape, g.data),
            "output": _matrix(y_mp.shape, [ex.round_float(v) for v in y_mp.data]),
            "output_tolerance": _matrix(y_mp.shape, [_tolerance(a) for a in allow]),
            "vjp": [_matrix(c.shape, [ex.round_float(v) for v in c.data]) for c in cts],
            "vjp_tolerance": [
                _matrix(c.shape, [_tolerance(a) for a in al])
                for c, (_, al) in zip(cts, vallow, strict=True)
            ],
        }


def op_vectors(spec: OpSpec, *, seed: int = 0, cases: int = 4) -> dict[str, Any]:
    """The vector document of one op (a JSON-ready dict)."""
    import zlib

    rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.name.encode()))
    all_cases = list(spec.cases(3))
    picks = [all_cases[0], all_cases[-1]]
    while len(picks) < max(cases, 1):
        picks.append(rng.choice(all_cases))
    picks = picks[: max(cases, 1)]
    docs = []
    for shapes, params in picks:
        inputs = [[_draw(rng, dom) for _ in range(m * n)]
                  for (m, n), dom in zip(shapes, spec.domains, strict=True)]
        om, on = spec.shape(*shapes, *params)
        cot = [_draw(rng, _COTANGENT) for _ in range(om * on)]
        docs.append(compute_case(spec, tuple(shapes), tuple(params), inputs, cot))
    b = spec.bound
    return {
        "format": FORMAT,
        "version": VERSION,
        "op": spec.name,
        "arity": spec.arity,
        "param_names": list(spec.params),
        "scalar_first": spec.scalar_first,
        "bound": {"ulps": b.ulps, "reduction": b.reduction, "vjp_ulps": b.vjp_ulps},
        "digits": ex.DPS,
        "seed": seed,
        "doc": spec.doc.strip().splitlines()[0] if spec.doc.strip() else "",
        "cases": docs,
    }


def export_vectors(
    directory: str | os.PathLike[str],
    *,
    seed: int = 0,
    cases: int = 4,
    ops: Iterable[str] | None = None,
) -> list[str]:
    """Write ``<op>.json`` for every registry op (or those named) and ``index.json`` into
    ``directory``; return the paths written."""
    names = list(registry) if ops is None else list(ops)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown op(s): {', '.join(unknown)}")
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name in names:
        doc = op_vectors(registry[name], seed=seed, cases=cases)
        path = os.path.join(directory, f"{name}.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
        paths.append(path)
    index = {"format": FORMAT, "version": VERSION, "seed": seed, "ops": names}
    index_path = os.path.join(directory, "index.json")
    with open(index_path, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    paths.append(index_path)
    return paths
