"""The reconstruction pipeline and the ``refnn reconstruct`` command, on tiny images.

Each run here is a few steps on an 8×8 (or the 25×25 spiral) image, so the file runs in
seconds; the quality targets of the default run are measured by
``benchmarks/reconstruction.py``, not asserted here.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnn import Matrix, cli, nn
from refnn.cli import main
from refnn.errors import TrainingDiverged
from refnn.image import coordinate_grid, image_to_targets, load_image
from refnn.reconstruct import (
    MODELS,
    CheckpointError,
    ConfigError,
    Interrupted,
    ReconstructConfig,
    RunState,
    build_model,
    neighbour_baseline,
    reconstruct,
)

TINY = {"size": 8, "width": 8, "depth": 1, "checkpoint_every": 3, "lr_decay": 1.0}
OUTPUTS = {
    "original.png",
    "reconstruction.png",
    "comparison.png",
    "curve.png",
    "metrics.json",
    "params.json",
    "checkpoint.json",
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
    for key in (
        "psnr_db",
        "ssim",
        "steps",
        "seconds",
        "n_params",
        "n_pixels",
        "model",
        "width",
        "depth",
        "lr",
        "seed",
        "image_sha256",
        "refnn_version",
    ):
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
    assert m["n_params"] == sum(
        a * b + b for a, b in zip((2, 64, 64, 128, 64, 32), (64, 64, 128, 64, 32, 1), strict=True)
    )


def test_divergence_names_the_step(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as info:
        reconstruct(_cfg(model="relu", lr=1e200, steps=5), tmp_path / "d")
    assert info.value.step >= 1
    assert "--lr" in str(info.value)


# ----------------------------------------------------------------------- the command
def test_cli_runs_and_prints_psnr_and_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "reconstruct",
            "--size",
            "8",
            "--width",
            "8",
            "--depth",
            "1",
            "--steps",
            "3",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and str(out) in printed
    assert {p.name for p in out.iterdir()} == OUTPUTS


@pytest.mark.parametrize(
    "name, content",
    [("missing.png", None), ("text.png", b"not an image"), ("empty.png", b"")],
)
def test_cli_bad_images_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None
) -> None:
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


def test_cli_refuses_huge_images_unless_shrunk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "reconstruct",
            "--size",
            "8",
            "--max-pixels",
            "50",
            "--steps",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "pixel" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_unwritable_out_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    code = main(
        ["reconstruct", "--size", "8", "--steps", "1", "--quiet", "--out", str(blocker / "sub")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "output folder" in err and err.count("\n") == 1


def test_cli_corrupt_checkpoint_and_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "checkpoint.json").write_text('{"format": "something else"}')
    args = [
        "reconstruct",
        "--size",
        "8",
        "--width",
        "8",
        "--depth",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main([*args, "--steps", "2", "--resume"]) == 2
    assert "checkpoint" in capsys.readouterr().err
    args[-1] = str(tmp_path / "diverging")
    assert main([*args, "--steps", "3", "--model", "relu", "--lr", "1e200"]) == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "step" in err and "--lr" in err
    assert not (tmp_path / "diverging").exists()  # nothing was written: no folder is left


def test_help_explains_every_option() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "refnn", "reconstruct", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for opt in (
        "--size",
        "--model",
        "--width",
        "--depth",
        "--steps",
        "--lr",
        "--batch-size",
        "--seed",
        "--holdout",
        "--out",
        "--resume",
        "--quiet",
        "IMAGE",
    ):
        assert opt in proc.stdout


def test_errors_have_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "refnn", "reconstruct", str(tmp_path / "nope.png"), "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
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

    common = [
        "--size",
        "8",
        "--width",
        "8",
        "--depth",
        "1",
        "--lr-decay",
        "1",
        "--quiet",
        "--checkpoint-every",
        "100000",
    ]
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "refnn",
            "reconstruct",
            *common,
            "--steps",
            "10000000",
            "--out",
            str(cut),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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


# ----------------------------------------------------------------- the reshaped pipeline
def _hand_run(cfg: ReconstructConfig, image: str | None, size: int) -> Any:
    """The run ``cfg`` describes, driven by hand through ``nn.make_step``: the documented
    seeds (parameters from ``seed``, mini-batches from ``seed + 2``), the model table's
    network, loss and rate, and a checkerboard for ``holdout``."""
    img = load_image(image, size=size)
    h, w = img.shape
    X, Y = coordinate_grid(h, w), image_to_targets(img)
    if cfg.holdout:
        rows = [i * w + j for i in range(h) for j in range(w) if (i + j) % 2 == 0]
        X, Y = nn.take_rows(X, rows), nn.take_rows(Y, rows)
    n = X.shape[0]
    if cfg.model == "article":
        model = nn.mlp([2, 64, 64, 128, 64, 32, 1], "tanh")
        loss, lr = nn.binary_cross_entropy_with_logits, 3e-3
    else:
        model = nn.siren(2, 8, 1, 1, omega0=30.0)
        loss, lr = nn.mse, 5e-3
    params = model.init(random.Random(cfg.seed))
    opt = nn.Adam(nn.cosine(lr, cfg.steps, lr * 0.1))
    state = opt.init(params)
    step = nn.make_step(model, loss, opt)
    rng = random.Random(cfg.seed + 2)
    for _ in range(cfg.steps):
        if cfg.batch_size is None:
            params, state, _ = step(params, state, X, Y)
        else:
            b = rng.sample(range(n), cfg.batch_size)
            params, state, _ = step(params, state, nn.take_rows(X, b), nn.take_rows(Y, b))
    return params


@pytest.mark.parametrize(
    "kw",
    [
        {"batch_size": 20, "seed": 3},
        {"batch_size": 10, "holdout": True, "seed": 1},
        {
            "image": "spiral",
            "size": 5,
            "model": "article",
            "width": None,
            "depth": None,
            "steps": 2,
        },
    ],
)
def test_a_run_equals_the_same_run_driven_by_hand(tmp_path: Path, kw: dict[str, Any]) -> None:
    cfg = ReconstructConfig(**{**TINY, "steps": 6, "lr_decay": 0.1, **kw})
    reconstruct(cfg, tmp_path / "run")
    nn.save_params(tmp_path / "hand.json", _hand_run(cfg, cfg.image, cfg.size or 0))
    assert (tmp_path / "run" / "params.json").read_bytes() == (tmp_path / "hand.json").read_bytes()


def test_ctrl_c_while_a_batch_trains_resumes_bit_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C inside step 4, after its mini-batch was drawn: the checkpoint holds step 3
    *and* the batch generator as it was after step 3, so --resume redraws batch 4."""
    cfg = _cfg(steps=7, batch_size=20)
    reconstruct(cfg, tmp_path / "full")
    real_make_step = nn.make_step

    def make_step(*args: Any) -> Any:
        step = real_make_step(*args)
        calls = []

        def interrupted_at_4(*a: Any) -> Any:
            calls.append(1)
            if len(calls) == 4:
                raise KeyboardInterrupt
            return step(*a)

        return interrupted_at_4

    with monkeypatch.context() as m:
        m.setattr(nn, "make_step", make_step)
        with pytest.raises(Interrupted) as info:
            reconstruct(cfg, tmp_path / "cut")
    assert info.value.step == 3
    reconstruct(cfg, tmp_path / "cut", resume=True)
    assert (tmp_path / "full" / "params.json").read_bytes() == (
        tmp_path / "cut" / "params.json"
    ).read_bytes()


finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def run_states(draw: st.DrawFn) -> RunState:
    shapes = draw(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=3))
    leaves = [
        Matrix.from_flat(m, n, draw(st.lists(finite, min_size=m * n, max_size=m * n)))
        for m, n in shapes
    ]
    params = tuple({"W": x} for x in leaves)
    rng = random.Random(draw(st.integers(0, 2**32)))
    rng.random()
    # a consistent state (the schema checks it): one PSNR per step, held-out PSNRs at
    # increasing steps, Adam's moments shaped like the parameters and counting the steps
    step = draw(st.integers(0, 6))
    held = sorted(draw(st.sets(st.integers(1, max(step, 1)), max_size=step)))
    psnr = st.floats(allow_nan=False)
    moments = [
        Matrix.from_flat(
            *x.shape, draw(st.lists(finite, min_size=len(x.data), max_size=len(x.data)))
        )
        for x in leaves
    ]
    return RunState(
        config=ReconstructConfig(seed=draw(st.integers(0, 9))).resolved().identity(),
        image_sha256=draw(
            st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64))
        ),
        step=step,
        params=params,
        adam=nn.AdamState(
            step,
            tuple(moments),
            tuple(reversed(moments))
            if [x.shape for x in reversed(moments)] == [x.shape for x in moments]
            else tuple(moments),
        ),
        batch_rng=rng.getstate(),
        history={
            "step": [float(k) for k in range(1, step + 1)],
            "psnr": [draw(psnr) for _ in range(step)],
            "holdout_step": [float(k) for k in held],
            "holdout": [draw(psnr) for _ in held],
        },
        seconds=(seconds := draw(st.floats(0, 1e6))),
        full_accuracy=draw(
            st.none() | st.tuples(st.integers(0, step - 1), st.floats(0, seconds))
            if step
            else st.none()
        ),
    )


