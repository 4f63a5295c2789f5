"""What ``refnn reconstruct`` records beside training, and what it costs.

The bookkeeping reuses the step's forward pass (no second pass per step) and writes
checkpoints by the clock; these tests hold it to what it claims: the pixel-accuracy
milestone agrees with a run driven by hand, survives Ctrl-C and ``--resume``, is checked
in a checkpoint, and checkpoints follow ``checkpoint_every`` or the clock.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import refnn.reconstruct as rec
from refnn import nn
from refnn.image import coordinate_grid, image_to_targets, load_image
from refnn.reconstruct import CheckpointError, Interrupted, ReconstructConfig, RunState, reconstruct

SPIRAL = {"image": "spiral", "size": 6, "model": "siren", "width": 8, "depth": 1, "lr_decay": 1.0}


def _right_after(cfg: ReconstructConfig) -> list[bool]:
    """For k = 0 … steps: are all pixels on the right side of ½ after k steps, driven by
    hand (the documented seed, the model table's network and loss, constant rate)?"""
    r = cfg.resolved()
    img = load_image(r.image, size=r.size)
    X, Y = coordinate_grid(*img.shape), image_to_targets(img)
    model = rec.build_model(r, 1)
    params = model.init(random.Random(r.seed))
    opt = nn.Adam(r.learning_rate())
    state = opt.init(params)
    step = nn.make_step(model, r.spec.loss, opt)
    out = []
    for k in range(r.steps + 1):
        pred = model.apply(params, X)
        out.append(all((p > 0.5) == (t > 0.5) for p, t in zip(pred.data, Y.data, strict=True)))
        if k < r.steps:
            params, state, _ = step(params, state, X, Y)
    return out


@pytest.mark.parametrize("lr", [3e-2, 1e-2])  # right from step 18 on; right only at the end
def test_full_accuracy_is_the_first_step_count_with_every_pixel_right(
    tmp_path: Path, lr: float
) -> None:
    cfg = ReconstructConfig(**SPIRAL, steps=60, lr=lr)  # type: ignore[arg-type]
    m = reconstruct(cfg, tmp_path / "run").metrics
    right = _right_after(cfg)
    assert any(right), "the test needs a run that gets every pixel right"
    first = right.index(True)
    assert m["full_accuracy_steps"] == first
    assert 0.0 <= m["full_accuracy_seconds"] <= m["seconds"]
    assert (m["pixel_accuracy"] == 1.0) == right[-1]


def test_no_milestone_for_photographs_or_mini_batches(tmp_path: Path) -> None:
    photo = ReconstructConfig(size=6, width=8, depth=1, steps=3)
    assert "full_accuracy_steps" not in reconstruct(photo, tmp_path / "a").metrics
    batched = ReconstructConfig(**SPIRAL, steps=40, lr=1e-2, batch_size=10)  # type: ignore[arg-type]
    assert "full_accuracy_steps" not in reconstruct(batched, tmp_path / "b").metrics


def test_the_milestone_survives_ctrl_c_and_resume(tmp_path: Path) -> None:
    cfg = ReconstructConfig(**SPIRAL, steps=60, lr=3e-2)  # type: ignore[arg-type]
    whole = reconstruct(cfg, tmp_path / "whole").metrics
    first = whole["full_accuracy_steps"]

    def stop(step: int, loss: float, psnr: float) -> None:
        if step == first + 5:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        reconstruct(cfg, tmp_path / "cut", progress=stop)
    ckpt = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert ckpt["full_accuracy"][0] == first
    again = reconstruct(cfg, tmp_path / "cut", resume=True).metrics
    assert again["full_accuracy_steps"] == first
    assert (tmp_path / "cut" / "params.json").read_bytes() == (
        tmp_path / "whole" / "params.json"
    ).read_bytes()


def _checkpoint(tmp_path: Path) -> dict[str, Any]:
    cfg = ReconstructConfig(size=6, width=8, depth=1, steps=3)
    reconstruct(cfg, tmp_path / "run")
    doc: dict[str, Any] = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    return doc


@pytest.mark.parametrize(
    "value", [[3, 0.0], [-1, 0.0], [0, -1.0], [0, 1e9], [0], "1", [True, 0.0], [0, "nan"]]
)
def test_a_checkpoint_with_a_bad_milestone_is_corrupt(tmp_path: Path, value: Any) -> None:
    doc = _checkpoint(tmp_path)
    doc["full_accuracy"] = value
    with pytest.raises(CheckpointError, match="full_accuracy"):
        RunState.from_json(doc)


def test_a_checkpoint_from_before_the_milestone_still_loads(tmp_path: Path) -> None:
    doc = _checkpoint(tmp_path)
    del doc["full_accuracy"]
    assert RunState.from_json(doc).full_accuracy is None


@pytest.mark.parametrize(
    "every, seconds, expected",
    [(None, 0.0, 5), (None, 1e9, 0), (2, 1e9, 2), (2, 0.0, 2)],
)
def test_checkpoints_follow_the_step_count_or_the_clock(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    every: int | None,
    seconds: float,
    expected: int,
) -> None:
    monkeypatch.setattr(rec, "CHECKPOINT_SECONDS", seconds)
    saved: list[int] = []
    real = rec._Session.save

    def spy(self: Any, state: Any) -> Any:
        saved.append(state.step)
        return real(self, state)

    monkeypatch.setattr(rec._Session, "save", spy)
    cfg = ReconstructConfig(size=6, width=8, depth=1, steps=5, checkpoint_every=every)
    reconstruct(cfg, tmp_path / "run")
    assert len(saved) == expected
    assert saved == sorted(saved)
