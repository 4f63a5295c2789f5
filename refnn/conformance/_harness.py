"""``conform(backend)``: hold a backend against the reference, op by op, gradient by gradient.

For every registry op (or those named), Hypothesis draws a case from ``spec.cases(3)``
(shapes and parameters), input entries from the op's ``spec.domains`` (plus a few
large-magnitude *stress* values beyond the domain, kept only where the reference value is
a finite double: ``sigmoid(-800)``, ``softmax_rows`` of entries ±3000, …) and an output
cotangent. It compares the backend's forward and VJP (its own ``vjps`` if it has them,
otherwise refnn's registry VJP run on the backend's values through :func:`refnn.vjp`) with
the reference computed at 60 digits (:mod:`refnn.conformance._exact`). On the first
violation of the op's stated bound Hypothesis shrinks the example, so the report shows a
*minimal counterexample*: the smallest shapes and simplest numbers that still fail.
"""

from __future__ import annotations

import json
import math
import random
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import hypothesis
import hypothesis.strategies as st
import mpmath
from hypothesis import HealthCheck, Phase, settings

from refnn.autodiff import vjp as refnn_vjp
from refnn.backends import load, missing_ops
from refnn.conformance import _exact as ex
from refnn.matrix import Matrix
from refnn.ops import InputDomain, OpSpec, apply, registry

__all__ = ["Counterexample", "OpResult", "Report", "conform", "stress_values"]

_STRESS_SCALES = (10, 100, 1000)
_COTANGENT = InputDomain(lo=-2.0, hi=2.0)


@dataclass
class Counterexample:
    """One failing call: what went in, what was expected, what came out."""

    kind: str  # "forward", "vjp", "error" (an exception), "shape", "missing"
    message: str
    params: list[str] = field(default_factory=list)
    inputs: list[list[list[float]]] = field(default_factory=list)
    cotangent: list[list[float]] | None = None
    expected: list[list[float]] | None = None
    got: list[list[float]] | None = None
    argument: int | None = None  # for a VJP: which input's cotangent (1-based)
    entry: tuple[int, int] | None = None  # the worst entry, 1-based
    error_ulps: float | None = None
    allowed: float | None = None

    def format(self) -> str:
        lines = [f"  {self.kind}: {self.message}"]
        if self.params:
            lines.append(f"    params:    {', '.join(self.params)}")
        for k, x in enumerate(self.inputs, start=1):
            lines.append(f"    input {k}:   {x!r}")
        if self.cotangent is not None:
            lines.append(f"    cotangent: {self.cotangent!r}")
        if self.expected is not None:
            what = "expected" if self.argument is None else f"expected ∂/∂input{self.argument}"
            lines.append(f"    {what}: {self.expected!r}")
        if self.got is not None:
            lines.append(f"    got:       {self.got!r}")
        if self.entry is not None:
            lines.append(
                f"    worst entry [{self.entry[0]}, {self.entry[1]}]: error "
                f"{self.error_ulps:.3g} ULP, allowed {self.allowed:.3g} (absolute)"
            )
        return "\n".join(lines)


@dataclass
class OpResult:
    """The verdict on one op."""

    op: str
    examples: int
    forward_ulps: float
    vjp_ulps: float
    fraction_of_bound: float
    bound: str
    passed: bool
    seconds: float
    counterexample: Counterexample | None = None


