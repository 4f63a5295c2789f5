"""``refnn render`` and ``reconstruct --render-size``: a trained run's network on any grid.

Every run here is a few steps on an 8×8 (or 8×6) image, so the file runs in seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from refnn import render
from refnn.cli import main
from refnn.image import coordinate_grid, load_image
from refnn.reconstruct import MODELS, ConfigError, Interrupted, ReconstructConfig, reconstruct
from refnn.render import (
    MAX_RENDER_SIZE,
    RENDER_FILES,
    RenderError,
    load_run,
    render_grid,
    render_run,
    render_shape,
    written_by_render,
)

TINY = {"size": 8, "width": 8, "depth": 1, "checkpoint_every": 2, "lr_decay": 1.0}


def _cfg(**kw: Any) -> ReconstructConfig:
    return ReconstructConfig(**{**TINY, "steps": 5, **kw})


def _photo(path: Path, w: int = 40, h: int = 30) -> Path:
    """A colour image with detail in both directions (not square)."""
    rng = random.Random(7)
    im = PILImage.new("RGB", (w, h))
    im.putdata([(rng.randrange(256), (7 * i) % 256, (3 * i) % 256) for i in range(w * h)])
    im.save(path)
    return path


def _pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with PILImage.open(path) as im:
        return im.mode, im.size, im.tobytes()


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------ the grid
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40))
def test_the_grid_at_the_training_size_is_the_training_grid_bit_for_bit(h: int, w: int) -> None:
    assert render_grid(h, w, h, w, range(h)) == coordinate_grid(h, w)
    if h > 2:  # any band of rows is the same rows of the whole grid
        band = render_grid(h, w, h, w, range(1, h - 1))
        assert band.data == coordinate_grid(h, w).data[2 * w : 2 * w * (h - 1)]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 5))
def test_a_finer_grid_subdivides_every_training_pixel(h: int, w: int, k: int) -> None:
    # an integer refinement k splits each training pixel into k×k render pixels whose
    # centres average to the training pixel's centre: the render covers the same
    # rectangle as the image, with square pixels
    fine = render_grid(h, w, k * h, k * w, range(k * h)).data
    coarse = coordinate_grid(h, w).data
    for i in range(h):
        for j in range(w):
            for c in (0, 1):
                block = [
                    fine[2 * ((k * i + a) * k * w + k * j + b) + c]
                    for a in range(k)
                    for b in range(k)
                ]
                assert sum(block) / k**2 == pytest.approx(coarse[2 * (i * w + j) + c], abs=1e-12)


@pytest.mark.parametrize(("w", "h"), [(40, 30), (30, 40), (17, 5), (9, 9)])
@pytest.mark.parametrize("n", [1, 7, 8, 50])
def test_the_render_keeps_the_aspect_ratio_as_the_image_resize_does(
    tmp_path: Path, w: int, h: int, n: int
) -> None:
    photo = _photo(tmp_path / "p.png", w, h)
    assert render_shape(h, w, n) == load_image(photo, size=n).shape


# ------------------------------------------------------------------------ render = reconstruction
@pytest.mark.parametrize("model", [m for m in MODELS if m != "article"])
def test_rendering_at_the_training_size_is_the_reconstruction(
    tmp_path: Path, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "CHUNK_PIXELS", 5)  # one row a band: the bands are joined
    photo = _photo(tmp_path / "p.png")
    reconstruct(_cfg(image=str(photo), model=model, steps=3), tmp_path / "run")
    result = render_run(tmp_path / "run", 8, out=tmp_path / "r")
    assert result.shape == (6, 8)
    assert _pixels(tmp_path / "r" / "render.png") == _pixels(
        tmp_path / "run" / "reconstruction.png"
    )


def test_the_articles_network_renders_its_reconstruction_of_the_spiral(tmp_path: Path) -> None:
    reconstruct(
        ReconstructConfig(image="spiral", size=8, model="article", steps=2),
        tmp_path / "run",
    )
    render_run(tmp_path / "run", 8)
    rendered = _pixels(tmp_path / "run" / "render.png")
    assert rendered == _pixels(tmp_path / "run" / "reconstruction.png")


def test_the_numpy_backend_renders_what_the_reference_renders(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    reconstruct(_cfg(model="fourier"), tmp_path / "run")
    render_run(tmp_path / "run", 24, out=tmp_path / "ref")
    render_run(tmp_path / "run", 24, out=tmp_path / "np", backend="numpy")
    a, b = (_pixels(tmp_path / d / "render.png") for d in ("ref", "np"))
    assert a[:2] == b[:2] == ("L", (24, 24))
    assert max(abs(x - y) for x, y in zip(a[2], b[2], strict=True)) <= 1  # rounding only


def test_a_finer_render_samples_the_same_function(tmp_path: Path) -> None:
    # a 3k render of an image trained at 8 shares no pixel centre with it, but its
    # 3×3 blocks average close to the reconstruction: the same smooth function
    reconstruct(_cfg(steps=20, lr=5e-3), tmp_path / "run")
    render_run(tmp_path / "run", 24)
    _, _, fine = _pixels(tmp_path / "run" / "render.png")
    _, _, coarse = _pixels(tmp_path / "run" / "reconstruction.png")
    centres = [fine[(3 * i + 1) * 24 + 3 * j + 1] for i in range(8) for j in range(8)]
    assert max(abs(a - b) for a, b in zip(centres, coarse, strict=True)) <= 1


# ------------------------------------------------------------------------ which state is rendered
def _interrupt_at(k: int) -> Any:
    def hook(step: int, loss: float, psnr: float) -> None:
        if step == k:
            raise KeyboardInterrupt

    return hook


def test_an_interrupted_run_renders_its_checkpoint(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=4), tmp_path / "four")
    with pytest.raises(Interrupted):
        reconstruct(_cfg(steps=6), tmp_path / "cut", progress=_interrupt_at(4))
    assert not (tmp_path / "cut" / "original.png").exists()
    assert load_run(tmp_path / "cut").source == "checkpoint.json"
    assert load_run(tmp_path / "cut").step == 4
    render_run(tmp_path / "four", 16)
    render_run(tmp_path / "cut", 16)
    assert _listing(tmp_path / "four")["render.png"] == _listing(tmp_path / "cut")["render.png"]


def test_a_finished_run_resumed_and_interrupted_renders_the_later_checkpoint(
    tmp_path: Path,
) -> None:
    reconstruct(_cfg(steps=5), tmp_path / "five")
    reconstruct(_cfg(steps=3), tmp_path / "run")
    with pytest.raises(Interrupted):
        reconstruct(_cfg(steps=6), tmp_path / "run", resume=True, progress=_interrupt_at(5))
    run = load_run(tmp_path / "run")
    assert (run.step, run.source) == (5, "checkpoint.json")  # not the stale params.json
    render_run(tmp_path / "five", 16)
    render_run(tmp_path / "run", 16)
    assert _listing(tmp_path / "five")["render.png"] == _listing(tmp_path / "run")["render.png"]


# ------------------------------------------------------------------------ the side by side
def test_the_comparison_shows_the_bicubic_upscale_beside_the_render(tmp_path: Path) -> None:
    reconstruct(_cfg(image=str(_photo(tmp_path / "p.png"))), tmp_path / "run")
    render_run(tmp_path / "run", 32)  # 32×24, panels enlarged ×11 to at least 256 rows
    with PILImage.open(tmp_path / "run" / "original.png") as im:
        bicubic = im.resize((32, 24), PILImage.Resampling.BICUBIC)
    with PILImage.open(tmp_path / "run" / "render.png") as im:
        rendered = im.convert("RGB")
    with PILImage.open(tmp_path / "run" / "render_comparison.png") as im:
        canvas = im.convert("RGB")
    k = 11
    want = [
        p.resize((32 * k, 24 * k), PILImage.Resampling.NEAREST).tobytes()
        for p in (bicubic, rendered)
    ]
    tops = [
        t
        for t in range(canvas.height - 24 * k)
        if canvas.crop((8, t, 8 + 32 * k, t + 24 * k)).tobytes() == want[0]
    ]
    assert len(tops) == 1
    x = 8 + 32 * k + 8
    assert canvas.crop((x, tops[0], x + 32 * k, tops[0] + 24 * k)).tobytes() == want[1]


# ------------------------------------------------------------------------ reconstruct --render-size
def test_render_size_on_reconstruct_writes_what_render_writes(tmp_path: Path) -> None:
    reconstruct(_cfg(render_size=20), tmp_path / "a")
    assert set(RENDER_FILES) <= set(_listing(tmp_path / "a"))
    reconstruct(_cfg(), tmp_path / "b")
    render_run(tmp_path / "b", 20)
    a, b = _listing(tmp_path / "a"), _listing(tmp_path / "b")
    for name in RENDER_FILES:
        assert a[name] == b[name], name  # byte for byte, description included


def test_a_rerun_without_render_size_removes_the_stale_render(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=3, render_size=12), tmp_path / "run")
    reconstruct(_cfg(steps=5), tmp_path / "run", resume=True)
    assert not set(RENDER_FILES) & set(_listing(tmp_path / "run"))


def test_the_render_size_does_not_change_the_run(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=3, render_size=12), tmp_path / "run")
    reconstruct(_cfg(steps=5, render_size=30), tmp_path / "run", resume=True)  # same run
    reconstruct(_cfg(steps=5), tmp_path / "plain")
    assert (tmp_path / "run" / "params.json").read_bytes() == (
        tmp_path / "plain" / "params.json"
    ).read_bytes()
    assert _pixels(tmp_path / "run" / "render.png")[1] == (30, 30)


@pytest.mark.parametrize("bad", [0, -3, MAX_RENDER_SIZE + 1, 2.5, True])
def test_a_bad_render_size_is_refused_before_training(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError, match="render-size"):
        reconstruct(_cfg(render_size=bad), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------ the command
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render") / "run"
    reconstruct(_cfg(), folder)
    return folder


def _copy(run_dir: Path, to: Path) -> Path:
    to.mkdir()
    for name, data in _listing(run_dir).items():
        if name not in RENDER_FILES:
            (to / name).write_bytes(data)
    return to


def test_the_command_writes_both_files_and_says_where(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(run_dir, tmp_path / "run")
    assert main(["render", str(run), "--size", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "40×40" in out and "render.png" in out and "render_comparison.png" in out
    assert _pixels(run / "render.png")[:2] == ("L", (40, 40))
    assert all(written_by_render(run / n) for n in RENDER_FILES)
    # a second render replaces the first without --force: render wrote it
    assert main(["render", str(run), "--size", "12", "--quiet"]) == 0
    assert _pixels(run / "render.png")[1] == (12, 12)
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporaries


def test_out_names_a_folder_created_for_the_render(run_dir: Path, tmp_path: Path) -> None:
    before = _listing(run_dir)
    out = tmp_path / "new" / "renders"
    assert main(["render", str(run_dir), "--size", "9", "--out", str(out), "--quiet"]) == 0
    assert set(_listing(out)) == set(RENDER_FILES)
    assert _listing(run_dir) == before


def test_a_file_render_did_not_write_needs_force(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _photo(out / "render.png", 5, 5)  # someone's own picture of that name
    mine = (out / "render.png").read_bytes()
    assert main(["render", str(run_dir), "--size", "9", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert _listing(out) == {"render.png": mine}
    assert main(["render", str(run_dir), "--size", "9", "--out", str(out), "--force"]) == 0
    assert written_by_render(out / "render.png")


def _replace_by_a_file(run: Path) -> None:
    for p in run.iterdir():
        p.unlink()
    run.rmdir()
    run.write_text("just a file")


def _corrupt_metrics(run: Path, **changes: Any) -> None:
    m = json.loads((run / "metrics.json").read_text())
    m.update(changes)
    (run / "metrics.json").write_text(json.dumps(m))


BROKEN_RUNS = {
    "missing": (lambda run: run.rename(run.with_name("gone")), "does not exist"),
    "a file": (lambda run: _replace_by_a_file(run), "not a folder"),
    "not a run": (
        lambda run: [p.unlink() for p in run.iterdir() if p.suffix == ".json"],
        "not a refnn run",
    ),
    "params truncated": (
        lambda run: (run / "params.json").write_bytes((run / "params.json").read_bytes()[:100]),
        "params.json",
    ),
    "params of another width": (
        lambda run: _corrupt_metrics(run, width=9),
        "params.json",
    ),
    "absurd width": (lambda run: _corrupt_metrics(run, width=10**9), "params.json"),
    "params missing": (lambda run: (run / "params.json").unlink(), "no params.json"),
    "metrics not json": (lambda run: (run / "metrics.json").write_text("{"), "metrics.json"),
    "metrics a list": (lambda run: (run / "metrics.json").write_text("[]"), "metrics.json"),
    "unknown model": (lambda run: _corrupt_metrics(run, model="transformer"), "transformer"),
    "bad width": (lambda run: _corrupt_metrics(run, width="wide"), "metrics.json"),
    "bad steps": (lambda run: _corrupt_metrics(run, steps=-1), "steps"),
    "bad size": (lambda run: _corrupt_metrics(run, size=[9, 9]), "original.png"),
    "checkpoint corrupt": (
        lambda run: (run / "checkpoint.json").write_text('{"format": "x"}'),
        "checkpoint.json",
    ),
    "original not an image": (
        lambda run: (run / "original.png").write_text("no"),
        "original.png",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_RUNS))
def test_a_broken_run_is_one_line_exit_2_and_no_file(
    run_dir: Path, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(run_dir, tmp_path / "run")
    breaks, says = BROKEN_RUNS[case]
    breaks(run)
    before = _listing(run) if run.is_dir() else None
    assert main(["render", str(run), "--size", "16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refnn: error: ") and len(err.strip().splitlines()) == 1, err
    assert says in err and "Traceback" not in err
    if before is not None:
        assert _listing(run) == before  # nothing written


def _code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's errors
        return int(exit_.code or 0)


@pytest.mark.parametrize("size", ["0", "-2", "x", str(MAX_RENDER_SIZE + 1)])
def test_a_bad_size_is_one_line_exit_2_and_no_file(
    run_dir: Path, size: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _listing(run_dir)
    assert _code(["render", str(run_dir), "--size", size]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refnn: error: ") and len(err.strip().splitlines()) == 1, err
    assert _listing(run_dir) == before


def test_the_cap_says_why(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"memory.*time grows as N²"):
        render_run(tmp_path, MAX_RENDER_SIZE + 1)


def test_a_bad_backend_writes_nothing(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _listing(run_dir)
    assert main(["render", str(run_dir), "--size", "9", "--backend", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert _listing(run_dir) == before


def test_the_help_says_what_a_render_is_and_is_not() -> None:
    for command in ("render", "reconstruct"):
        proc = subprocess.run(
            [sys.executable, "-m", "refnn", command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        text = " ".join(proc.stdout.split())
        assert "not new detail" in text.lower() and "bicubic" in text, command


def test_the_render_benchmark_runs_on_a_tiny_image() -> None:
    pytest.importorskip("numpy")
    root = Path(__file__).resolve().parents[1]
    tiny = ["--steps", "3", "--size", "6", "--render", "12", "--time-size", "8"]
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "render.py"), *tiny],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for model in ("siren", "fourier", "relu"):
        assert f"| {model} |" in proc.stdout
    assert "reference / numpy" in proc.stdout and "load" in proc.stdout