def _bits(x: Any) -> Any:
    """Every float of a run state as its hex form (so −0.0 and 0.0 differ)."""
    if isinstance(x, float):
        return x.hex()
    if isinstance(x, Matrix):
        return [_bits(v) for v in x.data]
    if isinstance(x, dict):
        return {k: _bits(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_bits(v) for v in x]
    return x


@given(run_states())
def test_run_state_json_round_trip_is_exact(run: RunState) -> None:
    text = json.dumps(run.to_json())
    back = RunState.from_json(json.loads(text))
    assert back == run
    assert _bits(dataclasses.asdict(back)) == _bits(dataclasses.asdict(run))


@pytest.mark.parametrize(
    "doc, why",
    [
        ({"format": "other"}, "not a refnn reconstruction checkpoint"),
        ([], "not a refnn reconstruction checkpoint"),
        ({"format": "refnn-reconstruct-checkpoint", "version": 99}, "unsupported version 99"),
        ({"format": "refnn-reconstruct-checkpoint", "version": 1, "step": 1}, "corrupt"),
    ],
)
def test_run_state_refuses_other_documents(doc: Any, why: str) -> None:
    with pytest.raises(CheckpointError, match=why):
        RunState.from_json(doc)


def test_resume_refuses_parameters_that_do_not_fit_the_model(tmp_path: Path) -> None:
    reconstruct(_cfg(steps=2), tmp_path / "r")
    path = tmp_path / "r" / "checkpoint.json"
    doc = json.loads(path.read_text())
    doc["params"] = json.loads(json.dumps(doc["params"]))
    doc["params"]["items"] = doc["params"]["items"][:-1]  # a layer fewer (W and b) ...
    for moment in ("m", "v"):  # ... consistently in Adam's state too
        doc["adam"][moment]["items"] = doc["adam"][moment]["items"][:-2]
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="do not fit the model"):
        reconstruct(_cfg(steps=4), tmp_path / "r", resume=True)


def test_build_model_refuses_an_unresolved_config() -> None:
    with pytest.raises(ConfigError, match=r"unresolved \(width=None\).*resolved\(\)"):
        build_model(ReconstructConfig(), 1)
    model = build_model(ReconstructConfig().resolved(), 1)
    w, d = MODELS["siren"].width, MODELS["siren"].depth  # 2 → w → … (d layers) → 1
    assert nn.n_params(model.init(random.Random(0))) == (2 * w + w) + (d - 1) * (w * w + w) + w + 1


def test_the_article_model_has_fixed_layers() -> None:
    spec = MODELS["article"]
    assert ReconstructConfig(model="article").resolved().width == spec.width
    ReconstructConfig(model="article", width=spec.width).resolved()  # resolving twice is fine
    with pytest.raises(ConfigError, match="fixed layer sizes"):
        ReconstructConfig(model="article", width=8).resolved()


def test_every_model_of_the_table_trains_one_step(tmp_path: Path) -> None:
    for name, spec in MODELS.items():
        kw: dict[str, Any] = {"width": None, "depth": None} if spec.fixed_layers else {}
        m = reconstruct(_cfg(model=name, steps=1, size=4, **kw), tmp_path / name).metrics
        assert m["model"] == name and math.isfinite(m["psnr_db"])
        for setting in spec.settings:
            assert m[setting] == getattr(ReconstructConfig(), setting)


def test_a_missing_backend_module_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the module 'refnn_no_such_module'"):
        reconstruct(_cfg(backend="refnn_no_such_module:BACKEND"), tmp_path / "o")
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------- one source of defaults
def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli._reconstruct_parser(parser.add_subparsers())
    return parser.parse_args(["reconstruct", *argv])