@dataclass
class Report:
    """The verdict on a backend: one :class:`OpResult` per op."""

    backend: str
    seed: int
    examples: int
    results: list[OpResult]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed_ops(self) -> list[str]:
        return [r.op for r in self.results if not r.passed]

    def result(self, op: str) -> OpResult:
        for r in self.results:
            if r.op == op:
                return r
        raise KeyError(op)

    def format(self) -> str:
        head = ("op", "examples", "fwd max ULP", "vjp max ULP", "of bound", "bound", "verdict")
        rows = [
            (
                r.op,
                str(r.examples),
                _fmt_num(r.forward_ulps),
                _fmt_num(r.vjp_ulps),
                f"{100 * r.fraction_of_bound:.0f}%" if math.isfinite(r.fraction_of_bound) else "∞",
                r.bound,
                "pass" if r.passed else "FAIL",
            )
            for r in self.results
        ]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        out = [f"conformance of backend {self.backend!r} (seed {self.seed}, "
               f"up to {self.examples} examples per op)", ""]
        out.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        out.append("  ".join("-" * w for w in widths))
        out.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
        failures = [r for r in self.results if not r.passed]
        out.append("")
        out.append(
            f"{len(self.results) - len(failures)} passed, {len(failures)} failed "
            f"in {self.seconds:.1f} s"
        )
        for r in failures:
            out.append("")
            out.append(f"{r.op}: minimal counterexample")
            if r.counterexample is not None:
                out.append(r.counterexample.format())
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        d["failed_ops"] = self.failed_ops
        return _jsonable(d)  # type: ignore[no-any-return]

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2)
            f.write("\n")


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _fmt_num(x: float) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else "nan"
    return f"{x:.3g}"


def bound_text(spec: OpSpec) -> str:
    """The op's stated bound in words, e.g. ``2 ulp (+γₙΣ|t|); vjp 8 ulp``."""
    b = spec.bound
    red = " +γₙΣ|t|" if b.reduction else ""
    return f"{b.ulps:g} ulp{red}; vjp {b.vjp_ulps:g} ulp"


def stress_values(dom: InputDomain) -> tuple[float, ...]:
    """Large-magnitude values beyond the domain (toward 0 for a positive domain)."""
    vals: list[float] = []
    for s in _STRESS_SCALES:
        vals.append(dom.lo / s if dom.lo > 0 else dom.lo * s)
        vals.append(dom.hi / s if dom.hi < 0 else dom.hi * s)
    return tuple(v for v in vals if v != 0 and all(abs(v - a) >= dom.margin for a in dom.avoid))


def _entries(dom: InputDomain, stress: bool) -> st.SearchStrategy[float]:
    base = st.floats(dom.lo, dom.hi, allow_nan=False, allow_infinity=False)
    if dom.avoid:
        base = base.filter(dom.contains)
    if not stress:
        return base
    extra = stress_values(dom)
    return st.one_of(base, base, base, st.sampled_from(extra)) if extra else base


@dataclass(frozen=True)
class _Example:
    shapes: tuple[tuple[int, int], ...]
    params: tuple[Any, ...]
    inputs: tuple[tuple[float, ...], ...]
    cotangent: tuple[float, ...]


def _strategy(spec: OpSpec, stress: bool) -> st.SearchStrategy[_Example]:
    cases = list(spec.cases(3))

    @st.composite
    def example(draw: Any) -> _Example:
        shapes, params = draw(st.sampled_from(cases))
        inputs = tuple(
            tuple(draw(st.lists(_entries(dom, stress), min_size=m * n, max_size=m * n)))
            for (m, n), dom in zip(shapes, spec.domains, strict=True)
        )
        om, on = spec.shape(*shapes, *params)
        g = tuple(draw(st.lists(_entries(_COTANGENT, False), min_size=om * on,
                                max_size=om * on)))
        return _Example(tuple(shapes), tuple(params), inputs, g)

    return example()


def _mat(shape: tuple[int, int], data: Sequence[float]) -> Matrix[Any]:
    return Matrix.from_flat(shape[0], shape[1], data)


def _rows(A: Matrix[Any]) -> list[list[float]]:
    return [[float(x) for x in r] for r in A.rows()]


class _Invalid(Exception):
    """The example is outside what the reference defines (rejected, not a failure)."""


@dataclass
class _Outcome:
    fwd_ulps: float = 0.0
    vjp_ulps: float = 0.0
    fraction: float = 0.0
    failure: Counterexample | None = None


def _compare(
    got: Matrix[Any], expected_mp: Matrix[Any], scale: list[Any], allow: list[Any]
) -> tuple[float, float, int]:
    """(max error in ULPs of the scale, max fraction of allowance, index of the worst entry)."""
    worst_ulps, worst_frac, worst_k = 0.0, 0.0, 0
    for k, (gv, e, s, a) in enumerate(
        zip(got.data, expected_mp.data, scale, allow, strict=True)
    ):
        gf = float(gv)
        if not math.isfinite(gf):
            return math.inf, math.inf, k
        err = abs(mpmath.mpf(gf) - e)
        ulps = float(err / mpmath.mpf(math.ulp(ex.round_float(s))))
        frac = float(err / a) if a > 0 else (0.0 if err == 0 else math.inf)
        worst_ulps = max(worst_ulps, ulps)
        if frac > worst_frac:
            worst_frac, worst_k = frac, k
    return worst_ulps, worst_frac, worst_k


