"""Declared policies of ``refnn conform`` (subnormals, signed zeros, special values), known
deviations, parameters as a backend sees them, reproducible examples, the command line's
manners and the inert pytest plugin."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

from refnn import Matrix
from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix
from refnn.conformance import conform
from refnn.conformance._inputs import ExampleSource, special_examples
from refnn.conformance.cli import accuracy_main, conform_main, vectors_main
from refnn.conformance.expect import ExpectFileError, load_expectations
from refnn.conformance.policy import SMALLEST_NORMAL, Policy, flush
from refnn.ops import registry

TINY = SMALLEST_NORMAL


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would, capturing its output (five minutes at most)."""
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False
    )


def _plugin() -> list[str]:
    import importlib.metadata

    names = {e.name for e in importlib.metadata.entry_points(group="pytest11")}
    return [] if "refnn" in names else ["-p", "refnn.conformance.pytest_plugin"]


def _ftz(a: Any) -> Any:
    return np.where(np.abs(a) < TINY, np.copysign(0.0, a), a)


def _flushing(name: str = "ftz") -> NumpyBackend:
    """NumPy with flush-to-zero / denormals-are-zero on every kernel, as XLA on CPU."""

    def wrap(k: Any) -> Any:
        def kernel(*args: Any) -> NumpyMatrix:
            ins = [NumpyMatrix(_ftz(a.array)) if isinstance(a, NumpyMatrix) else a for a in args]
            return NumpyMatrix(_ftz(k(*ins).array))

        return kernel

    return NumpyBackend(name=name, kernels={n: wrap(k) for n, k in KERNELS.items()})


# ---------------------------------------------------------------------- subnormals
def test_a_flushing_backend_fails_strict_with_subnormal_findings_and_passes_flush() -> None:
    ops = ["add", "hadamard", "sum_rows", "exp", "tanh"]
    be = _flushing()
    strict = conform(be, ops=ops, examples=30, seed=0)
    assert not strict.passed
    for op in strict.failed_ops:
        kinds = {**strict.result(op).forward.kinds, **strict.result(op).vjp.kinds}
        assert set(kinds) == {"subnormal"}, (op, kinds)
    assert "subnormal" in strict.format()
    relaxed = conform(be, ops=ops, examples=30, seed=0, policy=Policy(subnormals="flush"))
    assert relaxed.passed, relaxed.format()


def test_flush_does_not_excuse_a_real_error() -> None:
    be = _flushing("ftz-bad-tanh")
    be.kernels["tanh"] = lambda A: NumpyMatrix(np.tanh(A.array) * (1 + 2**-48))  # type: ignore[index]
    r = conform(be, ops=["tanh"], examples=10, policy=Policy(subnormals="flush"))
    assert r.failed_ops == ["tanh"] and r.result("tanh").forward.kinds.get("bound")


def test_flush_helper() -> None:
    assert flush(5e-324) == 0.0 and math.copysign(1, flush(-5e-324)) == -1
    assert flush(TINY) == TINY and flush(-1.5) == -1.5


# ---------------------------------------------------------------------- signed zeros
def _unsigned_zero_div() -> NumpyBackend:
    return NumpyBackend(
        name="plus-zero-div",
        kernels={**KERNELS, "div": lambda A, B: NumpyMatrix(A.array / B.array + 0.0)},
    )


def test_signed_zero_mismatch_is_its_own_finding_and_ignore_accepts_it() -> None:
    # IEEE: 0 / (−30) = −0; adding +0.0 turns every −0 into +0
    r = conform(_unsigned_zero_div(), ops=["div"], examples=40, seed=0)
    assert not r.passed
    kinds = r.result("div").forward.kinds
    assert "signed-zero" in kinds and "bound" not in kinds, kinds
    ok = conform(
        _unsigned_zero_div(), ops=["div"], examples=40, seed=0, policy=Policy(signed_zero="ignore")
    )
    assert ok.passed, ok.format()


def test_reductions_and_piecewise_ops_are_not_judged_on_zero_signs() -> None:
    be = NumpyBackend(
        name="plus-zeros",
        kernels={
            **KERNELS,
            "sum": lambda A: NumpyMatrix(np.sum(A.array).reshape(1, 1) + 0.0),
            "relu": lambda A: NumpyMatrix(np.maximum(A.array, 0.0) + 0.0),
        },
    )
    assert conform(be, ops=["sum", "relu"], examples=30).passed


