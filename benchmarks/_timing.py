"""Timing helpers shared by the benchmark scripts (not a benchmark itself).

Timings follow ``timeit``: the cyclic garbage collector is disabled while a batch of calls
runs (``gc.disable()``, re-enabled afterwards, ``gc.collect()`` before each batch), the
clock is ``time.perf_counter``, and the figure kept is the best batch. Candidates are
*interleaved*: round 1 times each of them once, round 2 again, … so that a burst of load
from another process on a shared machine hits every candidate alike rather than one of
them. ``load_line`` reports the 1-minute load average, so a reader can tell whether the
machine was shared while the figures were taken.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

#: One training step (returning its loss) and a reader of the parameters it updates (each
#: matrix as a flat sequence of floats, or as an array with ``ravel``).
Stepper = tuple[Callable[[], float], Callable[[], list[Any]]]


def batch_time(fn: Callable[[], object], number: int, *, gc_off: bool = True) -> float:
    """Seconds per call of ``number`` back-to-back calls of ``fn`` (GC off, as ``timeit``)."""
    gc.collect()
    was_enabled = gc.isenabled()
    if gc_off:
        gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()
    return elapsed / number


def interleaved_best(
    fns: Sequence[Callable[[], object]],
    numbers: Sequence[int],
    repeat: int,
    *,
    gc_off: bool = True,
) -> list[float]:
    """The best seconds-per-call of each ``fns[i]`` over ``repeat`` interleaved rounds,
    each round timing ``numbers[i]`` calls of every function in turn."""
    for fn in fns:  # warm-up: imports, caches, first allocations
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, (fn, number) in enumerate(zip(fns, numbers, strict=True)):
            best[i] = min(best[i], batch_time(fn, number, gc_off=gc_off))
    return best


def calls_for(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least 1), from one timed call."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    return max(1, int(seconds / once))


def load_line(when: str) -> str:
    """``load average (1, 5, 15 min) <when>: a, b, c on N cores``."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return f"load average {when}: unavailable"
    return (
        f"load average (1, 5, 15 min) {when}: {one:.2f}, {five:.2f}, {fifteen:.2f} "
        f"on {os.cpu_count()} cores"
    )


def shared_verdict(before: float, after: float) -> str:
    """A one-line judgement of whether other processes shared the machine during the run.

    ``before`` is taken before any timing, ``after`` at the end; the benchmark itself keeps
    one core busy, so it adds about 1 to ``after``."""
    cores = os.cpu_count() or 1
    if before >= 0.5 or after >= 1.5:
        return (
            f"the machine was shared with other work: load {before:.2f} before and "
            f"{after:.2f} after (this benchmark adds about 1) on {cores} cores; "
            f"figures are the best of interleaved rounds"
        )
    return (
        f"the machine looked otherwise idle: load {before:.2f} before and {after:.2f} "
        f"after (this benchmark adds about 1) on {cores} cores"
    )


def loadavg() -> float:
    """The 1-minute load average (0.0 where unavailable)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return 0.0


def check_agreement(label: str, a: Stepper, b: Stepper) -> float:
    """Three steps of ``a`` and of ``b`` from the same parameters, before anything is timed:
    the largest relative difference of their losses and of their parameters (scaled by each
    matrix's largest entry). Exits the benchmark when it exceeds 1e-9: the two sides do not
    compute the same maths, so their times could not be compared."""
    worst = 0.0
    for _ in range(3):
        la, lb = a[0](), b[0]()
        worst = max(worst, abs(la - lb) / max(abs(la), abs(lb), 1e-300))
    for pa, pb in zip(map(_flat, a[1]()), map(_flat, b[1]()), strict=True):
        scale = max(max(map(abs, pa)), max(map(abs, pb)), 1e-300)
        worst = max(worst, max(abs(x - y) for x, y in zip(pa, pb, strict=True)) / scale)
    print(f"  {label}: losses and parameters after 3 steps agree to {worst:.1e} (relative)")
    if not worst <= 1e-9:
        sys.exit(f"{label}: refnn and the plain step disagree ({worst:.2e})")
    return worst


def _flat(x: Any) -> list[float]:
    return list(map(float, x.ravel().tolist() if hasattr(x, "ravel") else x))
