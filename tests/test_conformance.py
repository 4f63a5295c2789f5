"""The conformance harness on correct backends, its command line and its pytest plugin."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest

from refnn import Matrix
from refnn.conformance import _exact as ex
from refnn.conformance import conform
from refnn.conformance.cli import conform_main, main
from refnn.ops import InputDomain, registry


def test_the_reference_conforms_to_itself() -> None:
    report = conform("reference", examples=10, seed=3)
    assert report.passed, report.format()
    assert [r.op for r in report.results] == list(registry)


def test_round_float_is_correctly_rounded() -> None:
    with ex.precise():
        one = mpmath.mpf(1)
        half_ulp = mpmath.mpf(2) ** -53
        assert ex.round_float(one + half_ulp) == 1.0  # tie → even
        assert ex.round_float(one + half_ulp * 3) == 1.0 + 2**-51
        assert ex.round_float(one + half_ulp + mpmath.mpf(2) ** -150) == 1.0 + 2**-52
        assert ex.round_float(mpmath.mpf(2) ** -1075 * 3) == 2.0**-1073  # subnormal tie
        assert ex.round_float(-mpmath.mpf(1) / 3) == -1 / 3
    with pytest.raises(OverflowError):
        ex.round_float(mpmath.mpf(2) ** 1024)


def test_allowance_of_a_reduction_follows_the_terms_not_the_result() -> None:
    spec = registry["sum"]
    with ex.precise():
        xs = (ex.to_mp(Matrix([[1e16, 1.0, -1e16]])),)
        y = ex.exact_forward(spec, xs, ())
        scale, allow = ex.forward_scale_and_allowance(spec, xs, y, ())
    assert y.data[0] == 1
    assert scale[0] == 2 * 10**16 + 2  # |result| + Σ|terms|
    assert 3 < float(allow[0]) < 10  # γ₃·2e16 ≈ 6.7: a cancelling sum may lose the 1


def test_stress_values_leave_the_domain_outward() -> None:
    from refnn.conformance._harness import stress_values

    assert stress_values(InputDomain(lo=-8.0, hi=8.0)) == (
        -80.0,
        80.0,
        -800.0,
        800.0,
        -8000.0,
        8000.0,
    )
    pos = stress_values(InputDomain(lo=0.05, hi=5.0))
    assert min(pos) > 0 and min(pos) < 0.05 and max(pos) == 5000.0


def test_cli_passes_and_writes_a_json_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    code = conform_main(
        ["numpy", "--ops", "tanh,matmul", "--examples", "4", "--seed", "5", "--report", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "2 passed, 0 failed" in text and "matmul" in text
    data = json.loads(out.read_text())
    assert data["passed"] is True and data["seed"] == 5
    assert [r["op"] for r in data["results"]] == ["tanh", "matmul"]
    assert all(r["examples"] == 4 for r in data["results"])


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert conform_main(["numpy", "--ops", "nope"]) == 2
    assert "unknown op" in capsys.readouterr().err
    assert conform_main(["no-such-backend"]) == 2
    assert main([]) == 2


def test_module_entry_point_runs() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "refnn.conformance",
            "conform",
            "reference",
            "--ops",
            "relu",
            "--examples",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "1 passed, 0 failed" in r.stdout


def _plugin_args() -> list[str]:
    names = {e.name for e in importlib.metadata.entry_points(group="pytest11")}
    return [] if "refnn" in names else ["-p", "refnn.conformance.pytest_plugin"]


def test_pytest_plugin_runs_one_test_per_op(tmp_path: Path) -> None:
    (tmp_path / "broken_backend.py").write_text(
        "import numpy as np\n"
        "from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix\n"
        "backend = NumpyBackend(name='broken', kernels={**KERNELS, 'neg': lambda A: "
        "NumpyMatrix(A.array)})\n"
    )
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_plugin_args()]
    good = subprocess.run(
        [*base, "--refnn-backend=numpy", "--refnn-ops=add,tanh,neg", "--refnn-examples=3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "3 passed" in good.stdout
    bad = subprocess.run(
        [
            *base,
            "--refnn-backend=broken_backend:backend",
            "--refnn-ops=add,neg",
            "--refnn-examples=3",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "1 failed, 1 passed" in bad.stdout
    assert "refnn_conform[neg]" in bad.stdout and "neg: FAIL" in bad.stdout
    # without the option the plugin adds nothing
    idle = subprocess.run(
        base, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert idle.returncode == 5, idle.stdout + idle.stderr