class _Checker:
    def __init__(self, backend: Any, spec: OpSpec) -> None:
        self.backend = backend
        self.spec = spec
        vjps = getattr(backend, "vjps", None) or {}
        self.own_vjp = vjps.get(spec.name)

    def _cx(self, ex_: _Example, kind: str, message: str, **kw: Any) -> Counterexample:
        return Counterexample(
            kind=kind,
            message=message,
            params=[f"{n}={p!r}" for n, p in zip(self.spec.params, ex_.params, strict=True)],
            inputs=[_rows(_mat(s, d)) for s, d in zip(ex_.shapes, ex_.inputs, strict=True)],
            cotangent=None,
            **kw,
        )

    def check(self, e: _Example) -> _Outcome:
        spec, be = self.spec, self.backend
        xs = tuple(_mat(s, d) for s, d in zip(e.shapes, e.inputs, strict=True))
        fparams = ex.float_params(e.params)
        with ex.precise():
            xs_mp = tuple(ex.to_mp(x) for x in xs)
            try:
                y_mp = ex.exact_forward(spec, xs_mp, fparams)
                y_ref = [ex.round_float(v) for v in y_mp.data]
            except (ArithmeticError, ValueError) as err:
                raise _Invalid(str(err)) from None
            scale, allow = ex.forward_scale_and_allowance(spec, xs_mp, y_mp, fparams)
        out = _Outcome()
        expected = _mat(y_mp.shape, y_ref)
        # ---------------------------------------------------------------- forward
        try:
            xs_b = tuple(be.from_matrix(x) for x in xs)
            y_b = be.kernels[spec.name](*xs_b, *e.params)
            y = be.to_matrix(y_b)
        except Exception as err:
            out.failure = self._cx(e, "error", f"the forward raised {type(err).__name__}: {err}",
                                   expected=_rows(expected))
            out.fraction = math.inf
            return out
        if y.shape != y_mp.shape:
            out.failure = self._cx(
                e, "shape", f"the forward returned shape {y.shape}, expected {y_mp.shape}",
                expected=_rows(expected), got=_rows(y))
            out.fraction = math.inf
            return out
        ulps, frac, k = _compare(y, y_mp, scale, allow)
        out.fwd_ulps, out.fraction = ulps, frac
        if not frac <= 1.0:
            n = y.shape[1]
            out.failure = self._cx(
                e, "forward", "the forward is outside the op's bound",
                expected=_rows(expected), got=_rows(y), entry=(k // n + 1, k % n + 1),
                error_ulps=ulps, allowed=float(allow[k]))
            return out
        # ---------------------------------------------------------------- VJP
        g = _mat(y_mp.shape, e.cotangent)
        with ex.precise():
            g_mp = ex.to_mp(g)
            cts_mp = ex.exact_vjp(spec, g_mp, y_mp, xs_mp, fparams)
            allows = ex.vjp_allowance(spec, g_mp, y_mp, xs_mp, fparams)
            cts_ref = [[ex.round_float(v) for v in c.data] for c in cts_mp]
        try:
            g_b = be.from_matrix(g)
            if self.own_vjp is not None:
                cts_b = self.own_vjp(g_b, y_b, xs_b, e.params)
            else:
                _, back = refnn_vjp(lambda *a: apply(spec, a, e.params), *xs_b)
                cts_b = back(g_b)
            cts = [be.to_matrix(c) for c in cts_b]
        except Exception as err:
            cx = self._cx(e, "error", f"the VJP raised {type(err).__name__}: {err}")
            cx.cotangent = _rows(g)
            out.failure, out.fraction = cx, math.inf
            return out
        for i, (c, c_mp, c_ref, (mg, al)) in enumerate(
            zip(cts, cts_mp, cts_ref, allows, strict=True), start=1
        ):
            exp_m = _mat(c_mp.shape, c_ref)
            if c.shape != c_mp.shape:
                cx = self._cx(e, "shape", f"the VJP for input {i} has shape {c.shape}, "
                              f"expected {c_mp.shape}", expected=_rows(exp_m), got=_rows(c),
                              argument=i)
                cx.cotangent = _rows(g)
                out.failure, out.fraction = cx, math.inf
                return out
            ulps, frac, k = _compare(c, c_mp, mg, al)
            out.vjp_ulps = max(out.vjp_ulps, ulps)
            out.fraction = max(out.fraction, frac)
            if not frac <= 1.0:
                n = c.shape[1]
                cx = self._cx(
                    e, "vjp", f"the VJP (cotangent of input {i}) is outside the op's bound",
                    expected=_rows(exp_m), got=_rows(c), argument=i,
                    entry=(k // n + 1, k % n + 1), error_ulps=ulps, allowed=float(al[k]))
                cx.cotangent = _rows(g)
                out.failure = cx
                return out
        return out


def _check_op(backend: Any, spec: OpSpec, examples: int, seed: int, stress: bool) -> OpResult:
    t0 = time.perf_counter()
    checker = _Checker(backend, spec)
    stats = {"n": 0, "fwd": 0.0, "vjp": 0.0, "frac": 0.0}
    found: list[Counterexample] = []
    failed = False

    def condition(e: _Example) -> bool:
        nonlocal failed
        try:
            o = checker.check(e)
        except _Invalid:
            hypothesis.reject()
        if not failed:
            stats["n"] += 1
        stats["fwd"] = max(stats["fwd"], o.fwd_ulps)
        stats["vjp"] = max(stats["vjp"], o.vjp_ulps)
        stats["frac"] = max(stats["frac"], o.fraction)
        if o.failure is not None:
            failed = True
            found.append(o.failure)
            return True
        return False

    rng = random.Random(seed ^ zlib.crc32(spec.name.encode()))
    cfg = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    cx: Counterexample | None = None
    try:
        minimal = hypothesis.find(_strategy(spec, stress), condition, settings=cfg, random=rng)
    except hypothesis.errors.NoSuchExample:
        pass
    else:
        # Re-run the minimal example so the report shows exactly its numbers.
        cx = checker.check(minimal).failure or (found[-1] if found else None)
    return OpResult(
        op=spec.name,
        examples=int(stats["n"]),
        forward_ulps=stats["fwd"],
        vjp_ulps=stats["vjp"],
        fraction_of_bound=stats["frac"],
        bound=bound_text(spec),
        passed=not failed,
        seconds=time.perf_counter() - t0,
        counterexample=cx,
    )


def conform(
    backend: Any,
    ops: Iterable[str] | None = None,
    examples: int = 10,
    seed: int = 0,
    *,
    stress: bool = True,
) -> Report:
    """Hold ``backend`` (a backend object or a :func:`refnn.backends.load` spec) against the
    reference on every registry op, or on those named in ``ops``.

    ``examples`` is the number of generated examples per op before a failure; ``seed``
    makes the run reproducible; ``stress`` adds large-magnitude values beyond each op's
    test domain wherever the reference value is a finite double.
    """
    t0 = time.perf_counter()
    be = load(backend)
    names = list(registry) if ops is None else list(ops)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown op(s) {', '.join(unknown)}; the registry has "
                         f"{', '.join(sorted(registry))}")
    missing = set(missing_ops(be))
    results: list[OpResult] = []
    for name in names:
        spec = registry[name]
        if name in missing:
            results.append(OpResult(
                op=name, examples=0, forward_ulps=math.nan, vjp_ulps=math.nan,
                fraction_of_bound=math.inf, bound=bound_text(spec), passed=False, seconds=0.0,
                counterexample=Counterexample(
                    kind="missing", message=f"the backend has no kernel for op {name!r}")))
            continue
        results.append(_check_op(be, spec, examples, seed, stress))
    return Report(
        backend=str(getattr(be, "name", be)),
        seed=seed,
        examples=examples,
        results=results,
        seconds=time.perf_counter() - t0,
    )
