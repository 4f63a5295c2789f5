"""The inputs ``refnn conform`` draws: deterministic, seeded, and the same in every caller.

An example is one call of one op: a case (input shapes and parameter values) from a subset
of ``spec.cases(3)`` — the smallest, the largest and a few drawn between them, more as the
number of examples grows (:func:`pick_cases`) — input entries and an output cotangent.
Entries are drawn by a :class:`random.Random` seeded with the run's seed and the op's name,
so the command line, the pytest plugin and the Python API see the same examples for the
same seed, in any order of ops, with no state kept on disk.

Value classes of an input entry (``d`` the op's :class:`~refnn.ops.InputDomain`):

====================  =====  ===============================================================
class                 share  values
====================  =====  ===============================================================
uniform               50 %   uniform in ``[d.lo, d.hi]``, away from ``d.avoid`` (kinks)
magnitudes            20 %   sign × 2^u, u uniform: every scale from 2⁻⁴⁰ to the domain's edge
tiny                  10 %   sign × 2^u, u in [−1074, −900]: a third of them subnormal
zero                   5 %   +0 or −0
stress                15 %   large magnitudes beyond the domain (×10, ×100, ×1000 its edges)
====================  =====  ===============================================================

*tiny* and *zero* need 0 inside the domain and not avoided (for a positive domain such as
``log``'s, *tiny* draws tiny positive numbers and *zero* none). An example whose exact
reference value is undefined or not a finite double (``exp(7000)``) is drawn again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from refnn.ops import InputDomain, OpSpec

__all__ = ["COTANGENT", "Example", "ExampleSource", "simpler", "special_examples", "stress_values"]

_STRESS_SCALES = (10, 100, 1000)
COTANGENT = InputDomain(lo=-2.0, hi=2.0)
SPECIALS: tuple[float, ...] = (0.0, -0.0, math.inf, -math.inf, math.nan)


@dataclass(frozen=True)
class Example:
    """One call: input shapes, parameters, flat row-major inputs and output cotangent."""

    shapes: tuple[tuple[int, int], ...]
    params: tuple[Any, ...]
    inputs: tuple[tuple[float, ...], ...]
    cotangent: tuple[float, ...]


def stress_values(dom: InputDomain) -> tuple[float, ...]:
    """Large-magnitude values beyond the domain (toward 0 for a positive domain)."""
    vals: list[float] = []
    for s in _STRESS_SCALES:
        vals.append(dom.lo / s if dom.lo > 0 else dom.lo * s)
        vals.append(dom.hi / s if dom.hi < 0 else dom.hi * s)
    return tuple(v for v in vals if v != 0 and all(abs(v - a) >= dom.margin for a in dom.avoid))


def _pow2(u: float) -> float:
    return float(2.0**u)


def _zero_inside(dom: InputDomain) -> bool:
    return dom.lo <= 0.0 <= dom.hi and dom.contains(0.0)


def _uniform(rng: random.Random, dom: InputDomain) -> float:
    for _ in range(100):
        x = rng.uniform(dom.lo, dom.hi)
        if dom.contains(x):
            return x
    raise ValueError(f"cannot draw from {dom}")  # pragma: no cover (domains are wide)


def _magnitude(rng: random.Random, dom: InputDomain) -> float:
    top = max(abs(dom.lo), abs(dom.hi))
    bottom = dom.lo if dom.lo > 0 else (-dom.hi if dom.hi < 0 else 2.0**-40)
    for _ in range(20):
        x = _pow2(rng.uniform(math.log2(bottom), math.log2(top)))
        if dom.lo < 0 < dom.hi or dom.hi <= 0:
            x = -x if (dom.hi <= 0 or rng.random() < 0.5) else x
        if dom.contains(x):
            return x
    return _uniform(rng, dom)


def _tiny(rng: random.Random, dom: InputDomain) -> float | None:
    if not (_zero_inside(dom) or dom.lo > 0):
        return None
    x = _pow2(rng.uniform(-1074.0, -900.0))
    if dom.lo > 0 or rng.random() < 0.5:
        return x
    return -x


def draw_entry(rng: random.Random, dom: InputDomain, stress: bool) -> float:
    """One input entry from the value classes above."""
    r = rng.random()
    if r < 0.5:
        return _uniform(rng, dom)
    if r < 0.7:
        return _magnitude(rng, dom)
    if r < 0.8:
        t = _tiny(rng, dom)
        return t if t is not None else _uniform(rng, dom)
    if r < 0.85:
        return rng.choice((0.0, -0.0)) if _zero_inside(dom) else _uniform(rng, dom)
    extra = stress_values(dom) if stress else ()
    return rng.choice(extra) if extra else _uniform(rng, dom)


class ExampleSource:
    """The examples of one op in one run: ``next()`` draws the following one."""

    def __init__(self, spec: OpSpec, seed: int, stress: bool = True, examples: int = 10) -> None:
        self.spec = spec
        self.stress = stress
        self.rng = random.Random(f"refnn-conform:{seed}:{spec.name}")
        self.cases = pick_cases(list(spec.cases(3)), self.rng, max(3, examples // 3))

    def next(self) -> Example:
        spec, rng = self.spec, self.rng
        shapes, params = rng.choice(self.cases)
        inputs = tuple(
            tuple(draw_entry(rng, dom, self.stress) for _ in range(m * n))
            for (m, n), dom in zip(shapes, spec.domains, strict=True)
        )
        om, on = spec.shape(*shapes, *params)
        g = tuple(_uniform(rng, COTANGENT) for _ in range(om * on))
        return Example(tuple(shapes), tuple(params), inputs, g)


def pick_cases(cases: list[Any], rng: random.Random, k: int) -> list[Any]:
    """At most ``k`` of ``cases``: the smallest, the largest and ``k − 2`` drawn between.

    Few distinct shapes per op keep a compiling backend (JAX: one XLA compilation per new
    shape) fast: three cases at 10 examples, ``examples // 3`` beyond, up to all of them."""
    if len(cases) <= k:
        return cases
    by_size = sorted(cases, key=lambda c: (sum(m * n for m, n in c[0]), repr(c)))
    middle = by_size[1:-1]
    return [by_size[0], *rng.sample(middle, k - 2), by_size[-1]]


