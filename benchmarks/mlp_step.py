"""Loss and gradient of a 2→16→16→1 tanh MLP (batch 100, MSE) through ``refnn.nn``.

Run: ``python benchmarks/mlp_step.py [seconds]``. Prints steps per second for the loss and
gradient alone (``nn.value_and_grad``) and for a whole Adam training step
(``nn.make_step``), plus the share of the time spent in each op (cProfile) with
``--profile``.
"""

from __future__ import annotations

import random
import sys
import time

from refnn import Matrix, nn


def setup() -> tuple[nn.Sequential, object, Matrix[float], Matrix[float]]:
    rng = random.Random(0)
    model = nn.mlp([2, 16, 16, 1], "tanh")
    params = model.init(rng)
    X = Matrix.from_flat(100, 2, [rng.uniform(-1.0, 1.0) for _ in range(200)])
    Y = Matrix.from_flat(100, 1, [a * b for a, b in X.rows()])
    return model, params, X, Y


def rate(fn: object, seconds: float) -> float:
    assert callable(fn)
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = float(args[0]) if args else 2.0
    model, params, X, Y = setup()
    vg = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))
    opt = nn.Adam(1e-3)
    state = opt.init(params)
    step = nn.make_step(model, nn.mse, opt)
    print(f"2→16→16→1 tanh MLP, {nn.n_params(params)} parameters, batch 100, MSE")
    r1 = rate(lambda: vg(params, X, Y), seconds)
    print(f"  loss + gradient (value_and_grad): {r1:8.1f} steps/s  ({1e3 / r1:.2f} ms/step)")
    r2 = rate(lambda: step(params, state, X, Y), seconds)
    print(f"  loss + gradient + Adam update:    {r2:8.1f} steps/s  ({1e3 / r2:.2f} ms/step)")
    r3 = rate(lambda: opt.update(params, state, params), seconds)
    print(f"  Adam update alone:                {r3:8.1f} steps/s  ({1e3 / r3:.3f} ms/step)")
    if "--profile" in sys.argv:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(50):
            vg(params, X, Y)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
