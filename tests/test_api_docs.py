"""The API reference builds from the docstrings (pdoc), with every cross-reference naming
something that exists: ``scripts/build_api_docs.py``, run as CI runs it."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_api_docs", ROOT / "scripts" / "build_api_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_builds_without_problems(tmp_path: Path) -> None:
    script = _script()
    assert script.main(["--out", str(tmp_path)]) == 0
    for page in ("refnn.html", "refnn/ops.html", "refnn/nn/layers.html", "refnn/image.html"):
        assert (tmp_path / page).is_file(), page
    ops_page = (tmp_path / "refnn/ops.html").read_text(encoding="utf-8")
    assert "scale" in ops_page and "Bound:" in ops_page  # op docstrings are in it


def test_a_broken_reference_is_reported() -> None:
    script = _script()
    fake = types.ModuleType("refnn_fake_docs")
    fake.__doc__ = (
        "Fine: :func:`refnn.grad`, :class:`~refnn.Matrix`, :mod:`refnn.nn.tree`, "
        ":func:`helper`, :exc:`ValueError`. Broken: :func:`refnn.no_such_function`, "
        ":meth:`refnn.Matrix.no_such_method`."
    )

    def helper() -> None:
        """Relative to its class: :meth:`method` is fine, :meth:`missing` is not."""

    helper.__module__ = fake.__name__
    fake.helper = helper  # type: ignore[attr-defined]
    sys.modules[fake.__name__] = fake
    try:
        problems = script.broken_references([fake.__name__])
    finally:
        del sys.modules[fake.__name__]
    joined = "\n".join(problems)
    assert "`refnn.no_such_function`" in joined
    assert "`refnn.Matrix.no_such_method`" in joined
    assert "`missing`" in joined and "`method`" in joined  # helper is no class: no method
    assert len(problems) == 4, problems