def test_the_command_without_options_is_the_api_default() -> None:
    assert cli.reconstruct_config(_parse()) == ReconstructConfig()
    parser = argparse.ArgumentParser()
    cli._reconstruct_parser(parser.add_subparsers())
    fields = {f.name for f in dataclasses.fields(ReconstructConfig)}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = [a for a in sub.choices["reconstruct"]._actions if a.dest in fields]
    assert len(options) >= 14
    for action in options:  # every option's default is the configuration's
        assert action.default == getattr(ReconstructConfig(), action.dest), action.dest
    model = next(a for a in options if a.dest == "model")
    assert list(model.choices or []) == list(MODELS)


def test_the_spiral_has_the_articles_size_in_the_command_and_the_api() -> None:
    from refnn.image import spiral

    articles = inspect.signature(spiral).parameters["size"].default
    assert articles == 25
    assert ReconstructConfig(image="spiral").resolved().size == articles
    assert cli.reconstruct_config(_parse("spiral")).resolved().size == articles
    assert cli.reconstruct_config(_parse("--image", "spiral")).resolved().size == articles
    assert ReconstructConfig().resolved().size == 32


def test_help_shows_no_empty_defaults_and_every_backend() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "refnn", "reconstruct", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(proc.stdout.split())
    assert "None" not in text
    for backend in ("reference", "numpy", "torch"):
        assert f"'{backend}'" in text
    for name in MODELS:
        assert f"{name}:" in text


def test_the_image_given_twice_differently_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["reconstruct", "camera", "--image", "spiral", "--quiet", "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "give the image once" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert cli.reconstruct_config(_parse("spiral", "--image", "spiral")).image == "spiral"


# ----------------------------------------------------------------- the learner's traps
# (issue 15, item 7; never replacing a run and a missing numpy are in test_faults.py)
def _photo(path: Path, w: int = 40, h: int = 30) -> Path:
    from PIL import Image as PILImage

    PILImage.new("RGB", (w, h), (200, 30, 30)).save(path)
    return path


def test_the_command_says_the_size_change_and_the_estimated_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import refnn.reconstruct as rec

    pic = _photo(tmp_path / "pic.png")
    args = ["reconstruct", str(pic), "--width", "4", "--depth", "1", "--steps", "5"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "40×30 → 32×24" in out  # the longer side becomes the default 32
    assert "for the 2 remaining steps" in out and "from 3 timed steps" in out
    assert "--backend numpy" not in out  # a short run needs no advice
    monkeypatch.setattr(rec, "SLOW_SECONDS", 0.0)  # every run is "long" now
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "--backend numpy" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert "→" not in capsys.readouterr().out  # --quiet: the summary only


def test_the_article_model_on_a_photograph_is_advised_against(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refnn.reconstruct import prepare

    plan = prepare(
        ReconstructConfig(image=str(_photo(tmp_path / "p.png", 8, 6)), model="article", steps=1),
        tmp_path / "o",
    )
    assert any("black-and-white" in n and "siren" in n for n in plan.notes())
    spiral = prepare(ReconstructConfig(image="spiral", model="article", steps=1), tmp_path / "s")
    assert len(spiral.notes()) == 1  # the spiral is what it is for
    assert not (tmp_path / "o").exists()  # prepare writes nothing


def test_help_says_which_model_suits_which_image(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also at "-"
    for name, spec in MODELS.items():
        assert f"{name}:" in text and "".join(spec.suits.split()) in text
    assert "black-and-whiteimagessuchasthespiral" in text
    assert "photographs" in text and "--force" in text


def test_bad_input_draws_no_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in (["missing.png"], ["--out", ""], ["--backend", "nosuchmod:X"]):
        assert main(["reconstruct", *bad, "--steps", "3"]) == 2  # not --quiet
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "%|" not in err and "step/s" not in err, err


@pytest.mark.parametrize("backend", ["reference", "numpy"])
def test_device_is_for_the_torch_backend_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    with pytest.raises(ConfigError, match="--device cuda is for the torch backend"):
        ReconstructConfig(backend=backend, device="cuda").resolved()
    out = tmp_path / "o"
    assert main(["reconstruct", "--backend", backend, "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "add --backend torch" in err, err
    assert not out.exists()


def test_device_is_not_part_of_a_runs_identity() -> None:
    a = ReconstructConfig(backend="torch", device="cpu").resolved()
    assert "device" not in a.identity()
    assert a.identity() == dataclasses.replace(a, device=None, backend="numpy").identity()
