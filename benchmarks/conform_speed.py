"""How long ``refnn conform`` takes with its defaults, as a user runs it (a fresh process:
start-up, imports and, for JAX, XLA's compilations included).

    python benchmarks/conform_speed.py [--repeat 3] [--backends numpy,jax]

Goals (issue 10): numpy ≤ 3 s, jax ≤ 20 s on two cores. Each backend runs ``--repeat``
times, interleaved, and the best time counts (the least disturbed run). The load average
before and after says whether the machine was shared: on two cores, a load above ~0.5 from
other processes slows the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

GOALS = {"numpy": 3.0, "jax": 20.0, "torch": 10.0, "reference": 5.0}


def _run(backend: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "refnn.conformance", "conform", backend],
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - t0, r.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backends", default="numpy,jax")
    args = p.parse_args()
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    load0 = os.getloadavg()
    best = {b: float("inf") for b in names}
    codes: dict[str, int] = {}
    for _ in range(args.repeat):
        for b in names:
            t, code = _run(b)
            best[b] = min(best[b], t)
            codes[b] = code
    load1 = os.getloadavg()
    print(
        f"refnn conform BACKEND (defaults: 10 examples per op, every op), best of "
        f"{args.repeat}, {os.cpu_count()} cores"
    )
    for b in names:
        goal = GOALS.get(b)
        verdict = (
            ""
            if goal is None
            else (" — meets" if best[b] <= goal else " — misses") + f" the goal of {goal:g} s"
        )
        print(f"  {b:10s} {best[b]:6.1f} s (exit {codes[b]}){verdict}")
    shared = max(load0[0], load1[0]) > 1.5
    print(
        f"load average before {load0[0]:.2f}, after {load1[0]:.2f}: the machine was "
        f"{'shared with other work (times are pessimistic)' if shared else 'quiet'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
