"""README command 1 is the learner's command: after exactly its install, in a fresh virtual
environment, every ``>>>`` example of the README runs with its printed output.

This builds a virtual environment and installs into it (about 40 s here, using the same
package index as any ``pip install``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _command_1() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^# 1\..*\n(python3 -m venv .*)$", text, flags=re.M)
    assert m, "README command 1 is a '# 1.' comment followed by the command"
    return m[1]


def test_readme_examples_run_after_exactly_command_1(tmp_path: Path) -> None:
    command = _command_1()
    install = re.search(r'pip install (-e "\.\[[\w,]+\]")', command)
    assert install and install[1] == '-e ".[learn]"', command
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    proc = subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-e",
            f"{ROOT}[learn]",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # nothing from the test extra came along: the examples rely on the learn extra only
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('pytest', 'hypothesis', 'numpy') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "[]"
    run = subprocess.run(
        [str(py), str(ROOT / "tests" / "markdown_doctest.py"), str(ROOT / "README.md")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    m = re.search(r"README\.md: (\d+) examples, 0 failed", run.stdout)
    assert m and int(m[1]) >= 20, run.stdout
