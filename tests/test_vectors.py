"""Golden vectors: the export, its format, and consumers that need no Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from refnn import Matrix
from refnn.backends import load
from refnn.conformance.cli import vectors_main
from refnn.ops import registry

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "interop" / "check_vectors.mjs"


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("vectors")
    assert vectors_main(["export", str(d), "--seed", "1", "--cases", "3"]) == 0
    return d


def _matrix(obj: dict[str, object]) -> Matrix[float]:
    dec = [float(x) for x in obj["decimal"]]  # type: ignore[attr-defined]
    hexs = [float.fromhex(x) for x in obj["hex"]]  # type: ignore[attr-defined]
    assert dec == hexs
    return Matrix.from_flat(obj["rows"], obj["cols"], dec)  # type: ignore[arg-type]


def test_one_file_per_op_in_the_documented_format(vector_dir: Path) -> None:
    index = json.loads((vector_dir / "index.json").read_text())
    assert index["ops"] == list(registry) and index["version"] == 1
    for name, spec in registry.items():
        doc = json.loads((vector_dir / f"{name}.json").read_text())
        assert doc["format"] == "refnn-golden-vectors" and doc["version"] == 1
        assert doc["op"] == name and doc["arity"] == spec.arity
        assert doc["param_names"] == list(spec.params)
        assert doc["bound"]["ulps"] == spec.bound.ulps and doc["digits"] >= 50
        assert len(doc["cases"]) == 3
        for case in doc["cases"]:
            assert len(case["inputs"]) == spec.arity == len(case["vjp"])
            out, tol = _matrix(case["output"]), _matrix(case["output_tolerance"])
            assert out.shape == tol.shape and all(t >= 0 for t in tol.data)
            for p in case["params"]:
                assert float.fromhex(p["hex"]) == float(p["decimal"])


def test_export_is_deterministic(vector_dir: Path, tmp_path: Path) -> None:
    assert vectors_main(["export", str(tmp_path), "--seed", "1", "--cases", "3",
                         "--ops", "tanh,matmul"]) == 0
    for name in ("tanh", "matmul"):
        assert (tmp_path / f"{name}.json").read_text() == (vector_dir / f"{name}.json").read_text()


@pytest.mark.parametrize("backend_name", ["reference", "numpy"])
def test_python_backends_meet_the_vectors(vector_dir: Path, backend_name: str) -> None:
    be = load(backend_name)
    for name in registry:
        doc = json.loads((vector_dir / f"{name}.json").read_text())
        for case in doc["cases"]:
            xs = [be.from_matrix(_matrix(m)) for m in case["inputs"]]
            params = [int(p["exact"]) if p["integer"] else float.fromhex(p["hex"])
                      for p in case["params"]]
            got = be.to_matrix(be.kernels[name](*xs, *params))
            want, tol = _matrix(case["output"]), _matrix(case["output_tolerance"])
            for g, w, t in zip(got.data, want.data, tol.data, strict=True):
                assert abs(g - w) <= t, (name, case)


def test_the_vectors_catch_a_wrong_value(vector_dir: Path, tmp_path: Path) -> None:
    doc = json.loads((vector_dir / "tanh.json").read_text())
    x = float.fromhex(doc["cases"][0]["output"]["hex"][0])
    bad = x + 8 * abs(x) * 2.0**-52 + 1e-300
    doc["cases"][0]["output"]["hex"][0] = bad.hex()
    doc["cases"][0]["output"]["decimal"][0] = repr(bad)
    (tmp_path / "tanh.json").write_text(json.dumps(doc))
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    r = subprocess.run([node, str(CHECKER), str(tmp_path)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL  tanh" in r.stdout and "case 1 output entry [1, 1]" in r.stdout


def test_node_checker_passes_on_the_exported_vectors(vector_dir: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    r = subprocess.run([node, str(CHECKER), str(vector_dir)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    for op in ("add", "sub", "hadamard", "matmul", "transpose", "sum", "exp", "tanh",
               "sigmoid", "relu"):
        assert f"ok    {op} " in r.stdout
    assert "skipped (not implemented in this checker): " in r.stdout