def _plain(dom: InputDomain) -> float:
    """An ordinary value inside the domain, for the entries beside a special one."""
    for x in (0.75, 1.5, 0.5 * (dom.lo + dom.hi), dom.hi):
        if dom.contains(x):
            return x
    return dom.hi  # pragma: no cover


def special_examples(spec: OpSpec) -> Iterator[Example]:
    """The special-value class: on the smallest case of each parameter class, every input
    entry position in turn set to +0, −0, +inf, −inf and NaN (the others ordinary)."""
    seen: set[tuple[Any, ...]] = set()
    for shapes, params in sorted(spec.cases(2), key=lambda c: sum(m * n for m, n in c[0])):
        key = tuple(params)
        if key in seen:
            continue
        seen.add(key)
        base = [[_plain(dom)] * (m * n) for (m, n), dom in zip(shapes, spec.domains, strict=True)]
        om, on = spec.shape(*shapes, *params)
        g = (1.0,) * (om * on)
        for i, row in enumerate(base):
            for k in range(len(row)):
                for s in SPECIALS:
                    inputs = [list(r) for r in base]
                    inputs[i][k] = s
                    yield Example(tuple(shapes), tuple(params), tuple(tuple(r) for r in inputs), g)


def _short(x: float) -> Iterator[float]:
    """Simpler numbers near ``x``: 0, ±1, then x rounded to 1, 2, … significant digits."""
    if x == 0 or not math.isfinite(x):
        return
    yield 0.0
    yield math.copysign(1.0, x)
    for d in range(1, 17):
        y = float(f"{x:.{d}g}")
        if y != x:
            yield y


def simpler(e: Example, spec: OpSpec) -> Iterator[Example]:
    """Candidates simpler than ``e``, simplest first: smaller shapes (entries taken from
    ``e``'s, the worst-looking first), then each entry replaced by a shorter number."""
    size = sum(m * n for m, n in e.shapes)
    smaller = sorted(
        (
            c
            for c in spec.cases(3)
            if tuple(c[1]) == e.params and sum(m * n for m, n in c[0]) < size
        ),
        key=lambda c: sum(m * n for m, n in c[0]),
    )
    flat = [x for inp in e.inputs for x in inp]
    for shapes, params in smaller:
        om, on = spec.shape(*shapes, *params)
        g = tuple(e.cotangent[k % len(e.cotangent)] for k in range(om * on))
        for start in sorted({0, len(flat) // 2}):
            vals = iter(flat[start:] + flat[:start])
            inputs = tuple(tuple(next(vals, flat[0]) for _ in range(m * n)) for m, n in shapes)
            yield Example(tuple(shapes), tuple(params), inputs, g)
    for i, inp in enumerate(e.inputs):
        for k, x in enumerate(inp):
            for y in _short(x):
                new = list(e.inputs)
                new[i] = (*inp[:k], y, *inp[k + 1 :])
                yield replace(e, inputs=tuple(new))
    for k, x in enumerate(e.cotangent):
        if x != 1.0:
            yield replace(e, cotangent=(*e.cotangent[:k], 1.0, *e.cotangent[k + 1 :]))


# ------------------------------------------------------------------ the accuracy input set
#: The wide range of ``refnn accuracy`` for ops whose test domain contains 0.
WIDE = 20.0


def _wide_entry(rng: random.Random, dom: InputDomain) -> float:
    """An entry of the accuracy set: wide ranges, near kinks, tiny magnitudes."""
    r = rng.random()
    if dom.lo > 0:  # positive domains (log, sqrt, pow): every scale from 2⁻³⁰ to 2³⁰
        return _pow2(rng.uniform(-30.0, 30.0)) if r < 0.9 else _pow2(rng.uniform(-1074, -1000))
    if r < 0.6:
        for _ in range(100):
            x = rng.uniform(-WIDE, WIDE)
            if all(abs(x - a) >= dom.margin for a in dom.avoid):
                return x
    if r < 0.8 and dom.avoid:  # just beside a kink, never on it
        a = rng.choice(dom.avoid)
        return a + rng.choice((-1.0, 1.0)) * _pow2(rng.uniform(-40.0, -3.0))
    if r < 0.9 and _zero_inside(dom):
        return rng.choice((-1.0, 1.0)) * _pow2(rng.uniform(-1074.0, -900.0))
    return _magnitude(rng, InputDomain(lo=-WIDE, hi=WIDE, avoid=dom.avoid, margin=dom.margin))


class AccuracySource(ExampleSource):
    """The fixed, seeded input set of ``refnn accuracy``: the op's cases, entries from
    [−20, 20] (or 2⁻³⁰…2³⁰ for a positive domain), values just beside each kink, and
    tiny magnitudes, subnormals included."""

    def next(self) -> Example:
        spec, rng = self.spec, self.rng
        shapes, params = rng.choice(self.cases)
        inputs = tuple(
            tuple(_wide_entry(rng, dom) for _ in range(m * n))
            for (m, n), dom in zip(shapes, spec.domains, strict=True)
        )
        om, on = spec.shape(*shapes, *params)
        g = tuple(_uniform(rng, COTANGENT) for _ in range(om * on))
        return Example(tuple(shapes), tuple(params), inputs, g)
