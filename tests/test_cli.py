"""The ``refnn`` command's dispatch: ``conform`` and ``vectors`` reach the harness, and a
bare ``refnn`` explains itself instead of doing nothing silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refnn.cli import main


def test_conform_subcommand_runs_the_harness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    code = main(
        ["conform", "reference", "--ops", "add,tanh", "--examples", "2", "--report", str(report)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "add" in out and "tanh" in out
    doc = json.loads(report.read_text())
    assert "add" in json.dumps(doc) and "tanh" in json.dumps(doc)


def test_conform_subcommand_rejects_unknown_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "no_such_backend_name", "--examples", "1"]) != 0


def test_vectors_subcommand_exports_files(tmp_path: Path) -> None:
    assert main(["vectors", "export", str(tmp_path), "--ops", "add"]) == 0
    doc = json.loads((tmp_path / "add.json").read_text())
    assert doc["op"] == "add"


def test_bare_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "reconstruct" in capsys.readouterr().err
