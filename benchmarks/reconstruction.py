"""Coordinate networks compared on the embedded camera image, and the article's spiral.

Trains ``relu``, ``tanh``, ``fourier`` and ``siren`` at (about) the same parameter budget
and the same number of steps on the 32×32 camera image, once on every pixel (train PSNR)
and once on a checkerboard half (held-out PSNR on the other half, with the
neighbour-average baseline beside it), and prints a table. Then trains the article's
network (2→64→64→128→64→32→1, tanh, sigmoid + cross-entropy) on its 25×25 spiral until
99% of the pixels are right and reports steps and time.

    python benchmarks/reconstruction.py                       # reference path, 1000 steps
    python benchmarks/reconstruction.py --backend numpy --steps 2000

Everything goes through ``refnn.reconstruct`` (the same code as ``refnn reconstruct``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from refnn.reconstruct import ReconstructConfig, reconstruct  # noqa: E402

# (model, width, depth): 2→24→24→1 SIREN and MLPs have 697 parameters; Fourier features
# (8 frequencies → 16 features) into 18×2 ReLU has 667.
MODELS = [("relu", 24, 2), ("tanh", 24, 2), ("fourier", 18, 2), ("siren", 24, 2)]


def run(cfg: ReconstructConfig, folder: Path) -> dict[str, float]:
    return reconstruct(cfg, folder).metrics


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="reference")
    ap.add_argument(
        "--spiral-backend",
        default="numpy",
        help="backend for the article network (23,041 parameters; the pure "
        "Python path takes about a second per step)",
    )
    ap.add_argument("--spiral-max-steps", type=int, default=4000)
    ap.add_argument("--skip-spiral", action="store_true")
    args = ap.parse_args()

    print(
        f"camera {args.size}×{args.size}, {args.steps} steps, full batch, Adam, "
        f"backend {args.backend}, seed {args.seed}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, width, depth in MODELS:
            base = ReconstructConfig(
                size=args.size,
                model=model,
                width=width,
                depth=depth,
                steps=args.steps,
                seed=args.seed,
                backend=args.backend,
            )
            t0 = time.perf_counter()
            full = run(base, Path(tmp, f"{model}-full"))
            held = run(
                ReconstructConfig(**{**base.__dict__, "holdout": True}), Path(tmp, f"{model}-held")
            )
            rows.append(
                (
                    model,
                    full["n_params"],
                    full["lr"],
                    full["psnr_db"],
                    held["holdout_psnr_db"],
                    held["holdout_neighbour_baseline_db"],
                    full["seconds"],
                    time.perf_counter() - t0,
                )
            )
            print(f"  {model} done", file=sys.stderr, flush=True)
    print()
    print(
        "| model | params | lr | train PSNR (dB) | held-out PSNR (dB) | neighbour baseline (dB) "
        "| train s | total s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]:g} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | "
            f"{r[6]:.1f} | {r[7]:.1f} |"
        )
    by = {r[0]: r for r in rows}
    print()
    print(f"fourier − relu (train): {by['fourier'][3] - by['relu'][3]:+.2f} dB (target ≥ +5)")
    best = max(rows, key=lambda r: r[3])[0]
    print(f"best train PSNR: {best} (target: siren)")

    if not args.skip_spiral:
        print()
        steps, acc, secs = spiral_run(args.seed, args.spiral_backend, args.spiral_max_steps)
        print(
            f"article network on the 25×25 spiral ({args.spiral_backend} backend, Adam lr "
            f"1e-3): {acc * 100:.1f}% pixel accuracy after {steps} steps in {secs:.1f} s"
        )
    return 0


def spiral_run(seed: int, backend: str, max_steps: int) -> tuple[int, float, float]:
    """Train the article's network on its spiral (the pipeline's model, loss and optimiser)
    until ≥ 99% of the pixels are on the right side of 0.5, checking every 50 steps."""
    import random

    from refnn import backends, nn, ops
    from refnn.image import coordinate_grid, image_to_targets, load_image
    from refnn.reconstruct import build_model

    cfg = ReconstructConfig(image="spiral", size=25, model="article", seed=seed).resolved()
    be = backends.load(backend)
    model = build_model(cfg, 1)
    params = nn.tree_map(be.from_matrix, model.init(random.Random(seed)))
    X = be.from_matrix(coordinate_grid(25, 25))
    target = image_to_targets(load_image("spiral", size=25))
    Y = be.from_matrix(target)
    opt = nn.Adam(cfg.lr)
    state = opt.init(params)
    step = nn.make_step(model, nn.binary_cross_entropy_with_logits, opt)
    acc = 0.0
    t0 = time.perf_counter()
    k = 0
    while k < max_steps:
        params, state, _ = step(params, state, X, Y)
        k += 1
        if k % 50 == 0:
            pred = be.to_matrix(ops.sigmoid(model.apply(params, X)))
            hits = sum((p > 0.5) == (t > 0.5) for p, t in zip(pred.data, target.data, strict=True))
            acc = hits / len(target.data)
            if acc >= 0.99:
                break
    return k, acc, time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
