"""Bounds that bite: every op's stated bound is written, with its derivation, in the op's
docstring, and a backend off by twice that bound — in the forward, or separately in the
VJP — fails ``conform`` for every op.

The first test pins each ``ErrorBound`` to the derivation a reader can check, so loosening a
bound in the code (softmax's VJP from 16 to 32 ulps, say) fails here; the second makes sure
the harness rejects what the bound excludes, so loosening the comparison fails there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix
from refnn.conformance import _exact as ex
from refnn.conformance import conform
from refnn.conformance.policy import Policy
from refnn.matrix import Matrix
from refnn.ops import OpSpec, registry

_BOUND = re.compile(r"Bound: forward ([0-9.]+) ulp(?P<red> \+ γ)?.*?VJP ([0-9.]+) ulp", re.S)


@pytest.mark.parametrize("op", list(registry))
def test_each_bound_is_stated_and_derived_in_the_docstring(op: str) -> None:
    spec = registry[op]
    m = _BOUND.search(spec.doc)
    assert m is not None, f"{op}'s docstring has no 'Bound: forward … ulp …; VJP … ulp' line"
    assert float(m.group(1)) == spec.bound.ulps, (op, m.group(1), spec.bound)
    assert float(m.group(3)) == spec.bound.vjp_ulps, (op, m.group(3), spec.bound)
    assert (m.group("red") is not None) == spec.bound.reduction, op
    assert "(" in spec.doc[m.start() :], f"{op}: the bound needs its derivation in brackets"


def _to_matrix(a: NumpyMatrix) -> Matrix[Any]:
    m, n = a.shape
    return Matrix.from_flat(m, n, [float(x) for x in a.array.ravel()])


def _pushed(exact: list[Any], allow: list[Any], factor: float) -> list[float]:
    """Each exact value moved up by ``factor`` times its allowance, rounded, and then at
    least far enough that the error exceeds the allowance (a zero allowance: one ulp)."""
    out = []
    for v, a in zip(exact, allow, strict=True):
        y = ex.round_float(v + factor * a)
        while not abs(ex.mpmath.mpf(y) - v) > a:
            y = math.nextafter(y, math.inf)
        out.append(y)
    return out


def _moved_forward(
    spec: OpSpec, move: Callable[[list[Any], list[Any]], list[float]]
) -> Callable[..., NumpyMatrix]:
    """A forward kernel returning ``move(exact values, allowances)``."""

    def kernel(*args: Any) -> NumpyMatrix:
        xs = tuple(_to_matrix(a) for a in args[: spec.arity])
        params = args[spec.arity :]
        with ex.precise():
            xs_mp = tuple(ex.to_mp(x) for x in xs)
            y = ex.exact_forward(spec, xs_mp, params)
            _, allow = ex.forward_scale_and_allowance(spec, xs_mp, y, params)
            vals = move(list(y.data), allow)
        m, n = y.shape
        return NumpyMatrix([vals[i * n : (i + 1) * n] for i in range(m)])

    return kernel


def _off_forward(spec: OpSpec, factor: float) -> Callable[..., NumpyMatrix]:
    return _moved_forward(spec, lambda exact, allow: _pushed(exact, allow, factor))


def _off_vjp(spec: OpSpec, factor: float) -> Callable[..., tuple[NumpyMatrix, ...]]:
    def vjp(
        g: NumpyMatrix, y: NumpyMatrix, inputs: tuple[NumpyMatrix, ...], params: tuple[Any, ...]
    ) -> tuple[NumpyMatrix, ...]:
        xs = tuple(_to_matrix(a) for a in inputs)
        with ex.precise():
            xs_mp = tuple(ex.to_mp(x) for x in xs)
            y_mp = ex.exact_forward(spec, xs_mp, params)
            g_mp = ex.to_mp(_to_matrix(g))
            cts = ex.exact_vjp(spec, g_mp, y_mp, xs_mp, params)
            allows = ex.vjp_allowance(spec, g_mp, y_mp, xs_mp, params)
            out = []
            for c, (_mag, al) in zip(cts, allows, strict=True):
                vals = _pushed(list(c.data), al, factor)
                m, n = c.shape
                out.append(NumpyMatrix([vals[i * n : (i + 1) * n] for i in range(m)]))
        return tuple(out)

    return vjp


_QUIET = Policy(special_values=False)


@pytest.mark.parametrize("op", list(registry))
def test_a_forward_off_by_twice_the_bound_fails(op: str) -> None:
    spec = registry[op]
    backend = NumpyBackend(name=f"off-{op}", kernels={**KERNELS, op: _off_forward(spec, 2.0)})
    report = conform(backend, ops=[op], examples=3, seed=1, policy=_QUIET, shrink=False)
    r = report.result(op)
    assert r.status == "FAIL" and r.forward.failed == r.forward.examples == 3, report.format()
    assert r.forward.over == r.forward.entries, report.format()
    assert r.forward.kinds.keys() <= {"bound", "subnormal"}, r.forward.kinds


@pytest.mark.parametrize("op", list(registry))
def test_a_vjp_off_by_twice_the_bound_fails(op: str) -> None:
    spec = registry[op]
    backend = NumpyBackend(name=f"off-vjp-{op}")
    backend.vjps = {op: _off_vjp(spec, 2.0)}  # type: ignore[attr-defined]
    report = conform(backend, ops=[op], examples=3, seed=1, policy=_QUIET, shrink=False)
    r = report.result(op)
    assert r.forward.failed == 0, report.format()
    # every compared entry is outside (an example whose VJP is undefined compares none)
    assert r.status == "FAIL" and r.vjp.over == r.vjp.entries > 0, report.format()


@pytest.mark.parametrize("op", ["tanh", "exp", "sigmoid", "softmax_rows"])
def test_within_the_bound_passes(op: str) -> None:
    # the same construction at half the allowance stays inside: the tests above fail for
    # the size of the error, not for how it was made (rounding adds up to ½ ulp, so only
    # ops whose allowance is at least 2 ulp wide are taken)
    spec = registry[op]

    def half(exact: list[Any], allow: list[Any]) -> list[float]:
        return [ex.round_float(v + a / 2) for v, a in zip(exact, allow, strict=True)]

    within = _moved_forward(spec, half)
    backend = NumpyBackend(name=f"within-{op}", kernels={**KERNELS, op: within})
    if spec.bound.ulps < 2:
        pytest.fail("choose ops whose allowance is at least 2 ulp wide")
    report = conform(backend, ops=[op], examples=3, seed=1, policy=_QUIET, shrink=False)
    assert report.result(op).forward.failed == 0, report.format()
