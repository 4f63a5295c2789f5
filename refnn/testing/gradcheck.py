"""``check_grad``: hold :func:`refnn.grad` against central finite differences.

For a scalar-valued ``f`` (returning a 1×1 matrix) and float matrix arguments, every entry
``x`` of every argument is nudged by a step ``h`` and the central difference

    D = (f(x + h) − f(x − h)) / (2h)

is compared with the corresponding entry of ``refnn.grad(f, argnums=all)(*args)``.

Accuracy of D (``u = 2⁻⁵³``): the truncation error is ``|f‴(ξ)|·h²/6`` and the rounding
error about ``u·|f(x)|/h`` (plus the error of f's own float evaluation, divided by h).
The default step ``h = ∛u · max(1, |x|)`` (about ``4.8e-6 · max(1, |x|)``) balances the two,
so for a smooth f with moderate derivatives D carries about ``u^{2/3} ≈ 2e-11`` relative
error (times the scale of f and f‴) — about ten correct digits, not sixteen. The default
tolerance, ``rtol=1e-6`` and ``atol=1e-8``, leaves room for that and still catches any wrong
gradient formula, whose error is O(1). The step is adjusted so that ``x ± h`` are exactly
representable and the difference divides by the step actually taken. A kink inside
``[x − h, x + h]`` (ReLU at 0, clip at its ends) makes D meaningless there: keep inputs
away from kinks by more than h.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from refnn.autodiff import grad
from refnn.matrix import Matrix

__all__ = ["check_grad"]

_CBRT_U = (2.0**-53) ** (1.0 / 3.0)


def _scalar(v: Any) -> float:
    """A 1×1 matrix (or a plain number) as a float."""
    if isinstance(v, Matrix):
        if v.shape != (1, 1):
            raise ValueError(f"check_grad needs f to return a 1×1 matrix, got {v.shape}")
        return float(v.data[0])
    return float(v)


def _moved(f: Callable[..., Any], args: list[Matrix[Any]], k: int, idx: int, v: float) -> float:
    """f at the arguments with entry ``idx`` (flat) of argument ``k`` replaced by ``v``."""
    a = args[k]
    data = list(a.data)
    data[idx] = v
    call = list(args)
    call[k] = Matrix.from_flat(a.shape[0], a.shape[1], data)
    return _scalar(f(*call))


def check_grad(
    f: Callable[..., Any],
    *args: Matrix[Any],
    eps: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> float:
    """Check ``refnn.grad(f)`` against central finite differences for every argument.

    ``args`` are float matrices (int entries are taken as floats); ``f(*args)`` must be a
    1×1 matrix. ``eps`` fixes the step for every entry; by default each entry ``x`` gets
    ``h = ∛u · max(1, |x|)``. An entry passes when
    ``|analytic − D| ≤ atol + rtol · max(|analytic|, |D|)``.

    Returns the largest relative error ``|analytic − D| / max(|analytic|, |D|)`` found (0 where
    both are 0). Raises ``AssertionError`` naming the argument (1-based) and the entry
    ``(i, j)`` (1-based) of the worst mismatch, with both values.
    """
    if not args:
        raise TypeError("check_grad needs at least one matrix argument")
    fargs: list[Matrix[Any]] = []
    for k, a in enumerate(args, start=1):
        if not isinstance(a, Matrix):
            raise TypeError(f"check_grad: argument {k} is {type(a).__name__}, not a Matrix")
        fargs.append(a.map(float))
    if eps is not None and not eps > 0:
        raise ValueError(f"check_grad: eps must be positive, got {eps!r}")

    analytic = grad(f, argnums=tuple(range(len(fargs))))(*fargs)
    worst = 0.0
    failures: list[tuple[float, str]] = []
    for k, (a, g) in enumerate(zip(fargs, analytic, strict=True)):
        n = a.shape[1]
        for idx, x in enumerate(a.data):
            h = eps if eps is not None else _CBRT_U * max(1.0, abs(x))
            hi, lo = x + h, x - h
            step2 = hi - lo  # the step actually taken (x ± h rounded)

            d = (_moved(f, fargs, k, idx, hi) - _moved(f, fargs, k, idx, lo)) / step2
            an = float(g.data[idx])
            scale = max(abs(an), abs(d))
            err = abs(an - d)
            rel = 0.0 if err == 0 else err / scale
            if math.isnan(rel) or math.isnan(d) or math.isnan(an):
                rel = math.inf
            worst = max(worst, rel)
            if not err <= atol + rtol * scale:
                i, j = divmod(idx, n)
                failures.append(
                    (
                        rel,
                        f"argument {k + 1}, entry ({i + 1}, {j + 1}): refnn.grad gives "
                        f"{an!r} but the central difference (h={step2 / 2:.3g}) gives {d!r} "
                        f"(|difference| = {err:.3g}, allowed {atol + rtol * scale:.3g})",
                    )
                )
    if failures:
        failures.sort(key=lambda t: -t[0])
        more = f" (and {len(failures) - 1} more entries)" if len(failures) > 1 else ""
        raise AssertionError(f"check_grad: gradient mismatch at {failures[0][1]}{more}")
    return worst