# ---------------------------------------------------------------------- special values
_LIMITS = {  # the reference's value at ±inf and NaN, from mpmath's own functions
    "exp": mpmath.exp,
    "tanh": mpmath.tanh,
    "sqrt": mpmath.sqrt,
    "log": mpmath.log,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "relu": lambda x: mpmath.nan if mpmath.isnan(x) else max(x, mpmath.mpf(0)),
    "square": lambda x: x * x,
    "neg": lambda x: -x,
}


@pytest.mark.parametrize("op", sorted(_LIMITS))
@pytest.mark.parametrize("x", [math.inf, -math.inf, math.nan])
def test_reference_special_values_are_the_mathematical_limits(op: str, x: float) -> None:
    spec = registry[op]
    with mpmath.workdps(30):
        try:
            want = _LIMITS[op](mpmath.mpf(x))
        except (ValueError, ZeroDivisionError):
            want = None
    try:
        got = spec.forward(Matrix([[x]])).data[0]
    except (ArithmeticError, ValueError):  # the reference refuses: DomainError
        assert want is None or mpmath.isnan(want) or x < 0, (op, x, want)
        return
    if want is None or mpmath.isnan(want):
        assert math.isnan(got), (op, x, got)
    else:
        assert got == float(want), (op, x, got, want)


def test_special_value_class_covers_every_op_and_catches_a_bad_limit() -> None:
    for spec in registry.values():
        assert any(x != x for e in special_examples(spec) for inp in e.inputs for x in inp)
    bad = NumpyBackend(
        name="tanh-nan-at-inf",
        kernels={
            **KERNELS,
            "tanh": lambda A: NumpyMatrix(np.where(np.isinf(A.array), np.nan, np.tanh(A.array))),
        },
    )
    r = conform(bad, ops=["tanh"], examples=3)
    assert r.failed_ops == ["tanh"]
    assert r.result("tanh").special.failed >= 2  # +inf and −inf
    assert r.result("tanh").forward.failed == 0
    off = conform(bad, ops=["tanh"], examples=3, policy=Policy(special_values=False))
    assert off.passed


# ---------------------------------------------------------------------- known deviations
def _write_sloppy_module(folder: Path) -> None:
    """``sloppy_backend.py``: NumPy with a tanh about 6 ulp off, as a user's adapter file."""
    (folder / "sloppy_backend.py").write_text(
        "import numpy as np\n"
        "from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix\n"
        "backend = NumpyBackend(name='sloppy', kernels={**KERNELS, 'tanh': lambda A: "
        "NumpyMatrix(np.tanh(A.array) * (1 + 6 * 2**-53))})\n"
    )


def _sloppy_tanh() -> NumpyBackend:  # about 6 ulp off everywhere
    return NumpyBackend(
        name="sloppy",
        kernels={**KERNELS, "tanh": lambda A: NumpyMatrix(np.tanh(A.array) * (1 + 6 * 2**-53))},
    )


def test_known_deviation_passes_as_known_and_fails_beyond(tmp_path: Path) -> None:
    f = tmp_path / "expect.toml"
    f.write_text('[tanh]\nforward_ulps = 8\nreason = "approximate tanh"\n')
    r = conform(_sloppy_tanh(), ops=["tanh", "add"], examples=10, expect=load_expectations(f))
    assert r.passed and r.known_ops == ["tanh"], r.format()
    assert "known deviation (approximate tanh)" in r.format()
    f.write_text('[tanh]\nforward_ulps = 3\nreason = "approximate tanh"\n')
    r = conform(_sloppy_tanh(), ops=["tanh"], examples=10, expect=load_expectations(f))
    assert r.failed_ops == ["tanh"] and "exceeds the declared 3 ulp" in r.format()


