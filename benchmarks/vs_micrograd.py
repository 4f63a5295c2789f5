"""refnn against micrograd on the same 2→16→16→1 ReLU MLP, MSE, batch 100.

Both get the same weights and data. The script first checks that the two losses and all
337 gradient entries agree (relative 1e-12), then times forward + backward for each in the
same run and prints the ratio (target: refnn at least 30× faster). micrograd works on one
scalar ``Value`` at a time; refnn on whole matrices, one tape node per op.

Timing is ``timeit``'s: Python's cyclic garbage collector is **disabled** while a batch of
calls runs, the best batch of ``--repeat`` interleaved rounds is kept, and that GC-off
ratio is the headline. micrograd builds ~10⁵ ``Value`` objects per step in reference
cycles, which the collector scans over and over when it is enabled; the GC-enabled figures
are printed beside, labelled, because that is what a plain training loop sees, but they
measure the collector as much as the library. The load average before and after tells
whether the machine was shared.

Run: ``python benchmarks/vs_micrograd.py [seconds] [--repeat R]`` (seconds per batch of
refnn calls, default 0.5; needs ``pip install micrograd==0.1.0``).
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

from _timing import interleaved_best, load_line, loadavg, shared_verdict

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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "seconds",
        nargs="?",
        type=float,
        default=0.5,
        help="seconds per timed batch of refnn calls (default 0.5)",
    )
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    args = ap.parse_args()
    load_before = loadavg()
    print(load_line("before"))
    model, params, X, Y = setup()
    vg = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))

    loss_r, grads_r = vg(params, X, Y)
    loss_m, grads_m = micrograd_loss_and_grads(params, X, Y)
    flat_r = [list(g.data) for g in nn.tree_leaves(grads_r)]
    # tree leaves are ordered W then b per Dense layer (dict keys sorted), as grads_m
    worst = max(
        rel_err(loss_r[1, 1], loss_m),
        *(
            rel_err(a, b)
            for gr, gm in zip(flat_r, grads_m, strict=True)
            for a, b in zip(gr, gm, strict=True)
            if max(abs(a), abs(b)) > 1e-14
        ),
    )
    print(f"2→16→16→1 ReLU MLP, {nn.n_params(params)} parameters, batch {BATCH}, MSE")
    print(f"  loss refnn {loss_r[1, 1]!r}  micrograd {loss_m!r}")
    print(f"  largest relative difference (loss and 337 gradient entries): {worst:.2e}")
    if worst > 1e-12:
        sys.exit("refnn and micrograd disagree")

    def refnn_step() -> object:
        return vg(params, X, Y)

    def micrograd_step() -> object:
        return micrograd_loss_and_grads(params, X, Y)

    n_r = max(1, int(args.seconds / 0.004))
    fns = [refnn_step, micrograd_step]
    off = interleaved_best(fns, [n_r, 2], args.repeat, gc_off=True)
    on = interleaved_best(fns, [n_r, 1], max(1, args.repeat // 2), gc_off=False)
    print(
        f"  timed like timeit: best of {args.repeat} interleaved rounds of {n_r} refnn "
        f"calls / 2 micrograd calls (GC-enabled: best of {max(1, args.repeat // 2)})"
    )
    print("                              GC off (headline)    GC on")
    print(f"  refnn     forward+backward: {off[0] * 1e3:10.2f} ms  {on[0] * 1e3:12.2f} ms")
    print(f"  micrograd forward+backward: {off[1] * 1e3:10.2f} ms  {on[1] * 1e3:12.2f} ms")
    print(
        f"  refnn is {off[1] / off[0]:.1f}× faster with GC off (target ≥ 30×); "
        f"with GC on: {on[1] / on[0]:.1f}×"
    )
    load_after = loadavg()
    print(load_line("after"))
    print(shared_verdict(load_before, load_after))


if __name__ == "__main__":
    main()
