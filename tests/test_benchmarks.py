"""The benchmark scripts still run, and their built-in agreement checks (refnn against the
plain-Python idiom, against micrograd) hold. Timings are printed, never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_matmul_benchmark_checks_agreement() -> None:
    out = run("matmul.py", "12", "1")
    assert "results agree" in out and "refnn / idiom" in out


def test_mlp_step_benchmark_runs() -> None:
    assert "steps/s" in run("mlp_step.py", "0.05")


def test_vs_micrograd_checks_gradients_first() -> None:
    pytest.importorskip("micrograd")
    out = run("vs_micrograd.py", "0.05", "--repeat", "1")
    assert "largest relative difference" in out and "faster" in out


def test_reconstruction_benchmark_runs_on_a_tiny_image() -> None:
    out = run("reconstruction.py", "--steps", "3", "--size", "6", "--skip-spiral")
    for model in ("relu", "tanh", "fourier", "siren"):
        assert f"| {model} |" in out


def test_the_spiral_demo_checks_the_command_against_a_bare_loop() -> None:
    pytest.importorskip("numpy")
    out = run("reconstruction.py", "--skip-camera", "--spiral-rounds", "1", "--spiral-steps", "4")
    assert "final parameters identical to a bare loop" in out
    assert "bookkeeping" in out and "every pixel right in 0 of 1 rounds only" in out


def test_backend_overhead_checks_agreement_before_timing() -> None:
    pytest.importorskip("numpy")
    out = run("backend_overhead.py", "--repeat", "1", "--seconds", "0.01", "--siren-size", "12")
    assert out.count("numpy: refnn vs plain: losses and parameters after 3 steps agree") == 2
    assert "refnn / plain" in out and "load average" in out


def test_reference_step_benchmark_checks_agreement_before_timing() -> None:
    out = run("reference_step.py", "--repeat", "1", "--seconds", "0.01", "--skip-numpy")
    assert "refnn and plain Python: losses and parameters after 3 steps agree" in out
    assert "ms/step" in out and "steps fit in 90 s" in out and "load average" in out


def test_large_images_runs_the_readmes_commands() -> None:
    pytest.importorskip("torch")
    out = run("large_images.py", "--size", "8", "--steps", "3", "--skip-threads")
    commands = [line[2:] for line in out.splitlines() if line.startswith("$ ")]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert len(commands) == 2 and all(c in readme for c in commands), commands
    assert out.count("s of training (goal ≤") == 2 and "load average" in out


def test_fourier_vs_relu_sweeps_both_kinds() -> None:
    out = run(
        "fourier_vs_relu.py", "--steps", "3", "--size", "6", "--rates", "1e-2", "--sigmas", "2"
    )
    assert "| relu 24×2 | 697 |" in out and "| fourier F=8 σ=2 18×2 | 667 |" in out
    assert "fourier − relu" in out and "load average" in out


def test_holdout_sweep_selects_on_validation() -> None:
    out = run("holdout.py", "--steps", "3", "--size", "6")
    assert "selected on validation:" in out and "neighbour average" in out
