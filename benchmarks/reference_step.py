"""One step of the default ``refnn reconstruct`` run on the reference backend, timed.

The step is the default run's: the settings come from ``ReconstructConfig().resolved()``
(a SIREN 2→24→24→1 with ω₀ = 30, the 32×32 camera photograph, all 1,024 pixels per step,
MSE, Adam with the run's cosine schedule), built with ``build_model`` and ``nn.make_step``
as the command builds them, on pure-Python ``Matrix`` values.

In the same run, as baselines:

* **plain Python**: the same maths hand-written on lists of floats — forward, the backward
  pass derived on paper, Adam — in the usual idiom (``sum(map(mul, row, col))`` per entry
  of a product, list comprehensions for the rest);
* **refnn on NumPy** (if NumPy is installed): the same ``nn.make_step`` on the numpy
  backend, for scale.

Before timing, refnn and the plain step run three steps from the same parameters and the
script checks that the losses and parameters agree (relative 1e-9). It prints ms per step,
the ratio to plain Python, and what that means for the default run: the time of its 800
steps, and how many steps fit in 90 s (training only: the run also measures and writes).

Timing as ``timeit``: GC off during a batch, the best of interleaved rounds; the load
average before and after says whether the machine was shared.

Run: ``python benchmarks/reference_step.py [--repeat R] [--seconds S] [--skip-numpy]``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
from operator import mul  # noqa: E402
from typing import Any  # noqa: E402

from _timing import (  # noqa: E402
    Stepper,
    check_agreement,
    interleaved_best,
    load_line,
    loadavg,
    shared_verdict,
)

from refnn import Matrix, backends, nn  # noqa: E402
from refnn.image import coordinate_grid, image_to_targets, load_image  # noqa: E402
from refnn.reconstruct import ReconstructConfig, build_model  # noqa: E402

Rows = list[list[float]]
BUDGET_SECONDS = 90.0


def default_setup() -> tuple[ReconstructConfig, nn.Sequential, Any, Matrix[float], Matrix[float]]:
    cfg = ReconstructConfig().resolved()
    model = build_model(cfg, 1)
    params = model.init(random.Random(cfg.seed))
    X = coordinate_grid(cfg.size, cfg.size)
    Y = image_to_targets(load_image("camera", size=cfg.size))
    return cfg, model, params, X, Y


def refnn_step(
    cfg: ReconstructConfig, model: nn.Sequential, params: Any, X: Any, Y: Any
) -> Stepper:
    opt = nn.Adam(cfg.learning_rate())
    step_fn = nn.make_step(model, nn.mse, opt)
    state = [params, opt.init(params)]

    def step() -> float:
        state[0], state[1], value = step_fn(state[0], state[1], X, Y)
        return float(value)

    def read() -> list[list[float]]:
        leaves = [p[k] for k in ("W", "b") for p in state[0] if p]  # every W, then every b
        return [[float(x) for row in _rows(a) for x in row] for a in leaves]

    return step, read


def _rows(a: Any) -> Rows:
    return a.tolist() if isinstance(a, Matrix) else [list(r) for r in a.array.tolist()]


def _matmul(A: Rows, B: Rows) -> Rows:
    cols = list(zip(*B, strict=True))
    return [[sum(map(mul, row, col)) for col in cols] for row in A]


def _transpose(A: Rows) -> Rows:
    return [list(c) for c in zip(*A, strict=True)]


def plain_step(cfg: ReconstructConfig, params: Any, X: Matrix[float], Y: Matrix[float]) -> Stepper:
    """The same step on lists of floats: forward, the hand-derived backward pass, Adam."""
    Ws = [p["W"].tolist() for p in params if p]
    bs = [list(p["b"].data) for p in params if p]
    xs, ys = X.tolist(), Y.tolist()
    w0, lr_at, L = cfg.omega0, cfg.learning_rate(), len(Ws)
    ms = [[0.0] * (len(W) * len(W[0])) for W in Ws] + [[0.0] * len(b) for b in bs]
    vs = [list(m) for m in ms]
    t = [0]

    def step() -> float:
        hs, zs, h = [xs], [], xs
        for i in range(L):
            z = [[v + c for v, c in zip(r, bs[i], strict=True)] for r in _matmul(h, Ws[i])]
            if i < L - 1:
                zs.append(z)
                h = [[math.sin(w0 * v) for v in r] for r in z]
                hs.append(h)
        d = [[o - y for o, y in zip(r, s, strict=True)] for r, s in zip(z, ys, strict=True)]
        n = len(d) * len(d[0])
        value = sum(v * v for r in d for v in r) / n
        g = [[2.0 * v / n for v in r] for r in d]
        gW: list[Rows] = [[] for _ in range(L)]
        gb: list[list[float]] = [[] for _ in range(L)]
        for i in reversed(range(L)):
            gW[i] = _matmul(_transpose(hs[i]), g)
            gb[i] = [sum(c) for c in zip(*g, strict=True)]
            if i > 0:
                gh = _matmul(g, _transpose(Ws[i]))
                g = [
                    [a * (w0 * math.cos(w0 * v)) for a, v in zip(ra, rz, strict=True)]
                    for ra, rz in zip(gh, zs[i - 1], strict=True)
                ]
        _adam(t, lr_at, [*Ws, *[[b] for b in bs]], [*gW, *[[b] for b in gb]], ms, vs)
        return value

    return step, lambda: [[x for r in W for x in r] for W in Ws] + [list(b) for b in bs]


def _adam(t: list[int], lr_at: Any, ps: list[Rows], gs: list[Rows], ms: Rows, vs: Rows) -> None:
    """Adam in place on lists of rows (ms, vs flat per parameter), PyTorch's conventions."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    lr = lr_at(t[0]) if callable(lr_at) else lr_at
    t[0] += 1
    step_size, v_corr = lr / (1 - b1 ** t[0]), 1 / (1 - b2 ** t[0])
    for P, G, m, v in zip(ps, gs, ms, vs, strict=True):
        n = len(P[0])
        for k, gk in enumerate(x for r in G for x in r):
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            P[k // n][k % n] -= step_size * m[k] / (math.sqrt(v_corr * v[k]) + eps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per timed batch")
    ap.add_argument("--skip-numpy", action="store_true")
    args = ap.parse_args()
    load_before = loadavg()
    print(load_line("before"))
    cfg, model, params, X, Y = default_setup()
    print(
        f"the default run's step: SIREN 2→{cfg.width}×{cfg.depth}→1 (ω₀ {cfg.omega0:g}), "
        f"camera {cfg.size}×{cfg.size} ({cfg.size**2} px, full batch), MSE, Adam "
        f"(lr {cfg.lr:g}, cosine to ×{cfg.lr_decay:g} over {cfg.steps} steps)"
    )
    check_agreement(
        "refnn and plain Python",
        refnn_step(cfg, model, params, X, Y),
        plain_step(cfg, params, X, Y),
    )
    fns = {
        "refnn, reference backend": refnn_step(cfg, model, params, X, Y)[0],
        "plain Python (lists)": plain_step(cfg, params, X, Y)[0],
    }
    if not args.skip_numpy:
        try:
            be = backends.load("numpy")
            P = nn.tree_map(be.from_matrix, params)
            Xn, Yn = be.from_matrix(X), be.from_matrix(Y)
            fns["refnn, numpy backend"] = refnn_step(cfg, model, P, Xn, Yn)[0]
        except ImportError:
            print("NumPy is not installed: the numpy backend is not timed")
    once = interleaved_best(list(fns.values()), [1] * len(fns), 1)
    numbers = [max(1, int(args.seconds / max(t, 1e-6))) for t in once]
    best = interleaved_best(list(fns.values()), numbers, args.repeat)
    print(f"best of {args.repeat} interleaved rounds, GC off, one BLAS thread")
    for (name, _), t in zip(fns.items(), best, strict=True):
        print(f"  {name:26s} {t * 1e3:9.2f} ms/step")
    ref, plain = best[0], best[1]
    print(f"  refnn reference / plain Python = {ref / plain:.2f}")
    print(
        f"  the default run's {cfg.steps} steps: {ref * cfg.steps:.0f} s of training on the "
        f"reference; {int(BUDGET_SECONDS / ref)} steps fit in {BUDGET_SECONDS:.0f} s"
    )
    load_after = loadavg()
    print(load_line("after"))
    print(shared_verdict(load_before, load_after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