def test_expect_files_json_and_errors(tmp_path: Path) -> None:
    j = tmp_path / "e.json"
    j.write_text(json.dumps({"exp": {"forward_ulps": 9, "vjp_ulps": 20, "reason": "x"}}))
    e = load_expectations(j)["exp"]
    assert (e.forward_ulps, e.vjp_ulps, e.reason) == (9.0, 20.0, "x")
    for text, needle in [
        ('[nope]\nreason = "x"\n', "unknown op"),
        ("[tanh]\nforward_ulps = 3\n", "reason"),
        ('[tanh]\nreason = "x"\nforward_ulps = -1\n', "≥ 0"),
        ('[tanh]\nreason = "x"\nulps = 2\n', "unknown key"),
        ("[tanh\n", "not valid TOML"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ExpectFileError, match=needle):
            load_expectations(bad)
    with pytest.raises(ExpectFileError, match="cannot read"):
        load_expectations(tmp_path / "missing.toml")


# ---------------------------------------------------------------------- parameters
def test_kernels_receive_ints_and_doubles_never_fractions() -> None:
    seen: dict[str, set[type]] = {}

    def spy(name: str) -> Any:
        def kernel(*args: Any) -> Any:
            arity = registry[name].arity
            for p in args[arity:]:
                seen.setdefault(name, set()).add(type(p))
            return KERNELS[name](*args)

        return kernel

    with_params = [n for n, s in registry.items() if s.params]
    be = NumpyBackend(name="spy", kernels={**KERNELS, **{n: spy(n) for n in with_params}})
    assert conform(be, ops=with_params, examples=8).passed
    for name in with_params:
        spec = registry[name]
        want = {int} if spec.int_params else {float}
        assert seen[name] == want, (name, seen[name])
    assert registry["pow"].backend_params((2,)) == (2.0,)
    assert registry["slice_cols"].backend_params((1, 2)) == (1, 2)


# ---------------------------------------------------------------------- reproducibility
def test_the_same_seed_draws_the_same_examples_whatever_else_runs() -> None:
    a = ExampleSource(registry["tanh"], seed=7)
    b = ExampleSource(registry["tanh"], seed=7)
    ExampleSource(registry["exp"], seed=7).next()
    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]
    assert (
        ExampleSource(registry["tanh"], seed=8).next()
        != ExampleSource(registry["tanh"], seed=7).next()
    )


