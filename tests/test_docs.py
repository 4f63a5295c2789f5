"""Every ``>>>`` example in README.md and docs/*.md runs, with its expected output.

Each file is one doctest session (see ``tests/markdown_doctest.py``), run in a temporary
directory; new files in docs/ are picked up without listing them here. Also checks the
README's statement of which ops are exact on Fractions against what the ops do.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import pytest
from markdown_doctest import count_examples, run

from refnn import DomainError, Matrix, ops

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
WITH_EXAMPLES = [p for p in FILES if count_examples(p) > 0]


def test_the_readme_and_the_tutorial_have_examples() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in WITH_EXAMPLES}
    assert {"README.md", "docs/tutorial.md"} <= names


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_markdown_examples_run(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = run(path)
    finally:
        os.chdir(cwd)
    report = capsys.readouterr().out
    assert result.attempted == count_examples(path)
    assert result.failed == 0, report


def _exact_on_fractions(name: str) -> bool:
    spec = ops.registry[name]
    try:
        for shapes, params in spec.cases(2):
            inputs = [
                Matrix.from_flat(m, n, [Fraction(k + 1, 4) for k in range(m * n)])
                for m, n in shapes
            ]
            out = spec.forward(*inputs, *params)
            assert all(type(x) in (Fraction, int) for x in out.data)
    except DomainError:
        return False
    return True


def test_the_readme_says_which_ops_are_exact_on_fractions() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(
        r"Exact on `Fraction`: (.*?)\.\s+(?:Without an exact form|No exact form)"
        r"[^:]*: (.*?)\.",
        text,
        flags=re.S,
    )
    assert m, "the README lists the ops that are exact on Fraction"
    exact = set(re.findall(r"`(\w+)`", m[1]))
    inexact = set(re.findall(r"`(\w+)`", m[2]))
    assert exact | inexact == set(ops.registry) and not (exact & inexact) - {"pow"}
    for name in ops.registry:
        if name == "pow":  # exact for integer powers only, as the README says
            continue
        assert _exact_on_fractions(name) == (name in exact), name
    assert ops.pow(Matrix([[Fraction(2, 3)]]), 3) == Matrix([[Fraction(8, 27)]])
    with pytest.raises(DomainError):
        ops.pow(Matrix([[Fraction(2, 3)]]), Fraction(1, 2))


def test_the_tutorial_follows_the_articles_order_and_its_map_points_at_real_files() -> None:
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    chapters = re.findall(r"^## \d\. (.+)$", text, flags=re.M)
    assert chapters == [
        "The tensor and its notation",
        "Element-wise and matrix products",
        "Gradients and backpropagation",
        "Layers and activations",
        "The visual goal",
    ]
    table = text.split("## Where each formula lives")[1].split("\n## ")[0]
    paths = re.findall(r"`((?:refnn|proofs|tests)/[\w/.]*)`", table)
    assert len(paths) >= 10
    for path in paths:
        assert (ROOT / path).exists(), path
    for name in re.findall(r"`ops\.(\w+)`", table):
        assert name in ops.registry, name
