"""Deliberately broken backends, one per class of bug: the conformance harness must catch
each one, name the op, and shrink to a small counterexample."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from refnn import ops
from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix
from refnn.conformance import Report, conform
from refnn.conformance.cli import conform_main


def _variant(name: str, vjps: dict[str, Any] | None = None, **kernels: Any) -> NumpyBackend:
    b = NumpyBackend(name=name, kernels={**KERNELS, **kernels})
    if vjps is not None:
        b.vjps = vjps  # type: ignore[attr-defined]
    return b


def _w(a: Any) -> NumpyMatrix:
    return NumpyMatrix(a)


# 1. a wrong sign in a VJP (the backend ships its own VJP for sin: −g·cos x instead of g·cos x)
WRONG_SIGN_VJP = _variant(
    "wrong-sign-vjp",
    vjps={"sin": lambda g, y, xs, ps: (ops.neg(ops.hadamard(g, ops.cos(xs[0]))),)},
)

# 2. a transposed matmul: the left factor is transposed whenever it is square
TRANSPOSED_MATMUL = _variant(
    "transposed-matmul",
    matmul=lambda A, B: _w((A.array.T if A.shape[0] == A.shape[1] else A.array) @ B.array),
)

# 3. exp off by four ulps (the bound is 2)
OFF_BY_ULPS_EXP = _variant(
    "off-by-ulps-exp",
    exp=lambda A: _w(
        np.nextafter(
            np.nextafter(np.nextafter(np.nextafter(np.exp(A.array), np.inf), np.inf), np.inf),
            np.inf,
        )
    ),
)

# 4. broadcast along the wrong axis: a square matrix gets the bias added as a column
WRONG_AXIS_ADD_ROW = _variant(
    "wrong-axis-add-row",
    add_row=lambda A, b: _w(
        A.array + (b.array.reshape(-1, 1) if A.shape[0] == A.shape[1] else b.array)
    ),
)

# 5. NaN on a boundary input: the naive sigmoid eˣ/(1 + eˣ) gives inf/inf for x ≳ 710
NAN_SIGMOID = _variant(
    "nan-sigmoid",
    sigmoid=lambda A: _w(np.exp(A.array) / (1.0 + np.exp(A.array))),
)

# ops whose registry VJP calls the broken op, so they may fail too (and only those), and
# the part (forward or vjp) where the broken op itself must show
_CASES = [
    (WRONG_SIGN_VJP, "sin", {"sin"}, "vjp"),
    (TRANSPOSED_MATMUL, "matmul", {"matmul"}, "forward"),
    (OFF_BY_ULPS_EXP, "exp", {"exp", "log_softmax_rows"}, "forward"),
    (WRONG_AXIS_ADD_ROW, "add_row", {"add_row"}, "forward"),
    (NAN_SIGMOID, "sigmoid", {"sigmoid", "softplus"}, "forward"),
]


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    # silence NumPy's overflow warnings of the naive sigmoid (the harness sees the NaN)
    with np.errstate(all="ignore"):
        # the broken op, the ops whose VJP uses it, and a few bystanders that must pass
        return {
            b.name: conform(
                b, ops=[op, *sorted(allowed - {op}), "add", "tanh", "sum_rows"], examples=10, seed=0
            )
            for b, op, allowed, _ in _CASES
        }


@pytest.mark.parametrize(
    ("backend", "op", "allowed", "part"), _CASES, ids=[c[0].name for c in _CASES]
)
def test_broken_backend_is_caught_and_the_op_named(
    reports: dict[str, Report], backend: NumpyBackend, op: str, allowed: set[str], part: str
) -> None:
    report = reports[backend.name]
    assert not report.passed
    assert op in report.failed_ops
    assert set(report.failed_ops) <= allowed, report.format()
    stats = getattr(report.result(op), part)
    assert stats.failed >= 1 and stats.simplest is not None, report.format()
    assert f"{op}: FAIL" in report.format()


def test_every_example_runs_and_the_statistics_count_them(reports: dict[str, Report]) -> None:
    # the off-by-four-ulps exp is wrong on every non-zero entry: every example fails, and
    # every entry whose exact value is not 0 is outside the bound (the first failure does
    # not stop the run)
    r = reports["off-by-ulps-exp"].result("exp")
    assert r.forward.examples == 10 and r.forward.failed == 10
    assert r.forward.entries >= 10 and r.forward.share_over == 1.0
    assert 3 <= r.forward.worst_ulps <= 5
    # the square-only transposition: some examples pass (non-square), some fail
    mm = reports["transposed-matmul"].result("matmul").forward
    assert 0 < mm.failed < mm.examples, mm


def test_counterexamples_are_shrunk(reports: dict[str, Report]) -> None:
    # transposing a square factor shows only on a square factor of at least 2×2: the shrunk
    # example is small but not trivial
    mm = reports["transposed-matmul"].result("matmul").forward.simplest
    assert mm is not None
    sizes = [len(x) * len(x[0]) for x in mm.inputs]
    assert 2 <= sum(sizes) <= 8, mm.format()
    # the off-by-ulps exp fails on any input: one entry is enough, and a short number
    e = reports["off-by-ulps-exp"].result("exp").forward.simplest
    assert e is not None and len(e.inputs) == 1 and e.inputs[0] == [[e.inputs[0][0][0]]]
    assert len(repr(e.inputs[0][0][0])) <= 5, e.format()
    assert e.error_ulps is not None and 3 <= e.error_ulps <= 5
    # the NaN needs a large positive entry, and only one
    s = reports["nan-sigmoid"].result("sigmoid").forward.simplest
    assert s is not None and len(s.inputs[0]) * len(s.inputs[0][0]) == 1
    assert s.inputs[0][0][0] > 709 and s.kind == "nonfinite"
    # the wrong-axis bias needs a square matrix of at least 2×2
    r = reports["wrong-axis-add-row"].result("add_row").forward.simplest
    assert r is not None and len(r.inputs[0]) == len(r.inputs[0][0]) == 2
    # the wrong sign is reported on the VJP, with the cotangent shown
    v = reports["wrong-sign-vjp"].result("sin").vjp.simplest
    assert v is not None and v.cotangent is not None and v.argument == 1


def test_the_worst_case_is_reported_beside_the_simplest(reports: dict[str, Report]) -> None:
    # the worst entry is the one with the largest error, not the shrunk one
    v = reports["wrong-sign-vjp"].result("sin").vjp
    assert v.worst is not None and v.simplest is not None
    assert v.worst.error_ulps is not None and v.simplest.error_ulps is not None
    assert v.worst.error_ulps >= v.simplest.error_ulps
    text = reports["wrong-sign-vjp"].format()
    assert "vjp worst" in text and "simplest failing input (shrunk)" in text


def test_cli_exit_code_on_a_broken_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with np.errstate(all="ignore"):
        code = conform_main(
            [f"{__name__}:NAN_SIGMOID", "--ops", "sigmoid,tanh", "--examples", "10"]
        )
    out = capsys.readouterr().out
    assert code == 1
    assert "sigmoid: FAIL" in out
    assert "1 passed, 1 failed" in out