def test_cli_and_plugin_draw_the_same_examples(tmp_path: Path) -> None:
    _write_sloppy_module(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    cli = _run(
        [
            sys.executable,
            "-m",
            "refnn.conformance",
            "conform",
            "sloppy_backend:backend",
            "--ops",
            "tanh",
            "--examples",
            "6",
            "--seed",
            "3",
        ],
        cwd=tmp_path,
        env=env,
    )
    plug = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *_plugin(),
            "--refnn-backend=sloppy_backend:backend",
            "--refnn-ops=tanh",
            "--refnn-examples=6",
            "--refnn-seed=3",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert cli.returncode == 1 and plug.returncode == 1, cli.stderr + plug.stdout

    def worst(text: str) -> str:
        i = text.index("forward worst")
        return text[i : text.index("forward simplest", i)]

    assert worst(cli.stdout) == worst(plug.stdout)
    assert not (tmp_path / ".hypothesis").exists()


# ---------------------------------------------------------------------- command line
def test_help_works_for_every_harness_command(capsys: pytest.CaptureFixture[str]) -> None:
    from refnn.cli import main

    for cmd in (
        ["conform", "--help"],
        ["vectors", "--help"],
        ["accuracy", "--help"],
        ["vectors", "export", "--help"],
    ):
        assert main(cmd) == 0, cmd
        assert "usage: refnn" in capsys.readouterr().out


def test_options_in_any_order_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refnn.cli import main

    assert main(["conform", "--examples", "2", "--ops", "add", "numpy"]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    assert main(["conform", "numpy", "--examples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "positive integer" in err
    assert main(["conform", "numpy", "--report", str(tmp_path / "no" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_local_adapter_imports_from_the_current_directory_and_fails_in_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.py").write_text(
        "from refnn.backends.numpy import NumpyBackend\nbackend = NumpyBackend(name='mine')\n"
    )
    (tmp_path / "broken.py").write_text("import no_such_dependency_anywhere\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    refnn = [
        sys.executable,
        "-c",
        "import sys; from refnn.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
    ok = _run(
        [*refnn, "conform", "mine:backend", "--ops", "add", "--examples", "2"],
        cwd=tmp_path,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    bad = _run([*refnn, "conform", "broken:backend"], cwd=tmp_path, env=env)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1, bad.stderr
    assert "'broken'" in bad.stderr and "no_such_dependency_anywhere" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == [
        "broken.py",
        "mine.py",
    ]


def test_the_plugin_is_inert_until_used() -> None:
    code = (
        "import sys, refnn.conformance.pytest_plugin\n"
        "heavy = [m for m in ('hypothesis', 'mpmath', 'sympy', 'numpy') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    r = _run([sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr


def test_plugin_expect_becomes_a_strict_xfail(tmp_path: Path) -> None:
    _write_sloppy_module(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    base = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rxX",
        "-p",
        "no:cacheprovider",
        *_plugin(),
        "--refnn-backend=sloppy_backend:backend",
        "--refnn-examples=4",
    ]

    def run(expect: str, ops: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "e.toml").write_text(expect)
        return _run([*base, f"--refnn-ops={ops}", "--refnn-expect=e.toml"], cwd=tmp_path, env=env)

    known = run('[tanh]\nforward_ulps = 8\nreason = "approximate tanh"\n', "tanh,add")
    assert known.returncode == 0 and "1 passed, 1 xfailed" in known.stdout, known.stdout
    assert "approximate tanh" in known.stdout
    beyond = run('[tanh]\nforward_ulps = 2\nreason = "too tight"\n', "tanh")
    assert beyond.returncode == 1 and "1 failed" in beyond.stdout, beyond.stdout
    stale = run('[add]\nforward_ulps = 2\nreason = "no longer true"\n', "add")
    assert stale.returncode == 1 and "XPASS" in stale.stdout, stale.stdout


# ---------------------------------------------------------------------- accuracy
def test_accuracy_table_and_tightness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md, js = tmp_path / "a.md", tmp_path / "a.json"
    code = accuracy_main(
        [
            "reference",
            "numpy",
            "--ops",
            "tanh,exp,matmul",
            "--examples",
            "8",
            "--markdown",
            str(md),
            "--json",
            str(js),
        ]
    )
    assert code == 0
    data = json.loads(js.read_text())
    assert data["backends"] == ["reference", "numpy"] and data["ops"] == ["tanh", "exp", "matmul"]
    for op in data["ops"]:
        for be in data["backends"]:
            cell = data["cells"][op][be]
            # both implementations meet their bounds on the wide set: tightness ≤ 100 %
            assert 0 <= cell["forward_share"] <= 1 and 0 <= cell["vjp_share"] <= 1, (op, be)
    assert "reference tightness fwd" in md.read_text()
    assert md.read_text() in capsys.readouterr().out


def test_vectors_help_and_bad_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert vectors_main(["export", str(f / "sub")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_policy_values_are_refused() -> None:
    with pytest.raises(ValueError, match="subnormals"):
        Policy(subnormals="maybe")  # type: ignore[arg-type]
    assert conform_main(["numpy", "--subnormals", "maybe"]) == 2


# ---------------------------------------------------------------------- docs and example
ROOT = Path(__file__).resolve().parents[1]


def test_backends_doc_lists_every_op_with_its_kernel_signature() -> None:
    text = (ROOT / "docs" / "backends.md").read_text(encoding="utf-8")
    table = text[text.index("## Every op") : text.index("Conventions at kinks")]
    rows = {
        line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| `")
    }
    assert set(rows) == {f"`{n}`" for n in registry}
    for name, spec in registry.items():
        row = rows[f"`{name}`"]
        for p in spec.params:
            kind = "int" if p in spec.int_params else "float"
            assert f"{p}: {kind}" in row, (name, p, row)
        b = spec.bound
        assert f"{b.ulps:g} ulp" in row and f"{b.vjp_ulps:g} ulp |" in row, (name, row)


def test_the_custom_backend_example_finds_numpys_signed_zero_and_passes_declared() -> None:
    cmd = [sys.executable, str(ROOT / "examples" / "07_custom_backend.py"), "--examples", "6"]
    bare = _run(cmd)
    assert bare.returncode == 1, bare.stdout + bare.stderr
    assert "32 passed, 1 failed" in bare.stdout and "pow: FAIL" in bare.stdout
    assert "signed-zero" in bare.stdout
    declared = _run([*cmd, "--expect", str(ROOT / "examples" / "07_expect.toml")])
    assert declared.returncode == 0, declared.stdout
    assert "33 passed, 0 failed (1 known deviation)" in declared.stdout
    assert declared.stderr == ""


def test_conform_speed_benchmark_runs_and_states_the_load() -> None:
    r = _run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "conform_speed.py"),
            "--repeat",
            "1",
            "--backends",
            "numpy",
        ]
    )
    assert r.returncode == 0, r.stderr
    assert "numpy" in r.stdout and "(exit 0)" in r.stdout and "load average" in r.stdout


def test_a_failing_adapter_factory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "factory.py").write_text(
        "class Backend:\n    def __init__(self):\n        raise RuntimeError('no device')\n"
    )
    r = _run(
        [sys.executable, "-m", "refnn.conformance", "conform", "factory:Backend"], cwd=tmp_path
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "factory:Backend" in r.stderr and "RuntimeError: no device" in r.stderr
