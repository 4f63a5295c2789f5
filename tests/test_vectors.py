"""Golden vectors (format version 2): the export, its contract, and the consumers that need
no Python (Node and Rust), tested both ways: they pass on the export and fail on a
corrupted value."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from refnn import Matrix
from refnn.backends import load
from refnn.conformance.cli import vectors_main
from refnn.conformance.policy import POLICY_TEXT, describe_policies, zero_sign_specified
from refnn.conformance.traces import TRACE_NAMES
from refnn.conformance.vectors import POLICY, VERSION, definition, param_classes
from refnn.ops import registry

ROOT = Path(__file__).resolve().parent.parent
NODE_CHECKER = ROOT / "interop" / "check_vectors.mjs"
RUST_DIR = ROOT / "interop" / "rust"
MIN_NORMAL = 2.0**-1022


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export at the defaults (seed 0, 4 cases)."""
    d = tmp_path_factory.mktemp("vectors")
    assert vectors_main(["export", str(d)]) == 0
    return d


def _shared_tmp(factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this session shares (cargo locks its own target)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def rust_checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Rust consumer, built once per session (offline: it needs no crates)."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip(
            "cargo is not on PATH: the Rust consumer is not built or run here (CI machines have it)"
        )
    target = _shared_tmp(tmp_path_factory) / "refnn-rust-target"
    r = subprocess.run(
        [
            cargo,
            "build",
            "--release",
            "--offline",
            "--quiet",
            "--manifest-path",
            str(RUST_DIR / "Cargo.toml"),
            "--target-dir",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    exe = target / "release" / "check_vectors"
    assert exe.exists()
    return exe


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the Node consumer is not run here (CI machines have it)")
    return node


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def _consumer(kind: str, rust: Path | None = None) -> list[str]:
    if kind == "node":
        return [_node(), str(NODE_CHECKER)]
    assert rust is not None
    return [str(rust)]


def _closing(out: str) -> tuple[str, str]:
    ops = [ln for ln in out.splitlines() if ln.startswith("ops: ")]
    traces = [ln for ln in out.splitlines() if ln.startswith("traces: ")]
    assert len(ops) == 1 and len(traces) == 1, out
    return ops[0], traces[0]


def _load(d: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((d / f"{name}.json").read_text())
    return doc


def _values(obj: dict[str, Any]) -> list[float]:
    dec = [float(x) for x in obj["decimal"]]
    hexs = [float.fromhex(x) for x in obj["hex"]]
    assert [x.hex() for x in dec] == [x.hex() for x in hexs]  # same doubles, signs included
    return hexs


def _matrix(obj: dict[str, Any]) -> Matrix[float]:
    return Matrix.from_flat(obj["rows"], obj["cols"], _values(obj))


def _param_value(p: dict[str, Any]) -> Any:
    return int(p["exact"]) if p["kind"] == "integer" else float.fromhex(p["hex"])


# ------------------------------------------------------------------ the format
def test_one_file_per_op_with_its_definition_and_the_policy(vector_dir: Path) -> None:
    index = json.loads((vector_dir / "index.json").read_text())
    assert index["ops"] == list(registry) and index["version"] == VERSION == 2
    assert index["traces"] == list(TRACE_NAMES)
    for name, spec in registry.items():
        doc = _load(vector_dir, name)
        assert doc["format"] == "refnn-golden-vectors" and doc["version"] == 2
        assert doc["op"] == name and doc["arity"] == spec.arity
        assert doc["param_names"] == list(spec.params)
        d = doc["definition"]
        assert d["formula"] and d["shapes"] and d["vjp"] and d["kinks"]
        assert sorted(d["params"]) == sorted(spec.params), name
        assert d == definition(spec)
        assert spec.formula in d["formula"] and spec.rule in d["vjp"], name  # the registry's
        assert doc["policy"] == POLICY
        assert doc["zero_sign"] == ("ieee" if zero_sign_specified(spec) else "unspecified")
        assert not doc["doc"].endswith(("and 0", "it computes")), "doc cut mid-sentence"
        assert len(doc["cases"]) >= 4
        for case in doc["cases"]:
            assert len(case["inputs"]) == spec.arity == len(case["vjp"])
            out, tol = _matrix(case["output"]), _matrix(case["output_tolerance"])
            assert out.shape == tol.shape and all(t >= 0 for t in tol.data)
            assert isinstance(case["subnormal"], bool)


def test_the_docs_define_every_op_as_the_files_do() -> None:
    text = (ROOT / "docs" / "vectors.md").read_text()
    lines = {ln.split("`")[1]: ln for ln in text.splitlines() if ln.startswith("- **`")}
    assert list(lines) == list(registry)
    for name, spec in registry.items():
        d, line = definition(spec), lines[name]
        for key in ("formula", "shapes", "vjp"):
            assert d[key] in line, (name, key)
        want = "ieee" if zero_sign_specified(spec) else "unspecified"
        assert line.endswith(f"Zero sign: {want}."), name
    assert "ops: N passed, N failed" in text and "--cases 50" in text


def test_one_text_of_the_policies_in_conform_the_files_and_the_docs() -> None:
    """The files embed policy.py's text itself, and docs/vectors.md quotes it verbatim."""
    assert POLICY["subnormals"] is POLICY_TEXT["subnormals"]
    assert POLICY["signed_zero"] is POLICY_TEXT["signed_zero"]
    text = " ".join((ROOT / "docs" / "vectors.md").read_text().split())
    for name in ("subnormals", "signed_zero"):
        for key, value in POLICY_TEXT[name].items():
            if key != "default":
                assert " ".join(value.split()) in text, (name, key)
    prose = describe_policies()
    for name, texts in POLICY_TEXT.items():
        assert f"{name} (default {texts['default']}):" in prose
        assert all(v in prose for k, v in texts.items() if k != "default"), name


def test_zero_signs_are_specified_exactly_where_conform_judges_them(vector_dir: Path) -> None:
    ieee = {n for n in registry if _load(vector_dir, n)["zero_sign"] == "ieee"}
    assert {"add", "div", "neg", "tanh", "sin", "sqrt", "transpose", "slice_cols"} <= ieee
    assert not ieee & {"relu", "step", "clip", "leaky_relu", "sum", "matmul", "softmax_rows"}


def test_integer_follows_the_parameter_kind_not_its_value(vector_dir: Path) -> None:
    integer_kind = {
        ("broadcast", "m"),
        ("broadcast", "n"),
        ("slice_cols", "j1"),
        ("slice_cols", "j2"),
    }
    seen_integer_valued_real = False
    for name, spec in registry.items():
        doc = _load(vector_dir, name)
        for case in doc["cases"]:
            for p in case["params"]:
                kind_is_int = (name, p["name"]) in integer_kind
                assert p["integer"] is kind_is_int and p["kind"] == (
                    "integer" if kind_is_int else "real"
                ), (name, p)
                value = Fraction(p["exact"])
                assert float.fromhex(p["hex"]) == float(value)  # the nearest double
                if not kind_is_int and value.denominator == 1:
                    seen_integer_valued_real = True  # e.g. scale's c = 2: still real
        assert doc["param_kinds"] == [
            "integer" if (name, n) in integer_kind else "real" for n in spec.params
        ]
    assert seen_integer_valued_real


def _classes_seen(d: Path, op: str) -> set[tuple[Fraction, ...]]:
    return {tuple(Fraction(p["exact"]) for p in c["params"]) for c in _load(d, op)["cases"]}


def test_default_cases_span_the_parameter_classes(vector_dir: Path) -> None:
    pows = {p for (p,) in _classes_seen(vector_dir, "pow")}
    assert any(p < 0 and p.denominator > 1 for p in pows)  # negative fractional
    assert any(p < 0 for p in pows) and any(0 < p < 1 for p in pows)
    assert {0, 1} <= pows and max(pows) >= 7
    assert (Fraction(1, 10),) in _classes_seen(vector_dir, "scale")
    assert (Fraction(1, 10),) in _classes_seen(vector_dir, "add_scalar")
    clips = _classes_seen(vector_dir, "clip")
    assert any(lo == hi for lo, hi in clips) and any(hi < 0 for lo, hi in clips)
    for name, spec in registry.items():  # one case at least per class
        assert len(_load(vector_dir, name)["cases"]) >= len(param_classes(spec))


def test_designed_inputs_reach_every_op(vector_dir: Path) -> None:
    totals = {"+0": 0, "-0": 0, "subnormal": 0, "tiny": 0, "large": 0}
    for name, spec in registry.items():
        kinds = set()
        for case in _load(vector_dir, name)["cases"]:
            for m, dom in zip(case["inputs"], spec.domains, strict=True):
                for v in _values(m):
                    if v == 0:
                        kinds.add("-0" if math.copysign(1, v) < 0 else "+0")
                    elif abs(v) < MIN_NORMAL:
                        kinds.add("subnormal")
                    elif abs(v) < 1e-8:
                        kinds.add("tiny")
                    elif abs(v) > 10 * max(abs(dom.lo), abs(dom.hi)):
                        kinds.add("large")
        assert kinds & {"subnormal", "tiny"}, (name, kinds)
        for k in kinds:
            totals[k] += 1
    assert all(n >= 5 for n in totals.values()), totals


def test_the_subnormal_mark_is_exact(vector_dir: Path) -> None:
    marked = 0
    for name in registry:
        for case in _load(vector_dir, name)["cases"]:
            vals = [v for m in case["inputs"] for v in _values(m)]
            vals += _values(case["cotangent"]) + _values(case["output"])
            vals += [v for m in case["vjp"] for v in _values(m)]
            assert case["subnormal"] == any(0 < abs(v) < MIN_NORMAL for v in vals), name
            marked += case["subnormal"]
    assert marked > 0


def _sign(x: float) -> float:
    return math.copysign(1.0, x)


def test_expected_zeros_carry_the_ieee_sign(vector_dir: Path) -> None:
    """Laws of IEEE 754 that fix a zero's sign: −(±0) = ∓0, tanh(±0) = sin(±0) = ±0,
    (±0)·y carries the product of the signs."""
    checked = 0
    for name in ("neg", "tanh", "sin", "hadamard"):
        for case in _load(vector_dir, name)["cases"]:
            xs = [_values(m) for m in case["inputs"]]
            for k, y in enumerate(_values(case["output"])):
                if y != 0:
                    continue
                if name == "neg":
                    want = -_sign(xs[0][k])
                elif name == "hadamard":
                    want = _sign(xs[0][k]) * _sign(xs[1][k])
                else:
                    want = _sign(xs[0][k])
                assert _sign(y) == want, (name, case["inputs"])
                checked += 1
    assert checked > 0


def _exact(name: str, xs: list[Matrix[Any]], ps: list[Any]) -> list[Fraction]:
    """The rational ops computed with exact Fractions: an independent source."""
    F = [[Fraction(v) for v in x.data] for x in xs]
    a = F[0]
    m, n = xs[0].shape
    if name == "add":
        return [u + v for u, v in zip(a, F[1], strict=True)]
    if name == "sub":
        return [u - v for u, v in zip(a, F[1], strict=True)]
    if name == "hadamard":
        return [u * v for u, v in zip(a, F[1], strict=True)]
    if name == "div":
        return [u / v for u, v in zip(a, F[1], strict=True)]
    if name == "scale":
        return [Fraction(ps[0]) * u for u in a]
    if name == "add_scalar":
        return [u + Fraction(ps[0]) for u in a]
    if name == "square":
        return [u * u for u in a]
    if name == "sum":
        return [sum(a, Fraction(0))]
    if name == "mean":
        return [sum(a, Fraction(0)) / (m * n)]
    if name == "sum_rows":
        return [sum((a[i * n + j] for i in range(m)), Fraction(0)) for j in range(n)]
    if name == "sum_cols":
        return [sum((a[i * n + j] for j in range(n)), Fraction(0)) for i in range(m)]
    assert name == "matmul"
    k, p = xs[1].shape
    b = F[1]
    return [
        sum((a[i * n + t] * b[t * p + j] for t in range(k)), Fraction(0))
        for i in range(m)
        for j in range(p)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "add",
        "sub",
        "hadamard",
        "div",
        "scale",
        "add_scalar",
        "square",
        "sum",
        "mean",
        "sum_rows",
        "sum_cols",
        "matmul",
    ],
)
def test_rational_ops_are_correctly_rounded_exact_values(vector_dir: Path, name: str) -> None:
    for case in _load(vector_dir, name)["cases"]:
        xs = [_matrix(m) for m in case["inputs"]]
        ps = [_param_value(p) for p in case["params"]]
        for want, got in zip(_exact(name, xs, ps), _values(case["output"]), strict=True):
            assert float(want) == got, (name, case["inputs"])


def test_export_is_deterministic(vector_dir: Path, tmp_path: Path) -> None:
    assert vectors_main(["export", str(tmp_path), "--ops", "tanh,clip"]) == 0
    for name in ("tanh", "clip"):
        assert (tmp_path / f"{name}.json").read_text() == (vector_dir / f"{name}.json").read_text()
    for name in TRACE_NAMES:
        assert (tmp_path / "traces" / f"{name}.json").read_text() == (
            vector_dir / "traces" / f"{name}.json"
        ).read_text()


def test_bad_cases_count_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vectors_main(["export", str(tmp_path), "--cases", "0"]) == 2
    assert "--cases must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("backend_name", ["reference", "numpy", "torch"])
def test_python_backends_meet_the_vectors(vector_dir: Path, backend_name: str) -> None:
    """Every backend meets every tolerance under the strict policies, which judge zero signs
    in the outputs of ops marked ``"zero_sign": "ieee"`` (as ``refnn conform`` does). The
    reference also meets the sign of every other expected zero: they are its own."""
    if backend_name == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed (CI installs it)")
    be = load(backend_name)
    for name in registry:
        doc = _load(vector_dir, name)
        strict_zero = backend_name == "reference" or doc["zero_sign"] == "ieee"
        for case in doc["cases"]:
            xs = [be.from_matrix(_matrix(m)) for m in case["inputs"]]
            params = [_param_value(p) for p in case["params"]]
            got = be.to_matrix(be.kernels[name](*xs, *params))
            want, tol = _matrix(case["output"]), _matrix(case["output_tolerance"])
            for g, w, t in zip(got.data, want.data, tol.data, strict=True):
                assert abs(g - w) <= t, (name, case)
                if strict_zero and g == 0 and w == 0:
                    assert _sign(g) == _sign(w), (name, "signed zero", case)


# ------------------------------------------------------------------ the consumers
@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_passes_every_op_and_trace_at_the_default_export(
    vector_dir: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
    r = _run([*_consumer(kind, rust), str(vector_dir)])
    assert r.returncode == 0, r.stdout + r.stderr
    ops, traces = _closing(r.stdout)
    assert ops == f"ops: {len(registry)} passed, 0 failed, 0 skipped", r.stdout
    assert traces == f"traces: {len(TRACE_NAMES)} passed, 0 failed", r.stdout
    for name in registry:
        assert f"ok    {name} (" in r.stdout


def test_consumers_pass_at_50_cases(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """One export at ``--cases 50`` (one test, so one export per session), both consumers."""
    assert vectors_main(["export", str(tmp_path), "--cases", "50"]) == 0
    missing = []
    for kind in ("node", "rust"):
        if (kind == "node" and shutil.which("node") is None) or (
            kind == "rust" and shutil.which("cargo") is None
        ):
            missing.append(kind)
            continue
        rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
        r = _run([*_consumer(kind, rust), str(tmp_path)])
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr
        ops, traces = _closing(r.stdout)
        assert ops == f"ops: {len(registry)} passed, 0 failed, 0 skipped"
        assert traces == f"traces: {len(TRACE_NAMES)} passed, 0 failed"
        assert f"({50} cases," in r.stdout
    if missing:
        pytest.skip(f"not on PATH here: {', '.join(missing)} (CI machines have both)")


def _corrupt(src: Path, dst: Path, name: str, edit: Any) -> None:
    shutil.copytree(src, dst)
    path = dst / f"{name}.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _set(m: dict[str, Any], k: int, v: float) -> None:
    m["hex"][k] = v.hex()
    m["decimal"][k] = repr(v)


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_reports_a_corrupted_value_as_a_failed_op(
    vector_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None

    def edit(doc: dict[str, Any]) -> None:
        out = doc["cases"][0]["output"]
        x = float.fromhex(out["hex"][0])
        _set(out, 0, x + 8 * abs(x) * 2.0**-52 + 1e-300)  # beyond the 2-ulp bound of tanh

    _corrupt(vector_dir, tmp_path / "v", "tanh", edit)
    r = _run([*_consumer(kind, rust), str(tmp_path / "v")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL  tanh" in r.stdout and "tanh case 1 output entry [1, 1]" in r.stdout
    assert _closing(r.stdout)[0] == f"ops: {len(registry) - 1} passed, 1 failed, 0 skipped"


def _first_zero(d: Path, zero_sign: str, part: str = "output") -> tuple[str, int, int]:
    """(op, case index, entry index) of an expected −0 in ``part`` (``output`` or the first
    ``vjp``) of an op whose file says ``zero_sign``."""
    for name in registry:
        doc = _load(d, name)
        if doc["zero_sign"] != zero_sign:
            continue
        for c, case in enumerate(doc["cases"]):
            m = case["output"] if part == "output" else case["vjp"][0]
            for k, v in enumerate(_values(m)):
                if v == 0 and _sign(v) < 0 and not case["subnormal"]:
                    return name, c, k
    raise AssertionError(f"no expected −0 in the {part} of a {zero_sign} op")


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_signed_zero_policy_both_ways(
    vector_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
    name, c, k = _first_zero(vector_dir, "ieee")
    _corrupt(
        vector_dir, tmp_path / "v", name, lambda doc: _set(doc["cases"][c]["output"], k, 0.0)
    )  # −0 made +0
    cmd = [*_consumer(kind, rust), str(tmp_path / "v")]
    strict = _run(cmd)
    assert strict.returncode == 1 and f"FAIL  {name}" in strict.stdout
    assert "signed zero: got -0, expected +0" in strict.stdout
    ignore = _run([*cmd, "--signed-zero", "ignore"])
    assert ignore.returncode == 0, ignore.stdout
    assert "signed_zero=ignore" in ignore.stdout


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_judges_no_zero_sign_where_it_is_unspecified(
    vector_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """A flipped zero in the output of an "unspecified" op (a reduction or a piecewise op)
    and in a VJP passes under strict, as in ``refnn conform``."""
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
    out_op, oc, ok = _first_zero(vector_dir, "unspecified")
    vjp_op, vc, vk = _first_zero(vector_dir, "ieee", "vjp")
    shutil.copytree(vector_dir, tmp_path / "v")
    for name, c, k, part in ((out_op, oc, ok, "output"), (vjp_op, vc, vk, "vjp")):
        path = tmp_path / "v" / f"{name}.json"
        doc = json.loads(path.read_text())
        case = doc["cases"][c]
        _set(case["output"] if part == "output" else case["vjp"][0], k, 0.0)  # −0 made +0
        path.write_text(json.dumps(doc))
    r = _run([*_consumer(kind, rust), str(tmp_path / "v")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "signed_zero=strict" in r.stdout


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_flush_policy_skips_exactly_the_marked_cases(
    vector_dir: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
    marked = sum(c["subnormal"] for n in registry for c in _load(vector_dir, n)["cases"])
    r = _run([*_consumer(kind, rust), str(vector_dir), "--subnormals", "flush"])
    assert r.returncode == 0, r.stdout
    assert f"cases skipped by policy (subnormals=flush): {marked}" in r.stdout
    assert _closing(r.stdout)[0] == f"ops: {len(registry)} passed, 0 failed, 0 skipped"


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_names_step_and_parameter_of_a_corrupted_trace(
    vector_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None
    shutil.copytree(vector_dir, tmp_path / "v")
    path = tmp_path / "v" / "traces" / "spiral_mlp_sgd.json"
    doc = json.loads(path.read_text())
    grad = doc["steps"][1]["grads"][2]  # step 2, W2
    assert grad["name"] == "W2"
    _set(grad["value"], 3, float.fromhex(grad["value"]["hex"][3]) + 1e-3)
    path.write_text(json.dumps(doc))
    r = _run([*_consumer(kind, rust), str(tmp_path / "v")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        "FAIL  trace spiral_mlp_sgd: first failure at step 2 gradient of W2 entry [1, 4]"
    ) in r.stdout
    assert _closing(r.stdout)[1] == f"traces: {len(TRACE_NAMES) - 1} passed, 1 failed"


@pytest.mark.parametrize("kind", ["node", "rust"])
def test_consumer_rejects_an_unknown_version(
    vector_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    rust = request.getfixturevalue("rust_checker") if kind == "rust" else None

    def edit(doc: dict[str, Any]) -> None:
        doc["version"] = 1

    _corrupt(vector_dir, tmp_path / "v", "add", edit)
    r = _run([*_consumer(kind, rust), str(tmp_path / "v")])
    assert r.returncode == 2 and "version" in r.stderr
