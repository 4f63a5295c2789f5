"""Fourier features against a plain ReLU MLP, each at its best rate from a stated sweep.

On the 32×32 camera image, every candidate has about 700 trainable parameters (the Fourier
matrix B is fixed, drawn from the seed, and not counted) and trains the same number of
full-batch Adam steps (2,000, rate cosine-decayed ×0.1, as ``refnn reconstruct`` does).

The sweep, stated in full:

* ReLU MLPs on the raw coordinates: 24×2 (the ``relu`` row of the model table, 697
  parameters) and 17×3 (681 parameters);
* Fourier features [sin 2πxB, cos 2πxB] with F frequencies of scale σ, into a ReLU MLP,
  at F = 8 (16 features) into 18×2 (667 parameters), F = 16 into 14×2 (687), F = 32 into
  10×1 (661); σ ∈ {0.5, 1, 2, 4} (σ = 8 scored 13–19 dB in a first sweep);
* every candidate at every rate of ``RATES`` (1e-3, 3e-3, 1e-2, 3e-2, 1e-1), seed 0.

Each candidate keeps its best rate; the best ReLU and the best Fourier candidate are then
re-run at their rates on seeds 0, 1 and 2, and the script prints the mean difference
against the goal of issue 14 (≥ +5 dB). Every run goes through ``refnn.reconstruct``.

    python benchmarks/fourier_vs_relu.py              # numpy backend, about 10 minutes
    python benchmarks/fourier_vs_relu.py --steps 3 --size 6 --rates 1e-2 --sigmas 1  # smoke
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _timing import load_line  # noqa: E402

from refnn.reconstruct import ReconstructConfig, reconstruct  # noqa: E402

RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
SIGMAS = (0.5, 1.0, 2.0, 4.0)
#: ReLU shapes (width, depth) and Fourier shapes (frequencies, width, depth), ≈ 700 params.
RELU_SHAPES = ((24, 2), (17, 3))
FOURIER_SHAPES = ((8, 18, 2), (16, 14, 2), (32, 10, 1))


def candidates(sigmas: tuple[float, ...]) -> list[tuple[str, dict[str, Any]]]:
    """(label, configuration fields) of every candidate of the sweep."""
    out: list[tuple[str, dict[str, Any]]] = [
        (f"relu {w}×{d}", {"model": "relu", "width": w, "depth": d}) for w, d in RELU_SHAPES
    ]
    for f, w, d in FOURIER_SHAPES:
        for s in sigmas:
            out.append(
                (
                    f"fourier F={f} σ={s:g} {w}×{d}",
                    {
                        "model": "fourier",
                        "fourier_features": f,
                        "fourier_sigma": s,
                        "width": w,
                        "depth": d,
                    },
                )
            )
    return out


def psnr(
    fields: dict[str, Any], lr: float, seed: int, args: argparse.Namespace
) -> tuple[float, int]:
    cfg = ReconstructConfig(
        size=args.size, steps=args.steps, lr=lr, seed=seed, backend=args.backend, **fields
    )
    with tempfile.TemporaryDirectory() as tmp:
        m = reconstruct(cfg, Path(tmp, "run")).metrics
    return float(m["psnr_db"]), int(m["n_params"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    ap.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    print(load_line("before"))
    print(
        f"camera {args.size}×{args.size}, {args.steps} full-batch Adam steps, rate cosine-"
        f"decayed ×0.1, backend {args.backend}; sweep on seed {args.seeds[0]}"
    )
    t0 = time.perf_counter()
    print("\n| candidate | params | " + " | ".join(f"lr {r:g}" for r in args.rates) + " | best |")
    print("|---|---|" + "---|" * (len(args.rates) + 1))
    best: dict[str, tuple[float, float, str, dict[str, Any]]] = {}  # kind → (dB, lr, …)
    for label, fields in candidates(tuple(args.sigmas)):
        scores = [psnr(fields, r, args.seeds[0], args) for r in args.rates]
        db, lr = max((s[0], r) for s, r in zip(scores, args.rates, strict=True))
        cells = " | ".join(f"{s[0]:.2f}" for s in scores)
        print(f"| {label} | {scores[0][1]} | {cells} | {db:.2f} at {lr:g} |", flush=True)
        kind = fields["model"]
        if kind not in best or db > best[kind][0]:
            best[kind] = (db, lr, label, fields)
    print()
    means = {}
    for kind in ("relu", "fourier"):
        _, lr, label, fields = best[kind]
        runs = [psnr(fields, lr, s, args)[0] for s in args.seeds]
        means[kind] = statistics.fmean(runs)
        seeds = ", ".join(f"{x:.2f}" for x in runs)
        print(f"best {kind}: {label} at lr {lr:g}: {seeds} dB on seeds {args.seeds}")
    diff = means["fourier"] - means["relu"]
    print(
        f"\nfourier − relu, each at its best rate and shape, mean of {len(args.seeds)} seeds: "
        f"{diff:+.2f} dB (goal ≥ +5: {'met' if diff >= 5 else 'NOT met'}); "
        f"{time.perf_counter() - t0:.0f} s in all"
    )
    print(load_line("after"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
