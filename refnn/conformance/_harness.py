"""``conform(backend)``: hold a backend against the reference, op by op, gradient by gradient.

For every registry op (or those named) the harness draws ``examples`` calls
(:mod:`refnn.conformance._inputs`: seeded, the same in the CLI, the plugin and the API),
runs the backend's forward and VJP (its own ``vjps`` if it has them, otherwise refnn's
registry VJP on the backend's values through :func:`refnn.vjp`) and compares every entry
with the reference computed at 60 digits (:mod:`refnn.conformance._exact`) under the op's
stated bound. Every example runs, even after a failure, and the report gives for the
forward and the VJP separately:

* the examples run and the examples with a finding;
* the worst error, in ulps of the entry's scale (``|exact|``; for a reduction the sum of
  the magnitudes of its terms), with the bound in the same unit and the input that gave
  it; where the expected value is exactly 0 the error is absolute;
* the share of compared entries outside the bound;
* the *simplest* failing input: the first failing example, shrunk (smaller shapes, then
  shorter numbers) while it still fails the same way.

Then the special-value class (forward only, :mod:`refnn.conformance.policy`). Findings have
a kind: ``bound`` (outside the stated bound), ``subnormal`` (a subnormal input or expected
value is involved: see ``--subnormals flush``), ``signed-zero``, ``special``,
``nonfinite`` (inf or NaN where a finite value was expected), ``error`` (the backend
raised), ``shape`` and ``missing`` (no kernel).

Known deviations (:mod:`refnn.conformance.expect`) turn an op's findings into a *known*
verdict when each stays within what was declared; beyond that the op fails.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import mpmath

from refnn.autodiff import vjp as refnn_vjp
from refnn.backends import load, missing_ops
from refnn.conformance import _exact as ex
from refnn.conformance._inputs import (
    Example,
    ExampleSource,
    simpler,
    special_examples,
    stress_values,
)
from refnn.conformance.expect import Expectation
from refnn.conformance.policy import (
    SMALLEST_NORMAL,
    Policy,
    flush,
    is_subnormal,
    zero_sign_specified,
)
from refnn.errors import RefnnError
from refnn.matrix import Matrix
from refnn.ops import OpSpec, apply, registry

__all__ = [
    "Counterexample",
    "OpResult",
    "PartStats",
    "Report",
    "SpecialStats",
    "conform",
    "stress_values",
]

#: Under ``--subnormals flush``, scales below this are shown in absolute terms.
_FLUSH_ULPS_FLOOR = SMALLEST_NORMAL * 2.0**60

#: Checks spent shrinking one failing example (each costs one reference evaluation).
SHRINK_BUDGET = 120


# ====================================================================== report types
@dataclass
class Counterexample:
    """One failing call: what went in, what was expected, what came out."""

    kind: str
    message: str
    params: list[str] = field(default_factory=list)
    inputs: list[list[list[float]]] = field(default_factory=list)
    cotangent: list[list[float]] | None = None
    expected: list[list[float]] | None = None
    got: list[list[float]] | None = None
    argument: int | None = None  # for a VJP: which input's cotangent (1-based)
    entry: tuple[int, int] | None = None  # the worst entry, 1-based
    error_ulps: float | None = None  # in ulps of the entry's scale (None: absolute)
    allowed_ulps: float | None = None
    error_abs: float | None = None
    allowed: float | None = None  # the absolute allowance of that entry

    def error_text(self) -> str:
        """``3.36 ulp (bound 2)`` or ``abs 1.2e-17 (bound 4.9e-324)``."""
        return _err_text(self.error_ulps, self.allowed_ulps, self.error_abs, self.allowed)

    def format(self, indent: str = "    ") -> str:
        lines = [f"{indent}{self.kind}: {self.message}"]
        if self.params:
            lines.append(f"{indent}  params:    {', '.join(self.params)}")
        for k, x in enumerate(self.inputs, start=1):
            lines.append(f"{indent}  input {k}:   {_rows_text(x)}")
        if self.cotangent is not None:
            lines.append(f"{indent}  cotangent: {_rows_text(self.cotangent)}")
        if self.expected is not None:
            what = "expected" if self.argument is None else f"expected ∂/∂input{self.argument}"
            lines.append(f"{indent}  {what}: {_rows_text(self.expected)}")
        if self.got is not None:
            lines.append(f"{indent}  got:       {_rows_text(self.got)}")
        if self.entry is not None:
            lines.append(
                f"{indent}  entry [{self.entry[0]}, {self.entry[1]}]: error {self.error_text()}"
            )
        return "\n".join(lines)


@dataclass
class PartStats:
    """Statistics of one part (forward or VJP) of one op over every example."""

    examples: int = 0
    failed: int = 0
    entries: int = 0
    over: int = 0
    worst_ulps: float = 0.0  # the largest error in ulps of its scale (finite scales)
    worst_bound_ulps: float | None = None
    #: the largest error as a share of its entry's allowance (tightness; > 1 fails)
    worst_ratio: float = 0.0
    worst: Counterexample | None = None  # the input of worst_ulps (or of an abs failure)
    simplest: Counterexample | None = None  # the first failing example, shrunk
    kinds: dict[str, int] = field(default_factory=dict)
    #: the largest error in ulps among failing entries (inf when one is absolute/non-finite)
    fail_ulps: float = 0.0
    worst_key: tuple[int, float] = field(default=(0, -1.0), repr=False)

    @property
    def share_over(self) -> float:
        return self.over / self.entries if self.entries else 0.0

    def summary(self) -> str:
        if not self.examples:
            return "—"
        if self.worst is None:
            return "0 ulp"
        w = self.worst
        return w.error_text()


@dataclass
class SpecialStats:
    """The special-value class of one op."""

    checked: int = 0
    undefined: int = 0
    failed: int = 0
    first: Counterexample | None = None
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class OpResult:
    """The verdict on one op: ``status`` is ``pass``, ``known`` (every finding within a
    declared deviation) or ``FAIL``."""

    op: str
    bound: str
    status: str
    forward: PartStats
    vjp: PartStats
    special: SpecialStats
    seconds: float
    reason: str = ""  # the declared deviation's reason, or why it failed
    counterexample: Counterexample | None = None  # the simplest failing input of any part

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"

    @property
    def examples(self) -> int:
        return self.forward.examples

    @property
    def forward_ulps(self) -> float:
        return self.forward.worst_ulps

    @property
    def vjp_ulps(self) -> float:
        return self.vjp.worst_ulps


@dataclass
class Report:
    """The verdict on a backend: one :class:`OpResult` per op."""

    backend: str
    seed: int
    examples: int
    policy: Policy
    results: list[OpResult]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed_ops(self) -> list[str]:
        return [r.op for r in self.results if not r.passed]

    @property
    def known_ops(self) -> list[str]:
        return [r.op for r in self.results if r.status == "known"]

    def result(self, op: str) -> OpResult:
        for r in self.results:
            if r.op == op:
                return r
        raise KeyError(op)

    def format(self) -> str:
        head = (
            "op",
            "examples",
            "forward worst",
            "vjp worst",
            "over bound",
            "special",
            "bound",
            "verdict",
        )
        rows = []
        for r in self.results:
            over = max(r.forward.share_over, r.vjp.share_over)
            sp = r.special
            rows.append(
                (
                    r.op,
                    str(r.examples),
                    r.forward.summary(),
                    r.vjp.summary(),
                    f"{100 * over:.1f}%" if over else "0",
                    f"{sp.checked - sp.failed}/{sp.checked}" if sp.checked else "—",
                    r.bound,
                    r.status,
                )
            )
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        out = [
            f"conformance of backend {self.backend!r} (seed {self.seed}, {self.examples} "
            f"examples per op; {self.policy.describe()})",
            "",
        ]
        out.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        out.append("  ".join("-" * w for w in widths))
        out.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
        for r in self.results:
            if r.status == "pass":
                continue
            out.append("")
            out.extend(_details(r))
        failed, known = len(self.failed_ops), len(self.known_ops)
        out.append("")
        tail = f" ({known} known deviation{'s' if known != 1 else ''})" if known else ""
        out.append(
            f"{len(self.results) - failed} passed, {failed} failed{tail} in {self.seconds:.1f} s"
        )
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for r, res in zip(d["results"], self.results, strict=True):
            r["passed"] = res.passed
            r["examples"] = res.examples
            for part in ("forward", "vjp"):
                r[part]["share_over"] = getattr(res, part).share_over
        d["passed"] = self.passed
        d["failed_ops"] = self.failed_ops
        d["known_ops"] = self.known_ops
        return _jsonable(d)  # type: ignore[no-any-return]

    def write_json(self, path: str) -> None:
        from refnn.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")


def _details(r: OpResult) -> list[str]:
    head = (
        f"{r.op}: known deviation ({r.reason})"
        if r.status == "known"
        else f"{r.op}: FAIL" + (f" ({r.reason})" if r.reason else "")
    )
    out = [head]
    for name, p in (("forward", r.forward), ("vjp", r.vjp)):
        if not p.failed:
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(p.kinds.items()))
        out.append(
            f"  {name}: {p.failed} of {p.examples} examples failed; "
            f"{100 * p.share_over:.1f}% of {p.entries} entries outside the bound "
            f"({kinds})"
        )
        if p.worst is not None:
            out.append(f"  {name} worst ({p.worst.error_text()}):")
            out.append(p.worst.format("    "))
        if p.simplest is not None:
            out.append(f"  {name} simplest failing input (shrunk):")
            out.append(p.simplest.format("    "))
    if r.special.failed:
        out.append(f"  special values: {r.special.failed} of {r.special.checked} failed")
        if r.special.first is not None:
            out.append(r.special.first.format("    "))
    if r.forward.failed == r.vjp.failed == r.special.failed == 0 and r.counterexample:
        out.append(r.counterexample.format("    "))
    return out


def _err_text(
    ulps: float | None, bound_ulps: float | None, abs_err: float | None, allowed: float | None
) -> str:
    if ulps is not None:
        if not math.isfinite(ulps):
            return "non-finite"
        b = f" (bound {_num(bound_ulps)})" if bound_ulps is not None else ""
        return f"{_num(ulps)} ulp{b}"
    if abs_err is not None:
        if not math.isfinite(abs_err):
            return "non-finite"
        b = f" (bound {allowed:.2g})" if allowed is not None else ""
        return f"abs {abs_err:.3g}{b}"
    return "—"


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "∞"
    if 0 < x < 1e-3:
        return "≈0"
    return f"{x:.3g}"


def _rows_text(rows: list[list[float]]) -> str:
    return "[" + ", ".join("[" + ", ".join(_fmt(v) for v in r) + "]" for r in rows) + "]"


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def bound_text(spec: OpSpec) -> str:
    """The op's stated bound in words, e.g. ``2 ulp (+γₙΣ|t|); vjp 8 ulp``."""
    b = spec.bound
    red = " +γₙΣ|t|" if b.reduction else ""
    return f"{b.ulps:g} ulp{red}; vjp {b.vjp_ulps:g} ulp"


