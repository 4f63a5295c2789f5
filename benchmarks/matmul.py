"""How fast is refnn's ``A @ B`` next to plain Python?

Times a 128×128 float matrix product three ways in the same run (``timeit``, best of
several repeats):

* refnn ``A @ B``;
* the fastest plain-Python idiom: lists of lists, the right factor transposed once up front,
  ``[sum(map(operator.mul, row, col)) for col in colsT]`` per row (the transpose is part
  of the timed work, as it is for refnn);
* a naive triple loop with index arithmetic.

Run it with ``.venv/bin/python benchmarks/matmul.py [n] [repeats]``.
"""

from __future__ import annotations

import operator
import random
import sys
import timeit
from collections.abc import Callable
from fractions import Fraction

from refnn import Matrix
from refnn.testing import assert_close, matmul_bound

Rows = list[list[float]]


def idiom(a: Rows, b: Rows) -> Rows:
    cols_t = [list(c) for c in zip(*b, strict=True)]
    mul = operator.mul
    return [[sum(map(mul, row, col)) for col in cols_t] for row in a]


def naive(a: Rows, b: Rows) -> Rows:
    m, k, n = len(a), len(b), len(b[0])
    out = [[0.0] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            s = 0.0
            for t in range(k):
                s += a[i][t] * b[t][j]
            out[i][j] = s
    return out


def best(fn: Callable[[], object], repeats: int) -> float:
    timer = timeit.Timer(fn)
    return min(timer.repeat(repeat=repeats, number=1))


def main(n: int = 128, repeats: int = 5) -> None:
    rng = random.Random(20240601)
    a = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n)]
    b = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n)]
    A, B = Matrix(a), Matrix(b)

    # The three must agree: exactly for refnn vs the idiom (same summation order), and all
    # within the γₙ bound of the exact product on a few sampled entries.
    ref, fast, slow = (A @ B).tolist(), idiom(a, b), naive(a, b)
    assert ref == fast, "refnn and the idiom disagree"
    assert (
        max(abs(x - y) for r, s in zip(ref, slow, strict=True) for x, y in zip(r, s, strict=True))
        < 1e-12
    )
    sample = Matrix([a[0], a[n // 2], a[-1]])
    exact = sample.map(Fraction) @ B.map(Fraction)
    assert_close(sample @ B, exact, abs_bound=matmul_bound(sample, B), what="A @ B")

    # Interleave the repeats (refnn, idiom, naive, refnn, …) so that a slow spell of a
    # shared machine hits all three alike; keep the best of each.
    t_refnn = t_idiom = t_naive = float("inf")
    for _ in range(repeats):
        t_refnn = min(t_refnn, best(lambda: A @ B, 1))
        t_idiom = min(t_idiom, best(lambda: idiom(a, b), 1))
        t_naive = min(t_naive, best(lambda: naive(a, b), 1))
    print(f"{n}×{n} float matmul, best of {repeats} (Python {sys.version.split()[0]})")
    print(f"  refnn A @ B         {t_refnn * 1e3:8.1f} ms")
    print(f"  idiom sum(map(mul)) {t_idiom * 1e3:8.1f} ms")
    print(f"  naive triple loop   {t_naive * 1e3:8.1f} ms")
    print(f"  refnn / idiom = {t_refnn / t_idiom:.2f}   refnn / naive = {t_refnn / t_naive:.2f}")
    print("  results agree (refnn == idiom exactly; naive within 1e-12; sampled rows within γₙ)")


if __name__ == "__main__":
    args = [int(x) for x in sys.argv[1:3]]
    main(*args)
