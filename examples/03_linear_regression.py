"""Linear regression with refnn.nn: fit y = 3x + 2 from 100 noisy points.

A single Dense(1, 1) layer is y = xW + b; minimising the mean squared error with Adam
recovers the slope W ≈ 3 and the intercept b ≈ 2. The exact least-squares line of the
same points is printed for comparison.

Run: .venv/bin/python examples/03_linear_regression.py
"""

from __future__ import annotations

import random

from refnn import Matrix, nn


def main() -> None:
    rng = random.Random(0)
    xs = [rng.uniform(-2.0, 2.0) for _ in range(100)]
    ys = [3.0 * x + 2.0 + rng.gauss(0.0, 0.3) for x in xs]
    X = Matrix.from_flat(100, 1, xs)
    Y = Matrix.from_flat(100, 1, ys)

    model = nn.Dense(1, 1)
    params = model.init(random.Random(1))
    params, _, history = nn.fit(
        model, params, (X, Y), nn.mse, nn.Adam(0.1), epochs=60, batch_size=20, seed=2
    )
    slope, intercept = params["W"][1, 1], params["b"][1, 1]
    print(f"loss: {history[0]:.4f} (first step) → {history[-1]:.4f} (last of {len(history)})")
    print(f"refnn fit:     slope {slope:.4f}, intercept {intercept:.4f}")

    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    ls_slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    print(f"least squares: slope {ls_slope:.4f}, intercept {my - ls_slope * mx:.4f}")
    print("true line:     slope 3.0000, intercept 2.0000")


if __name__ == "__main__":
    main()