# ====================================================================== checking
def _mat(shape: tuple[int, int], data: Sequence[float]) -> Matrix[Any]:
    return Matrix.from_flat(shape[0], shape[1], data)


def _rows(A: Matrix[Any]) -> list[list[float]]:
    return [[float(x) for x in r] for r in A.rows()]


@dataclass
class _Entry:
    """The verdict on one compared entry."""

    kind: str | None  # None: within the bound
    ulps: float | None  # in ulps of the entry's scale (None: judged absolutely)
    allowed_ulps: float | None
    abs_err: float | None
    ratio: float  # error / allowance
    allowed: float = 0.0  # the absolute allowance


_MESSAGES = {
    "nonfinite": "the {what} is not finite where the exact value is",
    "signed-zero": "the {what} returned a zero of the wrong sign",
    "subnormal": "the {what} is outside the op's bound where a subnormal number is involved "
    "(see --subnormals flush)",
    "bound": "the {what} is outside the op's bound",
    "ok": "the worst entry of the {what}, within the bound",
}


class _Invalid(Exception):
    """The example is outside what the reference defines (drawn again, not a failure)."""


@dataclass
class _PartOutcome:
    """One part of one example: counts and the worst entry."""

    entries: int = 0
    over: int = 0
    worst_ulps: float = 0.0
    worst_ratio: float = 0.0
    worst: Counterexample | None = None
    worst_key: tuple[int, float] = (0, -1.0)
    fail_ulps: float = 0.0
    kinds: set[str] = field(default_factory=set)
    failure: Counterexample | None = None  # the first finding (kind, message, …)

    @property
    def failed(self) -> bool:
        return self.failure is not None


