"""The examples run, and what they print is right (judged against independent facts: the
article's worked sums, the least-squares line, XOR's truth table)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_01_tensors_prints_the_articles_sums() -> None:
    out = run("01_tensors.py")
    # [[1,2],[3,4]] + [[5,6],[7,8]] = [[6,8],[10,12]], in bracket form
    assert "⎡ 6   8⎤\n⎣10  12⎦" in out
    assert r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}" in out


def test_02_gradients_agree_with_sympy() -> None:
    out = run("02_gradients.py")
    assert "difference, expanded: 0" in out


def test_03_linear_regression_finds_the_line() -> None:
    out = run("03_linear_regression.py")
    fit = re.search(r"refnn fit:\s+slope ([-\d.]+), intercept ([-\d.]+)", out)
    ls = re.search(r"least squares:\s+slope ([-\d.]+), intercept ([-\d.]+)", out)
    assert fit and ls
    slope, intercept = float(fit[1]), float(fit[2])
    assert abs(slope - float(ls[1])) < 0.05 and abs(intercept - float(ls[2])) < 0.05
    assert abs(slope - 3) < 0.2 and abs(intercept - 2) < 0.2


def test_04_xor_learns_the_truth_table() -> None:
    out = run("04_xor.py")
    assert "4/4 correct" in out


def test_05_two_moons_classifies(tmp_path: Path) -> None:
    out = run("05_two_moons.py", "--out", str(tmp_path / "moons.png"))
    acc = re.search(r"held-out accuracy: ([\d.]+)%", out)
    assert acc and float(acc[1]) >= 95.0


def test_06_reconstruct_improves_on_a_tiny_image(tmp_path: Path) -> None:
    out = run("06_reconstruct.py", "--steps", "30", "--size", "10", "--out", str(tmp_path))
    assert re.search(r"final PSNR ([\d.]+) dB", out)
    assert {p.name for p in tmp_path.iterdir()} == {
        "reconstruction.png",
        "comparison.png",
        "curve.png",
    }
