"""Two moons: a small classifier on data that no straight line separates.

The data (two interleaving half circles with Gaussian noise) are generated here from a
seed. A 2→12→12→1 tanh network is trained with Adam on mini-batches (binary
cross-entropy on logits); the script prints training and held-out accuracy and, if Pillow
is installed, saves a picture of the decision boundary.

Run: .venv/bin/python examples/05_two_moons.py [--out two_moons.png]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import tempfile

from refnn import Matrix, nn, ops


def two_moons(n: int, noise: float, rng: random.Random) -> tuple[Matrix[float], Matrix[float]]:
    """n points: the upper moon (label 0) and the lower, shifted moon (label 1)."""
    xs: list[float] = []
    ys: list[float] = []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), 0.0
        else:
            x, y, label = 1.0 - math.cos(t), 0.5 - math.sin(t), 1.0
        xs += [x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)]
        ys.append(label)
    return Matrix.from_flat(n, 2, xs), Matrix.from_flat(n, 1, ys)


def accuracy(logits: Matrix[float], Y: Matrix[float]) -> float:
    hits = sum((z > 0) == (y == 1.0) for z, y in zip(logits.data, Y.data, strict=True))
    return hits / len(Y.data)


def save_boundary(
    path: str, model: nn.Sequential, params: object, X: Matrix[float], Y: Matrix[float]
) -> None:
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        print("Pillow is not installed: skipping the decision-boundary picture")
        return
    size, lo_x, hi_x, lo_y, hi_y = 160, -1.5, 2.5, -1.0, 1.5
    coords = [
        (lo_x + (hi_x - lo_x) * (c + 0.5) / size, hi_y - (hi_y - lo_y) * (r + 0.5) / size)
        for r in range(size)
        for c in range(size)
    ]
    grid = Matrix.from_flat(size * size, 2, [v for xy in coords for v in xy])
    probs = ops.sigmoid(model.apply(params, grid)).data
    img = Image.new("RGB", (size, size))
    img.putdata([(int(255 * (1 - p) * 0.6 + 90), 110, int(255 * p * 0.6 + 90)) for p in probs])
    img = img.resize((size * 3, size * 3), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    scale = size * 3
    for (x, y), label in zip(X.rows(), Y.data, strict=True):
        px = (x - lo_x) / (hi_x - lo_x) * scale
        py = (hi_y - y) / (hi_y - lo_y) * scale
        colour = (20, 20, 200) if label == 1.0 else (200, 20, 20)
        draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour, outline=(255, 255, 255))
    img.save(path)
    print(f"decision boundary saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "two_moons.png"))
    args = parser.parse_args()

    rng = random.Random(0)
    X, Y = two_moons(200, 0.1, rng)
    X_test, Y_test = two_moons(200, 0.1, rng)
    model = nn.mlp([2, 12, 12, 1], "tanh")
    params = model.init(random.Random(1))
    loss = nn.binary_cross_entropy_with_logits
    params, _, history = nn.fit(
        model, params, (X, Y), loss, nn.Adam(0.02), epochs=40, batch_size=50, seed=2
    )
    print(
        f"{nn.n_params(params)} parameters, {len(history)} Adam steps; "
        f"loss {history[0]:.4f} → {history[-1]:.4f}"
    )
    print(f"training accuracy: {accuracy(model.apply(params, X), Y):.1%}")
    print(f"held-out accuracy: {accuracy(model.apply(params, X_test), Y_test):.1%}")
    save_boundary(args.out, model, params, X, Y)


if __name__ == "__main__":
    main()