@dataclass
class _Outcome:
    forward: _PartOutcome
    vjp: _PartOutcome | None


class _Checker:
    """Runs one op's examples on a backend and judges every entry."""

    def __init__(self, backend: Any, spec: OpSpec, policy: Policy) -> None:
        self.backend = backend
        self.spec = spec
        self.policy = policy
        vjps = getattr(backend, "vjps", None) or {}
        self.own_vjp = vjps.get(spec.name)

    # ------------------------------------------------------------------ helpers
    def _cx(self, e: Example, kind: str, message: str, **kw: Any) -> Counterexample:
        return Counterexample(
            kind=kind,
            message=message,
            params=[
                f"{n}={p!r}"
                for n, p in zip(self.spec.params, self.spec.backend_params(e.params), strict=True)
            ],
            inputs=[_rows(_mat(s, d)) for s, d in zip(e.shapes, e.inputs, strict=True)],
            **kw,
        )

    def _prepare(self, e: Example) -> Example:
        if not self.policy.flushes:
            return e
        return Example(
            e.shapes, e.params, tuple(tuple(flush(x) for x in inp) for inp in e.inputs), e.cotangent
        )

    def _measure(
        self,
        g: float,
        ev: Any,
        s: Any,
        allow_abs: Any,
        exp_f: float,
        tiny_inputs: bool,
        signs: bool,
    ) -> _Entry:
        """One entry's error, in ulps of its scale (or absolute) and as a share of its
        allowance, and the kind of finding it is, if any."""
        if not math.isfinite(g):
            kind = "subnormal" if tiny_inputs or is_subnormal(exp_f) else "nonfinite"
            return _Entry(kind, math.inf, None, math.inf, math.inf)
        err = abs(mpmath.mpf(g) - ev)
        ratio = float(err / allow_abs) if allow_abs > 0 else (0.0 if err == 0 else math.inf)
        sc = ex.round_float(s)
        # ulps of a scale so small that the flush slack is ≥ 1 ulp of it say nothing: such
        # entries are judged, and shown, absolutely
        if sc != 0 and not (self.policy.flushes and abs(sc) < _FLUSH_ULPS_FLOOR):
            u = mpmath.mpf(math.ulp(sc))
            out = _Entry(None, float(err / u), float(allow_abs / u), None, ratio)
        else:
            out = _Entry(None, None, None, float(err), ratio)
        if ratio > 1.0:
            involved = (
                tiny_inputs
                or is_subnormal(exp_f)
                or is_subnormal(g)
                or (g == 0 and ev != 0 and abs(ev) < SMALLEST_NORMAL)
            )
            out.kind = "subnormal" if involved else "bound"
        elif signs and g == 0 and exp_f == 0 and math.copysign(1.0, g) != math.copysign(1.0, exp_f):
            out.kind = "signed-zero"
        return out

    def _judge(
        self,
        part: _PartOutcome,
        e: Example,
        got: Matrix[Any],
        exact: Matrix[Any],
        scale: list[Any],
        allow: list[Any],
        *,
        argument: int | None,
        ref_signs: Matrix[Any] | None,
        cotangent: Matrix[Any] | None,
    ) -> None:
        """Compare every entry of ``got`` with ``exact``; record into ``part``."""
        slack = (
            mpmath.mpf(SMALLEST_NORMAL) * sum(len(x) for x in e.inputs)
            if self.policy.flushes
            else mpmath.mpf(0)
        )
        # a subnormal input involves an entry when the op is element-wise (the entry's own
        # inputs), otherwise when it is anywhere among the inputs
        elementwise = all(s == got.shape for s in e.shapes)
        tiny_any = any(is_subnormal(x) for inp in e.inputs for x in inp)
        n = got.shape[1]
        expected = [ex.round_float(v) for v in exact.data]
        if ref_signs is not None:
            expected = [
                math.copysign(0.0, r) if v == 0 and isinstance(r, float) else v
                for v, r in zip(expected, ref_signs.data, strict=True)
            ]
        exp_rows = [expected[i : i + n] for i in range(0, len(expected), n)]
        for k, (gv, ev, s, a) in enumerate(zip(got.data, exact.data, scale, allow, strict=True)):
            g = flush(float(gv)) if self.policy.flushes else float(gv)
            part.entries += 1
            tiny = (
                any(is_subnormal(inp[k]) for inp in e.inputs)
                if elementwise and argument is None
                else tiny_any
            )
            m = self._measure(g, ev, s, a + slack, expected[k], tiny, ref_signs is not None)
            m.allowed = float(a + slack)
            self._record(part, e, m, (k // n + 1, k % n + 1), exp_rows, got, argument, cotangent)

    def _record(
        self,
        part: _PartOutcome,
        e: Example,
        m: _Entry,
        entry: tuple[int, int],
        exp_rows: list[list[float]],
        got: Matrix[Any],
        argument: int | None,
        cotangent: Matrix[Any] | None,
    ) -> None:
        if m.ulps is not None:
            part.worst_ulps = max(part.worst_ulps, m.ulps)
        part.worst_ratio = max(part.worst_ratio, m.ratio)
        if m.kind is not None:
            part.over += 1
            part.kinds.add(m.kind)
            part.fail_ulps = max(part.fail_ulps, m.ulps if m.ulps is not None else math.inf)
        key = _key(m.kind, m.ulps)
        better = part.worst is None or key > part.worst_key
        first_finding = m.kind is not None and part.failure is None
        if not (better or first_finding):
            return
        what = "forward" if argument is None else f"VJP (cotangent of input {argument})"
        cx = self._cx(
            e,
            m.kind or "ok",
            _MESSAGES[m.kind or "ok"].format(what=what),
            argument=argument,
            entry=entry,
            error_ulps=m.ulps,
            allowed_ulps=m.allowed_ulps,
            error_abs=m.abs_err,
            allowed=m.allowed,
            expected=exp_rows,
            got=_rows(got),
        )
        cx.cotangent = _rows(cotangent) if cotangent is not None else None
        if better:
            part.worst_key, part.worst = key, cx
        if first_finding:
            part.failure = cx

    def _error(
        self, e: Example, what: str, err: BaseException, cotangent: Matrix[Any] | None = None
    ) -> _PartOutcome:
        p = _PartOutcome(fail_ulps=math.inf, worst_key=(1, math.inf))
        p.kinds.add("error")
        p.failure = self._cx(e, "error", f"the {what} raised {type(err).__name__}: {err}")
        p.failure.cotangent = _rows(cotangent) if cotangent is not None else None
        p.worst = p.failure
        return p

    def _shape(
        self, e: Example, what: str, got: tuple[int, int], want: tuple[int, int]
    ) -> _PartOutcome:
        p = _PartOutcome(fail_ulps=math.inf, worst_key=(1, math.inf))
        p.kinds.add("shape")
        p.failure = self._cx(e, "shape", f"the {what} returned shape {got}, expected {want}")
        p.worst = p.failure
        return p

    # ------------------------------------------------------------------ one example
    def check(self, e0: Example, *, with_vjp: bool = True) -> _Outcome:
        spec, be = self.spec, self.backend
        e = self._prepare(e0)
        xs = tuple(_mat(s, d) for s, d in zip(e.shapes, e.inputs, strict=True))
        fparams = spec.backend_params(e.params)
        with ex.precise():
            xs_mp = tuple(ex.to_mp(x) for x in xs)
            try:
                y_mp = ex.exact_forward(spec, xs_mp, fparams)
                for v in y_mp.data:
                    ex.round_float(v)
            except (ArithmeticError, ValueError, RefnnError) as err:
                raise _Invalid(str(err)) from None
            scale, allow = ex.forward_scale_and_allowance(spec, xs_mp, y_mp, fparams)
        try:
            xs_b = tuple(be.from_matrix(x) for x in xs)
            y_b = be.kernels[spec.name](*xs_b, *fparams)
            y = be.to_matrix(y_b)
        except Exception as err:
            return _Outcome(self._error(e, "forward", err), None)
        if y.shape != y_mp.shape:
            return _Outcome(self._shape(e, "forward", y.shape, y_mp.shape), None)
        fwd = _PartOutcome()
        signs = None
        if (
            self.policy.signed_zero == "strict"
            and zero_sign_specified(spec)
            and any(v == 0 for v in y_mp.data)
        ):
            signs = spec.forward(*xs, *e.params)
        self._judge(fwd, e, y, y_mp, scale, allow, argument=None, ref_signs=signs, cotangent=None)
        if not with_vjp:
            return _Outcome(fwd, None)
        return _Outcome(fwd, self._check_vjp(e, xs, xs_b, y_b, y_mp, xs_mp, fparams))

    def _check_vjp(
        self,
        e: Example,
        xs: tuple[Matrix[Any], ...],
        xs_b: tuple[Any, ...],
        y_b: Any,
        y_mp: Matrix[Any],
        xs_mp: tuple[Matrix[Any], ...],
        fparams: tuple[Any, ...],
    ) -> _PartOutcome:
        spec, be = self.spec, self.backend
        g = _mat(y_mp.shape, e.cotangent)
        with ex.precise():
            g_mp = ex.to_mp(g)
            try:
                cts_mp = ex.exact_vjp(spec, g_mp, y_mp, xs_mp, fparams)
                for c in cts_mp:
                    for v in c.data:
                        ex.round_float(v)
                allows = ex.vjp_allowance(spec, g_mp, y_mp, xs_mp, fparams)
            except (ArithmeticError, ValueError, RefnnError):
                return _PartOutcome()  # the VJP is undefined here (e.g. √ at 0)
        try:
            g_b = be.from_matrix(g)
            if self.own_vjp is not None:
                cts_b = self.own_vjp(g_b, y_b, xs_b, fparams)
            else:
                _, back = refnn_vjp(lambda *a: apply(spec, a, e.params), *xs_b)
                cts_b = back(g_b)
            cts = [be.to_matrix(c) for c in cts_b]
        except Exception as err:
            return self._error(e, "VJP", err, g)
        part = _PartOutcome()
        for i, (c, c_mp, (mg, al)) in enumerate(zip(cts, cts_mp, allows, strict=True), start=1):
            if c.shape != c_mp.shape:
                return self._shape(e, f"VJP for input {i}", c.shape, c_mp.shape)
            self._judge(part, e, c, c_mp, mg, al, argument=i, ref_signs=None, cotangent=g)
        return part

    # ------------------------------------------------------------------ special values
    def check_special(self, e: Example) -> tuple[str, Counterexample | None]:
        """``("undefined" | "pass" | "fail", counterexample)`` for one special example."""
        spec, be = self.spec, self.backend
        if all(math.isfinite(x) for inp in e.inputs for x in inp):
            try:
                out = self.check(e, with_vjp=False)
            except _Invalid:
                return "undefined", None
            return ("fail", out.forward.failure) if out.forward.failed else ("pass", None)
        xs = tuple(_mat(s, d) for s, d in zip(e.shapes, e.inputs, strict=True))
        try:
            ref = spec.forward(*xs, *e.params)
        except (ArithmeticError, ValueError, RefnnError):
            return "undefined", None
        has_nan_in = any(x != x for inp in e.inputs for x in inp)
        if not has_nan_in and any(v != v for v in ref.data):
            return "undefined", None
        expected = [float(v) for v in ref.data]
        cx = self._cx(e, "special", "", expected=_rows(ref))
        try:
            y = be.to_matrix(
                be.kernels[spec.name](
                    *(be.from_matrix(x) for x in xs), *spec.backend_params(e.params)
                )
            )
        except Exception as err:
            cx.message = f"the forward raised {type(err).__name__}: {err}"
            return "fail", cx
        cx.got = _rows(y) if y.shape == ref.shape else None
        if y.shape != ref.shape:
            cx.message = f"the forward returned shape {y.shape}, expected {ref.shape}"
            return "fail", cx
        ulps = max(spec.bound.ulps, 0.5) if spec.bound.ulps else 0.0
        n = ref.shape[1]
        for k, (gv, ev) in enumerate(zip(y.data, expected, strict=True)):
            g = float(gv)
            if self.policy.flushes:
                g, ev = flush(g), flush(ev)
            if ev != ev:
                ok = g != g
            elif math.isinf(ev):
                ok = g == ev
            else:
                ok = math.isfinite(g) and abs(g - ev) <= 2 * ulps * math.ulp(ev)
                if (
                    ok
                    and g == ev == 0
                    and self.policy.signed_zero == "strict"
                    and zero_sign_specified(spec)
                ):
                    ok = math.copysign(1.0, g) == math.copysign(1.0, ev)
            if not ok:
                cx.entry = (k // n + 1, k % n + 1)
                cx.message = (
                    f"at a special value the forward gave {_fmt(g)} where the "
                    f"reference gives {_fmt(ev)}"
                )
                return "fail", cx
        return "pass", None


# ====================================================================== one op
def _shrink(checker: _Checker, e: Example, part: str, kind: str) -> Example:
    """The simplest example found (greedily, within :data:`SHRINK_BUDGET` checks) that
    still fails ``part`` with a finding of ``kind``."""

    def fails(c: Example) -> bool:
        try:
            o = checker.check(c, with_vjp=part == "vjp")
        except _Invalid:
            return False
        p = o.forward if part == "forward" else o.vjp
        return p is not None and kind in p.kinds

    budget = SHRINK_BUDGET
    current = e
    progress = True
    while progress and budget > 0:
        progress = False
        for cand in simpler(current, checker.spec):
            budget -= 1
            if fails(cand):
                current, progress = cand, True
                break
            if budget <= 0:
                break
    return current


def _key(kind: str | None, ulps: float | None) -> tuple[int, float]:
    """Order of badness: a failing entry over a passing one, then the larger ulps (an
    absolute or non-finite failure counts as infinitely many)."""
    if ulps is None:
        return (1, math.inf) if kind else (0, 0.0)
    return (1 if kind else 0, ulps)


def _accumulate(
    stats: PartStats, p: _PartOutcome, first: list[tuple[Example, str]], e: Example
) -> None:
    stats.examples += 1
    stats.entries += p.entries
    stats.over += p.over
    stats.worst_ulps = max(stats.worst_ulps, p.worst_ulps)
    stats.worst_ratio = max(stats.worst_ratio, p.worst_ratio)
    if p.worst is not None and (stats.worst is None or p.worst_key > stats.worst_key):
        stats.worst, stats.worst_key = p.worst, p.worst_key
        stats.worst_bound_ulps = p.worst.allowed_ulps
    if p.failed:
        stats.failed += 1
        stats.fail_ulps = max(stats.fail_ulps, p.fail_ulps)
        for k in p.kinds:
            stats.kinds[k] = stats.kinds.get(k, 0) + 1
        if not first:
            assert p.failure is not None
            first.append((e, p.failure.kind))


def _check_op(
    backend: Any,
    spec: OpSpec,
    examples: int,
    seed: int,
    stress: bool,
    policy: Policy,
    expect: Expectation | None,
    *,
    source: ExampleSource | None = None,
    shrink: bool = True,
) -> OpResult:
    t0 = time.perf_counter()
    checker = _Checker(backend, spec, policy)
    source = source or ExampleSource(spec, seed, stress, examples)
    fwd, vjp, special = PartStats(), PartStats(), SpecialStats()
    first_f: list[tuple[Example, str]] = []
    first_v: list[tuple[Example, str]] = []
    done, attempts = 0, 0
    while done < examples and attempts < 20 * examples:
        attempts += 1
        e = source.next()
        try:
            o = checker.check(e)
        except _Invalid:
            continue
        done += 1
        _accumulate(fwd, o.forward, first_f, e)
        if o.vjp is not None:
            _accumulate(vjp, o.vjp, first_v, e)
    for stats, first, part in ((fwd, first_f, "forward"), (vjp, first_v, "vjp")):
        if first and shrink:
            e, kind = first[0]
            small = _shrink(checker, e, part, kind)
            o = checker.check(small, with_vjp=part == "vjp")
            p = o.forward if part == "forward" else o.vjp
            stats.simplest = p.failure if p is not None else None
    if policy.special_values:
        for e in special_examples(spec):
            verdict, cx = checker.check_special(e)
            if verdict == "undefined":
                special.undefined += 1
                continue
            special.checked += 1
            if verdict == "fail":
                special.failed += 1
                special.first = special.first or cx
                kind = cx.kind if cx is not None else "special"
                special.kinds[kind] = special.kinds.get(kind, 0) + 1
    status, reason = _verdict(fwd, vjp, special, expect)
    simplest = fwd.simplest or vjp.simplest or special.first
    return OpResult(
        op=spec.name,
        bound=bound_text(spec),
        status=status,
        forward=fwd,
        vjp=vjp,
        special=special,
        seconds=time.perf_counter() - t0,
        reason=reason,
        counterexample=simplest,
    )


def _verdict(
    fwd: PartStats, vjp: PartStats, special: SpecialStats, expect: Expectation | None
) -> tuple[str, str]:
    if not (fwd.failed or vjp.failed or special.failed):
        return "pass", ""
    if expect is None:
        return "FAIL", ""
    problems = expect.excess(fwd.kinds, fwd.fail_ulps, vjp.kinds, vjp.fail_ulps, special.kinds)
    if problems:
        return "FAIL", "beyond the declared deviation: " + "; ".join(problems)
    return "known", expect.reason


def _missing(spec: OpSpec) -> OpResult:
    cx = Counterexample(kind="missing", message=f"the backend has no kernel for op {spec.name!r}")
    fwd = PartStats(failed=1, kinds={"missing": 1}, fail_ulps=math.inf, simplest=cx)
    return OpResult(
        op=spec.name,
        bound=bound_text(spec),
        status="FAIL",
        forward=fwd,
        vjp=PartStats(),
        special=SpecialStats(),
        seconds=0.0,
        reason="no kernel",
        counterexample=cx,
    )


def conform(
    backend: Any,
    ops: Iterable[str] | None = None,
    examples: int = 10,
    seed: int = 0,
    *,
    stress: bool = True,
    policy: Policy | None = None,
    expect: dict[str, Expectation] | None = None,
    shrink: bool = True,
) -> Report:
    """Hold ``backend`` (a backend object or a :func:`refnn.backends.load` spec) against the
    reference on every registry op, or on those named in ``ops``.

    ``examples`` calls are drawn per op (all run: the report has full statistics);
    ``seed`` fixes them (the same examples in every caller); ``stress`` adds large
    magnitudes beyond each op's test domain; ``policy`` declares the comparison policies
    (:class:`~refnn.conformance.policy.Policy`); ``expect`` maps op names to declared
    known deviations (:func:`refnn.conformance.expect.load_expectations`); ``shrink=False``
    skips shrinking the first failing example (faster when only the verdict matters).
    """
    t0 = time.perf_counter()
    pol = policy or Policy()
    be = load(backend)
    names = list(registry) if ops is None else list(ops)
    unknown = [n for n in [*names, *(expect or {})] if n not in registry]
    if unknown:
        raise ValueError(
            f"unknown op(s) {', '.join(unknown)}; the registry has {', '.join(sorted(registry))}"
        )
    if examples < 1:
        raise ValueError(f"examples must be ≥ 1, got {examples}")
    missing = set(missing_ops(be))
    results: list[OpResult] = []
    for name in names:
        spec = registry[name]
        if name in missing:
            results.append(_missing(spec))
            continue
        with warnings.catch_warnings():
            # a backend's own warnings at special values (NumPy's "invalid value") are not
            # findings; what it returns is judged
            warnings.simplefilter("ignore", RuntimeWarning)
            results.append(
                _check_op(
                    be, spec, examples, seed, stress, pol, (expect or {}).get(name), shrink=shrink
                )
            )
    return Report(
        backend=str(getattr(be, "name", be)),
        seed=seed,
        examples=examples,
        policy=pol,
        results=results,
        seconds=time.perf_counter() - t0,
    )
