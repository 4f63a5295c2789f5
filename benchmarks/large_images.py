"""Larger images: the README's 64×64 and 256×256 commands, run and held against their goals.

Each command in :data:`COMMANDS` is the README's, word for word; it is parsed by the
``refnn reconstruct`` parser itself and run through ``refnn.reconstruct`` (the same code as
the command). The script prints, for each, the PSNR and the training seconds that
``metrics.json`` reports, against the goals of issue 14 (64×64: ≥ 44 dB within 60 s;
256×256: ≥ 35 dB within 10 minutes), and the load average before and after, saying
whether the machine was shared. The measuring pass after training (PSNR and SSIM on the
pure-Python reference, the outputs) is not training time; at 256×256 it takes a few
minutes of its own.

Then, unless ``--skip-threads``, it times one training step of the 256×256 command
(``nn.make_step``, a batch of 8,192 pixels, as ``timeit``: GC off, best of interleaved
rounds) on the NumPy backend, on the PyTorch backend with one thread, and on PyTorch with
two threads: the figures that explain why the torch backend was once slower than NumPy
here (two threads on two shared cores) and why it is now the faster one (PyTorch's float64
``sin`` and ``cos`` are vectorised; NumPy's are not).

    python benchmarks/large_images.py                 # both commands, about 15 minutes
    python benchmarks/large_images.py --only 64x64    # the 64×64 command alone
    python benchmarks/large_images.py --size 8 --steps 3 --skip-threads   # a smoke test
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as `refnn reconstruct` does for numpy and torch

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _timing import interleaved_best, load_line, loadavg  # noqa: E402

from refnn import backends, cli, nn  # noqa: E402
from refnn.reconstruct import (  # noqa: E402
    ReconstructConfig,
    _Converters,
    _load_data,
    build_model,
    reconstruct,
)

#: (label, the README's command, goal PSNR in dB, goal training seconds)
COMMANDS = [
    (
        "64x64",
        "refnn reconstruct --backend torch --size 64 --width 40 --depth 3 --lr 4e-3 --steps 1000",
        44.0,
        60.0,
    ),
    (
        "256x256",
        "refnn reconstruct --backend torch --size 256 --width 128 --depth 3 --lr 2e-3 "
        "--batch-size 8192 --steps 2500",
        35.0,
        600.0,
    ),
]


def config_of(command: str) -> ReconstructConfig:
    """The configuration ``refnn reconstruct`` makes of ``command`` (its own parser)."""
    parser = argparse.ArgumentParser()
    cli._reconstruct_parser(parser.add_subparsers())
    words = shlex.split(command)
    assert words[:2] == ["refnn", "reconstruct"], command
    cfg: ReconstructConfig = cli.reconstruct_config(parser.parse_args(words[1:]))
    return cfg


def run_command(label: str, cfg: ReconstructConfig, goal_db: float, goal_s: float) -> bool:
    before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        m = reconstruct(cfg, Path(tmp, "run")).metrics
    after = loadavg()
    ok = m["psnr_db"] >= goal_db and m["seconds"] <= goal_s
    print(
        f"{label}: {m['psnr_db']:.2f} dB (goal ≥ {goal_db:g}), {m['steps']} steps in "
        f"{m['seconds']:.1f} s of training (goal ≤ {goal_s:g} s): "
        f"{'met' if ok else 'NOT met'}; {m['n_params']} parameters, {m['n_pixels']} pixels"
    )
    shared = "shared with other work" if before >= 0.5 or after >= 1.5 else "otherwise idle"
    print(
        f"  load {before:.2f} before and {after:.2f} after (this run adds about 1) on "
        f"{os.cpu_count()} cores: the machine was {shared}",
        flush=True,
    )
    return ok


def step_timings(cfg: ReconstructConfig, repeat: int) -> None:
    """Seconds per training step of ``cfg`` on numpy, torch (1 thread), torch (2 threads)."""
    import torch

    cfg = dataclasses.replace(cfg, backend="numpy").resolved()
    data = _load_data(cfg)
    rows = random.Random(0).sample(range(len(data.train_rows)), cfg.batch_size or 8192)
    X, Y = nn.take_rows(data.X, rows), nn.take_rows(data.Y, rows)
    params0 = build_model(cfg, 1).init(random.Random(cfg.seed))
    steppers = {}
    for name in ("numpy", "torch"):
        be = backends.load(name)
        model = _Converters.load(name).model(build_model(cfg, 1))
        step = nn.make_step(model, nn.mse, nn.Adam(float(cfg.lr)))
        state: list[Any] = [nn.tree_map(be.from_matrix, params0), None]
        state[1] = nn.Adam().init(state[0])
        Xb, Yb = be.from_matrix(X), be.from_matrix(Y)

        def one(step: Any = step, state: list[Any] = state, Xb: Any = Xb, Yb: Any = Yb) -> None:
            state[0], state[1], _ = step(state[0], state[1], Xb, Yb)

        steppers[name] = one

    def torch_threads(n: int) -> Any:
        def run() -> None:
            torch.set_num_threads(n)
            steppers["torch"]()

        return run

    fns = [steppers["numpy"], torch_threads(1), torch_threads(2)]
    best = interleaved_best(fns, [3, 3, 3], repeat)
    torch.set_num_threads(1)
    print(
        f"one step of the 256×256 command (batch {len(rows)}): numpy {best[0] * 1e3:.0f} ms, "
        f"torch 1 thread {best[1] * 1e3:.0f} ms, torch 2 threads {best[2] * 1e3:.0f} ms; "
        f"numpy / torch(1) = {best[0] / best[1]:.2f}, torch(2) / torch(1) = "
        f"{best[2] / best[1]:.2f} (best of {repeat} interleaved rounds of 3 steps, GC off)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=[c[0] for c in COMMANDS], help="run one command only")
    ap.add_argument("--size", type=int, help="override --size (a smoke test)")
    ap.add_argument("--steps", type=int, help="override --steps (a smoke test)")
    ap.add_argument("--skip-threads", action="store_true", help="skip the per-step timings")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the per-step timings")
    args = ap.parse_args()
    print(load_line("before"))
    print(f"{os.cpu_count()} cores; BLAS and PyTorch use one thread (OMP_NUM_THREADS=1)")
    all_met = True
    for label, command, goal_db, goal_s in COMMANDS:
        if args.only not in (None, label):
            continue
        cfg = config_of(command)
        overrides = {"size": args.size, "steps": args.steps}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        print(f"$ {command}", flush=True)
        all_met &= run_command(label, cfg, goal_db, goal_s)
    if not args.skip_threads:
        step_timings(config_of(COMMANDS[-1][1]), args.repeat)
    print(load_line("after"))
    print("all goals met" if all_met else "some goals NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
