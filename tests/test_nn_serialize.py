"""Parameter files: exact round trips of Hypothesis-drawn trees, typed errors for damaged
or mismatched files, and atomic writes."""

from __future__ import annotations

import json
import os
import random
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnn import Matrix, RefnnError, nn

# every float bit pattern that matters: subnormals, ±0.0, huge, inf, NaN
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]),
)


@st.composite
def matrices(draw: st.DrawFn) -> Matrix[float]:
    m = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    return Matrix.from_flat(m, n, draw(st.lists(floats, min_size=m * n, max_size=m * n)))


trees = st.recursive(
    matrices() | st.none(),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3).map(tuple),
        st.lists(kids, max_size=3),
        st.dictionaries(st.text(alphabet="abcWé_", min_size=1, max_size=4), kids, max_size=3),
    ),
    max_leaves=6,
)


def bits(tree: Any) -> list[tuple[tuple[int, int], list[str]]]:
    return [(x.shape, [v.hex() for v in x.data]) for x in nn.tree_leaves(tree)]


@given(trees)
def test_round_trip_is_exact(tree: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "params.json"
        nn.save_params(path, tree)
        back = nn.load_params(path, like=tree)
        assert nn.tree_structure(back) == nn.tree_structure(tree)
        assert bits(back) == bits(tree)
        assert os.listdir(d) == ["params.json"]


def test_round_trip_of_a_model_and_the_file_is_readable(tmp_path: Path) -> None:
    model = nn.mlp([2, 3, 1], "tanh")
    params = model.init(random.Random(0))
    path = tmp_path / "m.json"
    nn.save_params(path, params)
    doc = json.loads(path.read_text())
    assert doc["format"] == "refnn.nn.params" and doc["version"] == 1
    w = doc["params"]["items"][0]["items"]["W"]
    assert w["shape"] == [2, 3]
    assert w["values"] == list(params[0]["W"].data)
    assert [float.fromhex(h) for h in w["hex"]] == list(params[0]["W"].data)
    back = nn.load_params(path, like=model.init(random.Random(1)))
    assert back == params


def test_int_entries_are_saved_as_floats_and_exotic_ones_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    nn.save_params(path, (Matrix([[1, -2]]),))
    assert nn.load_params(path)[0].data == (1.0, -2.0)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="only float parameters"):
        nn.save_params(path, (Matrix([[Fraction(1, 3)]]),))
    with pytest.raises(TypeError, match="no exact float form"):
        nn.save_params(path, (Matrix([[2**60 + 1]]),))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.json"]


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _good() -> dict[str, Any]:
    return {
        "format": "refnn.nn.params",
        "version": 1,
        "params": {
            "type": "tuple",
            "items": [
                {
                    "type": "matrix",
                    "shape": [1, 2],
                    "hex": [(0.5).hex(), (-3.0).hex()],
                    "values": [0.5, -3.0],
                },
            ],
        },
    }


def _mutate(path_in_doc: list[Any], value: Any) -> dict[str, Any]:
    doc = _good()
    node: Any = doc
    for key in path_in_doc[:-1]:
        node = node[key]
    node[path_in_doc[-1]] = value
    return doc


M = ["params", "items", 0]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"format": "refnn.nn.params", "version": 1, "params": ', "not a JSON parameter file"),
        ("[1, 2]", "not a refnn parameter file"),
        (_mutate(["format"], "something else"), "not a refnn parameter file"),
        (_mutate(["version"], 2), "version 2 is not supported"),
        ({"format": "refnn.nn.params", "version": 1}, "no 'params'"),
        (_mutate([*M, "shape"], [2, 2]), "needs 4 entries"),
        (_mutate([*M, "shape"], [1, 0]), "positive ints"),
        (_mutate([*M, "hex"], ["0x1p-1", "zz"]), "not a float in hex form"),
        (_mutate([*M, "values"], [0.5, -3.0000000000000004]), "entry 2 disagrees"),
        (_mutate([*M, "values"], [0.5, "three"]), "not a number"),
        (_mutate([*M, "type"], "tensor"), "unknown node type"),
        (_mutate(["params", "items"], {"a": 1}), "needs a list 'items'"),
        (_mutate(["params", "items", 0], 3), r"params\[0\]: expected a node"),
    ],
)
def test_damaged_files_raise_the_typed_error(tmp_path: Path, doc: Any, message: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(nn.ParamsFormatError, match=message) as info:
        nn.load_params(path)
    assert isinstance(info.value, RefnnError)
    assert isinstance(info.value, ValueError)


def test_the_good_file_loads(tmp_path: Path) -> None:
    assert nn.load_params(_write(tmp_path, _good())) == (Matrix([[0.5, -3.0]]),)


@pytest.mark.parametrize(
    ("like", "message"),
    [
        ((Matrix([[1.0, 2.0, 3.0]]),), r"params\[0\]: expected a 1×3 matrix, the file has 1×2"),
        ((Matrix([[1.0, 2.0]]), Matrix([[1.0]])), "expected 2 items, the file has 1"),
        ({"W": Matrix([[1.0, 2.0]])}, "expected a dict"),
        ([Matrix([[1.0, 2.0]])], "expected a list"),
        (((Matrix([[1.0, 2.0]]),),), r"params\[0\]: expected a tuple, the file has a matrix"),
    ],
)
def test_mismatched_structure_or_shape(tmp_path: Path, like: Any, message: str) -> None:
    with pytest.raises(nn.ParamsFormatError, match=message):
        nn.load_params(_write(tmp_path, _good()), like=like)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nn.load_params(tmp_path / "nope.json")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.json"
    nn.save_params(path, (Matrix([[1.0]]),))
    before = path.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        nn.save_params(path, (Matrix([[2.0]]),))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["p.json"]
    monkeypatch.undo()
    with pytest.raises(OSError, match="disk on fire"):
        monkeypatch.setattr(os, "replace", broken_replace)
        nn.save_params(tmp_path / "new.json", (Matrix([[2.0]]),))
    assert os.listdir(tmp_path) == ["p.json"]  # no partial new file either


def test_saving_keeps_the_permissions_of_the_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    nn.save_params(path, (Matrix([[1.0]]),))
    assert os.stat(path).st_mode & 0o777 == 0o640
