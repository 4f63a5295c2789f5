"""refnn against micrograd on the same 2→16→16→1 ReLU MLP, MSE, batch 100.

Both get the same weights and data. The script first checks that the two losses and all
337 gradient entries agree (relative 1e-12), then times forward + backward for each in the
same run and prints the ratio (target: refnn at least 30× faster). micrograd works on one
scalar ``Value`` at a time; refnn on whole matrices, one tape node per op.

Run: ``python benchmarks/vs_micrograd.py [seconds]`` (needs ``pip install micrograd==0.1.0``).
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from refnn import Matrix, nn

try:
    from micrograd.engine import Value
except ImportError:  # pragma: no cover - the benchmark needs micrograd
    sys.exit("this benchmark needs micrograd: pip install micrograd==0.1.0")

SIZES = [2, 16, 16, 1]
BATCH = 100


def setup() -> tuple[nn.Sequential, Any, Matrix[float], Matrix[float]]:
    rng = random.Random(0)
    model = nn.mlp(SIZES, "relu", bias_init=nn.uniform(0.1))
    params = model.init(rng)
    X = Matrix.from_flat(BATCH, 2, [rng.uniform(-1.0, 1.0) for _ in range(2 * BATCH)])
    Y = Matrix.from_flat(BATCH, 1, [a * b for a, b in X.rows()])
    return model, params, X, Y


def micrograd_loss_and_grads(
    params: Any, X: Matrix[float], Y: Matrix[float]
) -> tuple[float, list[list[float]]]:
    """The same network in micrograd, one Value per weight, forward and backward."""
    layers = [
        ([[Value(w) for w in row] for row in p["W"].rows()], [Value(b) for b in p["b"].data])
        for p in params[::2]
    ]
    total = Value(0.0)
    for x, (y,) in zip(X.rows(), Y.rows(), strict=True):
        h: list[Any] = list(x)
        for k, (W, b) in enumerate(layers):
            out = []
            for j in range(len(b)):
                s = b[j]
                for i in range(len(h)):
                    s = s + h[i] * W[i][j]
                out.append(s.relu() if k < len(layers) - 1 else s)
            h = out
        d = h[0] - y
        total = total + d * d
    loss = total * (1.0 / BATCH)
    loss.backward()
    grads = []
    for W, b in layers:
        grads.append([w.grad for row in W for w in row])
        grads.append([v.grad for v in b])
    return loss.data, grads


def rel_err(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    model, params, X, Y = setup()
    vg = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))

    loss_r, grads_r = vg(params, X, Y)
    loss_m, grads_m = micrograd_loss_and_grads(params, X, Y)
    flat_r = [list(g.data) for g in nn.tree_leaves(grads_r)]
    # tree leaves are ordered W then b per Dense layer (dict keys sorted), as grads_m
    worst = max(rel_err(loss_r[1, 1], loss_m), *(
        rel_err(a, b) for gr, gm in zip(flat_r, grads_m, strict=True)
        for a, b in zip(gr, gm, strict=True) if max(abs(a), abs(b)) > 1e-14
    ))
    print(f"2→16→16→1 ReLU MLP, {nn.n_params(params)} parameters, batch {BATCH}, MSE")
    print(f"  loss refnn {loss_r[1, 1]!r}  micrograd {loss_m!r}")
    print(f"  largest relative difference (loss and 337 gradient entries): {worst:.2e}")
    if worst > 1e-12:
        sys.exit("refnn and micrograd disagree")

    def timed(fn: Any) -> float:
        fn()
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            fn()
            n += 1
        return elapsed / n

    t_r = timed(lambda: vg(params, X, Y))
    t_m = timed(lambda: micrograd_loss_and_grads(params, X, Y))
    print(f"  refnn     forward+backward: {t_r * 1e3:8.2f} ms")
    print(f"  micrograd forward+backward: {t_m * 1e3:8.2f} ms")
    print(f"  refnn is {t_m / t_r:.1f}× faster (target ≥ 30×)")


if __name__ == "__main__":
    main()
