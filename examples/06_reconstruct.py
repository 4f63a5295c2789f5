"""The article's goal through the Python API: reconstruct an image from its coordinates.

This is what ``refnn reconstruct`` does, spelled out: load the embedded camera photograph,
build the coordinate grid and targets, train a SIREN with Adam, look at the PSNR, and
write the pictures. (``refnn.reconstruct.reconstruct(config, out)`` does all of it in one
call, with checkpoints; this script shows the pieces.)

Run: python examples/06_reconstruct.py [--steps N] [--size N] [--out DIR]
(about a minute for the defaults below; ``refnn reconstruct`` trains longer, to ≥ 35 dB).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

from refnn import nn
from refnn.image import (
    comparison_image,
    coordinate_grid,
    curve_image,
    image_to_targets,
    load_image,
    prediction_to_image,
    psnr,
    save_png,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--out", default="runs/example-06")
    args = ap.parse_args()

    image = load_image("camera", size=args.size)  # the embedded photograph, box-resized
    h, w = image.shape
    X = coordinate_grid(h, w)  # (h·w)×2 pixel centres in (−1, 1)²
    Y = image_to_targets(image)  # (h·w)×1 grey values in [0, 1]

    model = nn.siren(2, width=24, depth=2, out_features=1, omega0=30.0)
    params = model.init(random.Random(0))
    print(f"{h}×{w} pixels, a SIREN with {nn.n_params(params)} parameters")

    optimiser = nn.Adam(2e-3)
    state = optimiser.init(params)
    step = nn.make_step(model, nn.mse, optimiser)
    steps, curve = [], []
    t0 = time.perf_counter()
    for k in range(1, args.steps + 1):
        params, state, loss = step(params, state, X, Y)
        steps.append(k)
        curve.append(-10 * math.log10(loss))
        if k % 100 == 0:
            print(f"  step {k:5d}: PSNR {curve[-1]:.2f} dB  ({time.perf_counter() - t0:.0f} s)")

    prediction = model.apply(params, X).map(lambda v: min(max(v, 0.0), 1.0))
    recon = prediction_to_image(prediction, h, w)
    print(f"final PSNR {psnr(image, recon):.2f} dB")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_png(out / "reconstruction.png", recon)
    save_png(out / "comparison.png", comparison_image(image, recon))
    save_png(out / "curve.png", curve_image(steps, curve, label="training pixels"))
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
