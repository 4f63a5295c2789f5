"""Held-out pixels: can a network a user selects beat the average of the 4 neighbours?

``refnn reconstruct --holdout`` trains on the pixels with i + j even and reports PSNR on
the others, beside the neighbour-average baseline. This script sweeps models that might
interpolate better (SIREN with a lower ω₀, Fourier features of a smaller scale σ, the
plain ReLU MLP) and chooses among them, and their number of steps (early stopping), on a
**validation split carved from the training half**: a random eighth of the training pixels
(seed 3), never a held-out pixel.

Protocol, for each candidate of :data:`CANDIDATES` (32×32 camera, full-batch Adam at a
constant rate, so stopping at step k is exactly ``--steps k``):

1. train on the training half minus the validation pixels for ``--steps`` steps, scoring
   the validation PSNR every 50 steps; keep the best validation PSNR and its step k*;
2. train on the whole training half (``--holdout``, as a user would) and read the held-out
   PSNR at step k* (chosen on validation only) and at the end.

The candidate with the best validation PSNR is the one the protocol selects; its held-out
PSNR at k* is the figure to hold against the baseline. Every run goes through
``refnn.reconstruct``.

    python benchmarks/holdout.py                     # numpy backend, a few minutes
    python benchmarks/holdout.py --steps 3 --size 6  # a smoke test
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _timing import load_line  # noqa: E402

from refnn.reconstruct import ReconstructConfig, prepare  # noqa: E402

#: (label, configuration fields): the sweep.
CANDIDATES: list[tuple[str, dict[str, Any]]] = [
    ("relu 24×2 lr 3e-3", {"model": "relu", "lr": 3e-3}),
    *(
        (
            f"siren 24×2 ω₀={w:g} lr 4e-3",
            {"model": "siren", "width": 24, "depth": 2, "omega0": w, "lr": 4e-3},
        )
        for w in (5.0, 10.0, 15.0, 30.0)
    ),
    *(
        (
            f"fourier F=16 σ={s:g} 32×2 lr 3e-3",
            {
                "model": "fourier",
                "fourier_features": 16,
                "fourier_sigma": s,
                "width": 32,
                "lr": 3e-3,
            },
        )
        for s in (0.5, 1.0, 2.0, 4.0)
    ),
]
EVERY = 50


def _run(cfg: ReconstructConfig, split: bool) -> dict[str, Any]:
    """Train ``cfg`` (``holdout=True``); with ``split``, on the training half minus the
    validation pixels, scoring those instead of the held-out half. Returns the metrics
    and the curve of the scored pixels (step → PSNR)."""
    with tempfile.TemporaryDirectory() as tmp:
        plan = prepare(cfg, Path(tmp, "run"))
        if split:
            train = plan.data.train_rows
            val = sorted(random.Random(3).sample(train, max(1, len(train) // 8)))
            fit = sorted(set(train) - set(val))
            plan.data = dataclasses.replace(plan.data, train_rows=fit, held_rows=val)
        result = plan.run()
        doc = json.loads((result.out / "checkpoint.json").read_text())
    hist = doc["history"]
    steps = [int(float(k)) for k in hist["holdout_step"]]
    scores = [float(v) for v in hist["holdout"]]
    return {"metrics": result.metrics, "curve": dict(zip(steps, scores, strict=True))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument(
        "--more-seeds", type=int, nargs="*", default=[1, 2], help="re-run the selected one"
    )
    args = ap.parse_args()
    print(load_line("before"))
    print(
        f"camera {args.size}×{args.size}, checkerboard held-out half, {args.steps} full-batch "
        f"Adam steps at a constant rate, backend {args.backend}, seed {args.seed}; validation: "
        f"a random eighth of the training half (seed 3)"
    )
    print(
        "\n| candidate | best validation PSNR (dB) at step k* | held-out PSNR at k* | "
        "held-out PSNR at the end | neighbour baseline |"
    )
    print("|---|---|---|---|---|")
    rows = []
    for label, fields in CANDIDATES:
        cfg = ReconstructConfig(
            size=args.size,
            steps=args.steps,
            seed=args.seed,
            backend=args.backend,
            holdout=True,
            lr_decay=1.0,
            eval_every=EVERY,
            **fields,
        )
        val = _run(cfg, split=True)
        k, v = max(val["curve"].items(), key=lambda kv: (kv[1], -kv[0]))
        held = _run(cfg, split=False)
        at_k, end = held["curve"][k], held["metrics"]["holdout_psnr_db"]
        base = held["metrics"]["holdout_neighbour_baseline_db"]
        rows.append((v, label, k, at_k, base))
        print(f"| {label} | {v:.2f} at {k} | {at_k:.2f} | {end:.2f} | {base:.2f} |", flush=True)
    v, label, k, at_k, base = max(rows)
    verdict = "beats" if at_k > base else "does NOT beat"
    print(
        f"\nselected on validation: {label}, stopped at step {k}: held-out {at_k:.2f} dB, "
        f"which {verdict} the neighbour average ({base:.2f} dB) by {at_k - base:+.2f} dB"
    )
    fields = dict(CANDIDATES)[label]
    others = []
    for seed in args.more_seeds:
        cfg = ReconstructConfig(
            size=args.size,
            steps=k,
            seed=seed,
            backend=args.backend,
            holdout=True,
            lr_decay=1.0,
            **fields,
        )
        others.append(_run(cfg, split=False)["metrics"]["holdout_psnr_db"])
    if others:
        every = [at_k, *others]
        print(
            f"the same, {k} steps, on seeds {[args.seed, *args.more_seeds]}: "
            f"{', '.join(f'{x:.2f}' for x in every)} dB held-out, mean "
            f"{sum(every) / len(every):.2f} dB against {base:.2f} dB; above it on "
            f"{sum(x > base for x in every)} of {len(every)} seeds"
        )
    print(load_line("after"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
