"""What refnn's NumPy and PyTorch backends cost over plain NumPy and plain PyTorch.

Two training steps, each timed both ways in the same run:

* the article's network on its 25×25 spiral: 2→64→64→128→64→32→1, tanh hidden layers,
  binary cross-entropy on the logits, Adam (lr 1e-3), all 625 pixels per step;
* a SIREN on the 64×64 grid: 2→24→24→1 sine layers (ω₀ = 30, the ``refnn reconstruct``
  defaults), MSE, Adam (lr 4e-3), all 4,096 pixels per step (the target is a smooth
  image computed here, so no file is needed).

"refnn" is one ``nn.make_step`` step on the backend's arrays: the model's forward pass, the
tape, the registry's VJPs and the Adam update, all through refnn's op dispatch. "plain" is
the same maths written by hand: for NumPy, the forward pass, the backward pass derived on
paper and Adam, with ordinary NumPy expressions; for PyTorch, the forward pass on float64
tensors, ``loss.backward()`` and ``torch.optim.Adam``. Before timing, both sides run three
steps from the same parameters and the script checks that their losses and parameters
agree (relative 1e-9); the timings are only printed.

Timing as ``timeit``: GC off during a batch, the best of interleaved rounds. BLAS and
PyTorch use one thread each (the machine is shared); the load average before and after is
printed.

Run: ``python benchmarks/backend_overhead.py [--repeat R] [--seconds S] [--skip-torch]``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
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
from refnn.reconstruct import ARTICLE_SIZES  # noqa: E402

OMEGA0 = 30.0


@dataclass
class Case:
    name: str
    model: nn.Sequential
    params: Any  # reference matrices
    X: Matrix[float]
    Y: Matrix[float]
    activation: str  # "tanh" or "sine"
    loss: str  # "bce" or "mse"
    lr: float


def article_case() -> Case:
    model = nn.mlp(list(ARTICLE_SIZES), "tanh")
    params = model.init(random.Random(0))
    X = coordinate_grid(25, 25)
    Y = image_to_targets(load_image("spiral", size=25))
    return Case(
        "article 2→64→64→128→64→32→1 tanh, spiral 25×25 (625 px), BCE",
        model,
        params,
        X,
        Y,
        "tanh",
        "bce",
        1e-3,
    )


def siren_case(size: int = 64, width: int = 24, depth: int = 2) -> Case:
    model = nn.siren(2, width, depth, 1, omega0=OMEGA0)
    params = model.init(random.Random(0))
    X = coordinate_grid(size, size)
    ys = [
        0.5 + 0.25 * math.sin(3.0 * x) * math.cos(2.0 * y) + 0.2 * math.tanh(4.0 * x * y)
        for x, y in X.rows()
    ]
    Y = Matrix.from_flat(size * size, 1, ys)
    return Case(
        f"SIREN 2→{width}×{depth}→1 (ω₀ 30), {size}×{size} grid ({size * size} px), MSE",
        model,
        params,
        X,
        Y,
        "sine",
        "mse",
        4e-3,
    )


def dense_leaves(case: Case) -> list[tuple[Matrix[float], Matrix[float]]]:
    """(W, b) of every Dense layer, in order."""
    return [(p["W"], p["b"]) for p in case.params if p]


# ----------------------------------------------------------------------- plain NumPy
def plain_numpy(case: Case) -> Stepper:
    """A hand-written NumPy step (forward, backward, Adam) and a reader of its parameters."""
    arr = lambda A: np.array(A.tolist(), dtype=np.float64)  # noqa: E731
    Ws = [arr(W) for W, _ in dense_leaves(case)]
    bs = [arr(b) for _, b in dense_leaves(case)]
    X, Y = arr(case.X), arr(case.Y)
    ms = [np.zeros_like(p) for p in Ws + bs]
    vs = [np.zeros_like(p) for p in Ws + bs]
    t = [0]
    L = len(Ws)
    tanh = case.activation == "tanh"
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, case.lr

    def step() -> float:
        hs, zs = [X], []
        h = X
        for i in range(L):
            z = h @ Ws[i] + bs[i]
            if i < L - 1:
                h = np.tanh(z) if tanh else np.sin(OMEGA0 * z)
                zs.append(z)
                hs.append(h)
            else:
                out = z
        N = out.size
        if case.loss == "bce":
            e = np.exp(-np.abs(out))
            value = np.mean(np.maximum(out, 0.0) + np.log1p(e) - Y * out)
            sig = np.where(out >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
            g = (sig - Y) / N
        else:
            d = out - Y
            value = np.mean(d * d)
            g = 2.0 * d / N
        gW: list[Any] = [None] * L
        gb: list[Any] = [None] * L
        for i in reversed(range(L)):
            gW[i] = hs[i].T @ g
            gb[i] = g.sum(axis=0, keepdims=True)
            if i > 0:
                gh = g @ Ws[i].T
                if tanh:
                    g = gh * (1.0 - hs[i] * hs[i])
                else:
                    g = gh * (OMEGA0 * np.cos(OMEGA0 * zs[i - 1]))
        t[0] += 1
        step_size = lr / (1 - b1 ** t[0])
        v_corr = 1 / (1 - b2 ** t[0])
        params = Ws + bs
        for k, gk in enumerate(gW + gb):
            ms[k] = b1 * ms[k] + (1 - b1) * gk
            vs[k] = b2 * vs[k] + (1 - b2) * gk * gk
            params[k] = params[k] - step_size * ms[k] / (np.sqrt(v_corr * vs[k]) + eps)
        Ws[:], bs[:] = params[:L], params[L:]
        return float(value)

    return step, lambda: [*Ws, *bs]


# ----------------------------------------------------------------------- plain PyTorch
def plain_torch(case: Case) -> Stepper:
    """A hand-written PyTorch step: forward on float64 tensors, autograd, torch.optim.Adam."""
    import torch

    ten = lambda A: torch.tensor(A.tolist(), dtype=torch.float64)  # noqa: E731
    Ws = [ten(W).requires_grad_(True) for W, _ in dense_leaves(case)]
    bs = [ten(b).requires_grad_(True) for _, b in dense_leaves(case)]
    X, Y = ten(case.X), ten(case.Y)
    opt = torch.optim.Adam([*Ws, *bs], lr=case.lr, betas=(0.9, 0.999), eps=1e-8)
    L = len(Ws)
    tanh = case.activation == "tanh"

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        h = X
        for i in range(L):
            z = h @ Ws[i] + bs[i]
            h = (torch.tanh(z) if tanh else torch.sin(OMEGA0 * z)) if i < L - 1 else z
        if case.loss == "bce":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(h, Y)
        else:
            loss = torch.mean((h - Y) ** 2)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step, lambda: [p.detach().numpy() for p in [*Ws, *bs]]


# ----------------------------------------------------------------------- refnn
def refnn_step(case: Case, backend_name: str) -> Stepper:
    """One ``nn.make_step`` step on the backend, and a reader of the parameters as ndarrays."""
    be = backends.load(backend_name)
    params = nn.tree_map(be.from_matrix, case.params)
    X, Y = be.from_matrix(case.X), be.from_matrix(case.Y)
    loss = nn.binary_cross_entropy_with_logits if case.loss == "bce" else nn.mse
    opt = nn.Adam(case.lr)
    step_fn = nn.make_step(case.model, loss, opt)
    state = [params, opt.init(params)]

    def step() -> float:
        state[0], state[1], value = step_fn(state[0], state[1], X, Y)
        return float(value)

    def read() -> list[Any]:
        Ws = [p["W"] for p in state[0] if p]
        bs = [p["b"] for p in state[0] if p]
        return [np.array(be.to_matrix(a).tolist()) for a in Ws + bs]

    return step, read


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument(
        "--seconds", type=float, default=0.3, help="seconds per timed batch of steps (default 0.3)"
    )
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--siren-size", type=int, default=64)
    args = ap.parse_args()
    load_before = loadavg()
    print(load_line("before"))
    pairs = [("numpy", plain_numpy)]
    if not args.skip_torch:
        try:
            import torch

            torch.set_num_threads(1)
            pairs.append(("torch", plain_torch))
        except ImportError:
            print("PyTorch is not installed: only the NumPy backend is measured")
    results = []
    for case in (article_case(), siren_case(args.siren_size)):
        print(case.name)
        for backend_name, plain in pairs:
            check_agreement(
                f"{backend_name}: refnn vs plain", refnn_step(case, backend_name), plain(case)
            )
            ours, theirs = refnn_step(case, backend_name)[0], plain(case)[0]
            once = min(interleaved_best([ours, theirs], [3, 3], 1))
            number = max(1, int(args.seconds / max(once, 1e-6)))
            t_ours, t_plain = interleaved_best([ours, theirs], [number, number], args.repeat)
            ratio = t_ours / t_plain
            results.append((case.name.split(",")[0], backend_name, t_ours, t_plain, ratio))
            print(
                f"  {backend_name}: refnn {t_ours * 1e3:8.3f} ms/step, plain "
                f"{t_plain * 1e3:8.3f} ms/step: refnn / plain = {ratio:.2f} (goal ≤ 1.3)"
            )
    print(f"best of {args.repeat} interleaved rounds, GC off, one BLAS/PyTorch thread")
    print()
    print("| step | backend | refnn ms | plain ms | refnn / plain |")
    print("|---|---|---|---|---|")
    for name, be, a, b, r in results:
        print(f"| {name} | {be} | {a * 1e3:.3f} | {b * 1e3:.3f} | {r:.2f} |")
    load_after = loadavg()
    print(load_line("after"))
    print(shared_verdict(load_before, load_after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
