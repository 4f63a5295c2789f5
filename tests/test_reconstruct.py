"""The reconstruction pipeline and the ``refnn reconstruct`` command, on tiny images.

Each run here is a few steps on an 8×8 (or the 25×25 spiral) image, so the file runs in
seconds; the quality targets of the default run are measured by
``benchmarks/reconstruction.py``, not asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from refnn import nn
from refnn.cli import main
from refnn.errors import TrainingDiverged
from refnn.image import image_to_targets, load_image
from refnn.reconstruct import (
    CheckpointError,
    Interrupted,
    ReconstructConfig,
    neighbour_baseline,
    reconstruct,
)

TINY = {"size": 8, "width": 8, "depth": 1, "checkpoint_every": 3, "lr_decay": 1.0}
OUTPUTS = {
    "original.png", "reconstruction.png", "comparison.png", "curve.png",
    "metrics.json", "params.json", "checkpoint.json",
}


def _cfg(**kw: object) -> ReconstructConfig:
    return ReconstructConfig(**{**TINY, "steps": 6, **kw})  # type: ignore[arg-type]


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_run_writes_every_output_and_consistent_metrics(tmp_path: Path) -> None:
    res = reconstruct(_cfg(), tmp_path / "run", progress=None)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert names == OUTPUTS
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("psnr_db", "ssim", "steps", "seconds", "n_params", "n_pixels", "model",
                "width", "depth", "lr", "seed", "image_sha256", "refnn_version"):
        assert key in m
    assert m["n_pixels"] == 64 and m["steps"] == 6
    # n_params of a 2→8→1 SIREN: 2·8 + 8 + 8 + 1
    assert m["n_params"] == 2 * 8 + 8 + 8 + 1
    # the reported PSNR is that of the saved reconstruction against the original
    from refnn.image import psnr

    original = load_image(None, size=8)
    saved = load_image(tmp_path / "run" / "reconstruction.png")
    assert abs(psnr(original, saved) - m["psnr_db"]) < 1.0  # 8-bit rounding of the PNG
    assert math.isclose(m["psnr_db"], psnr(original, res.reconstruction), rel_tol=1e-12)
    # params.json is loadable and has the model's structure
    model = nn.siren(2, 8, 1, 1)
    import random

    nn.load_params(tmp_path / "run" / "params.json", like=model.init(random.Random(0)))


def test_training_improves_psnr(tmp_path: Path) -> None:
    res = reconstruct(_cfg(steps=40, lr=5e-3), tmp_path / "a")
    curve = json.loads((tmp_path / "a" / "checkpoint.json").read_text())["history"]["psnr"]
    assert float(curve[-1]) > float(curve[0]) + 3.0
    assert res.metrics["psnr_db"] > float(curve[0])


@pytest.mark.parametrize("batch_size", [None, 20])
def test_resume_is_bit_identical(tmp_path: Path, batch_size: int | None) -> None:
    cfg = _cfg(steps=7, batch_size=batch_size)
    reconstruct(cfg, tmp_path / "full")

    def interrupt_at_4(step: int, loss: float, psnr: float) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        reconstruct(cfg, tmp_path / "cut", progress=interrupt_at_4)
    assert info.value.step == 4
    ckpt = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert ckpt["step"] == 4
    reconstruct(cfg, tmp_path / "cut", resume=True)
    a = (tmp_path / "full" / "params.json").read_bytes()
    b = (tmp_path / "cut" / "params.json").read_bytes()
    assert a == b
    ma = json.loads((tmp_path / "full" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert ma["psnr_db"] == mb["psnr_db"]


def test_resume_with_more_steps_continues_the_same_run(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=6), tmp_path / "long")
    reconstruct(_cfg(steps=3), tmp_path / "short")
    reconstruct(_cfg(steps=6), tmp_path / "short", resume=True)
    assert (tmp_path / "long" / "params.json").read_bytes() == (
        tmp_path / "short" / "params.json"
    ).read_bytes()


def test_resume_refuses_other_runs_and_corrupt_checkpoints(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=3), tmp_path / "r")
    with pytest.raises(CheckpointError, match="seed"):
        reconstruct(_cfg(steps=6, seed=1), tmp_path / "r", resume=True)
    (tmp_path / "r" / "checkpoint.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        reconstruct(_cfg(steps=6), tmp_path / "r", resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        reconstruct(_cfg(steps=6), tmp_path / "empty", resume=True)


def test_holdout_reports_held_out_psnr_and_baseline(tmp_path: Path) -> None:
    res = reconstruct(_cfg(holdout=True, steps=4), tmp_path / "h")
    m = res.metrics
    assert math.isfinite(m["holdout_psnr_db"])
    img = load_image(None, size=8)
    targets = image_to_targets(img)
    held = [i * 8 + j for i in range(8) for j in range(8) if (i + j) % 2 == 1]
    assert m["holdout_neighbour_baseline_db"] == neighbour_baseline(targets, 8, 8, held)


def test_neighbour_baseline_matches_its_definition() -> None:
    # 2×2 image [[0, 1], [1, 0]] (one channel): held-out pixels (1,2) and (2,1) each have
    # the neighbours (1,1)=0 and (2,2)=0, so both are predicted 0 against a true 1: MSE 1.
    from refnn import Matrix

    t = Matrix([[0.0], [1.0], [1.0], [0.0]])
    assert neighbour_baseline(t, 2, 2, [1, 2]) == 0.0  # 10·log10(1/1)
    t2 = Matrix([[0.5], [1.0], [1.0], [0.5]])  # error 0.5 each: 10·log10(1/0.25)
    assert math.isclose(neighbour_baseline(t2, 2, 2, [1, 2]), 10 * math.log10(4))


def test_article_model_on_the_spiral_reports_pixel_accuracy(tmp_path: Path) -> None:
    cfg = ReconstructConfig(image="spiral", size=8, model="article", steps=2)
    m = reconstruct(cfg, tmp_path / "s").metrics
    assert 0.0 <= m["pixel_accuracy"] <= 1.0
    assert m["n_params"] == sum(a * b + b for a, b in zip((2, 64, 64, 128, 64, 32),
                                                           (64, 64, 128, 64, 32, 1), strict=True))


def test_divergence_names_the_step(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as info:
        reconstruct(_cfg(model="relu", lr=1e200, steps=5), tmp_path / "d")
    assert info.value.step >= 1
    assert "--lr" in str(info.value)


# ----------------------------------------------------------------------- the command
def test_cli_runs_and_prints_psnr_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    out = tmp_path / "cli"
    code = main(["reconstruct", "--size", "8", "--width", "8", "--depth", "1", "--steps", "3",
                 "--quiet", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and str(out) in printed
    assert {p.name for p in out.iterdir()} == OUTPUTS


@pytest.mark.parametrize(
    "name, content",
    [("missing.png", None), ("text.png", b"not an image"), ("empty.png", b"")],
)
def test_cli_bad_images_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     name: str, content: bytes | None) -> None:
    bad = tmp_path / name
    if content is not None:
        bad.write_bytes(content)
    expected = name
    out = tmp_path / "out"
    code = main(["reconstruct", str(bad), "--steps", "2", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("refnn: error:") and expected in err
    assert not out.exists()  # nothing written


def test_cli_refuses_huge_images_unless_shrunk(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reconstruct", "--size", "8", "--max-pixels", "50", "--steps", "1",
                 "--quiet", "--out", str(tmp_path / "o")])
    assert code == 2 and "pixel" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_unwritable_out_fails_cleanly(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    code = main(["reconstruct", "--size", "8", "--steps", "1", "--quiet",
                 "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == 2 and "output folder" in err and err.count("\n") == 1


def test_cli_corrupt_checkpoint_and_divergence(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "checkpoint.json").write_text('{"format": "something else"}')
    args = ["reconstruct", "--size", "8", "--width", "8", "--depth", "1", "--quiet",
            "--out", str(out)]
    assert main([*args, "--steps", "2", "--resume"]) == 2
    assert "checkpoint" in capsys.readouterr().err
    assert main([*args, "--steps", "3", "--model", "relu", "--lr", "1e200"]) == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "step" in err and "--lr" in err
    assert _no_temp_files(out)


def test_help_explains_every_option() -> None:
    proc = subprocess.run([sys.executable, "-m", "refnn", "reconstruct", "--help"],
                          capture_output=True, text=True, check=True)
    for opt in ("--size", "--model", "--width", "--depth", "--steps", "--lr", "--batch-size",
                "--seed", "--holdout", "--out", "--resume", "--quiet", "IMAGE"):
        assert opt in proc.stdout


def test_errors_have_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "refnn", "reconstruct", str(tmp_path / "nope.png"), "--quiet"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "nope.png" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_decaying_learning_rate_resumes_exactly_and_pins_the_step_budget(
    tmp_path: Path,
) -> None:
    cfg = _cfg(steps=6, lr_decay=0.1)
    reconstruct(cfg, tmp_path / "full")

    def interrupt_at_3(step: int, loss: float, psnr: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        reconstruct(cfg, tmp_path / "cut", progress=interrupt_at_3)
    with pytest.raises(CheckpointError, match="steps"):  # the schedule depends on it
        reconstruct(_cfg(steps=8, lr_decay=0.1), tmp_path / "cut", resume=True)
    reconstruct(cfg, tmp_path / "cut", resume=True)
    assert (tmp_path / "full" / "params.json").read_bytes() == (
        tmp_path / "cut" / "params.json"
    ).read_bytes()
    # and the decay changes the result compared with a constant rate
    reconstruct(_cfg(steps=6), tmp_path / "const")
    assert (tmp_path / "const" / "params.json").read_bytes() != (
        tmp_path / "full" / "params.json"
    ).read_bytes()


def test_real_ctrl_c_leaves_a_checkpoint_that_resumes_bit_identically(tmp_path: Path) -> None:
    import json as _json
    import signal
    import time

    common = ["--size", "8", "--width", "8", "--depth", "1", "--lr-decay", "1", "--quiet",
              "--checkpoint-every", "100000"]
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "refnn", "reconstruct", *common, "--steps", "10000000",
         "--out", str(cut)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(4.0)  # imports, then well into training
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    step = _json.loads((cut / "checkpoint.json").read_text())["step"]
    assert step >= 1
    assert _no_temp_files(cut)
    total = str(step + 3)
    assert main(["reconstruct", *common, "--steps", total, "--out", str(cut), "--resume"]) == 0
    assert main(["reconstruct", *common, "--steps", total, "--out", str(tmp_path / "full")]) == 0
    assert (cut / "params.json").read_bytes() == (tmp_path / "full" / "params.json").read_bytes()
