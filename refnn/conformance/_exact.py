"""High-precision reference values and the error allowance of one op call.

Everything here runs the *reference* kernels and VJPs of the registry on matrices of
``mpmath`` numbers at :data:`DPS` significant digits (the reference ``Matrix`` supports that
domain; the ops' kernels and VJPs are proven against their SymPy specifications in
``proofs/``). Parameters are first converted the way a float backend sees them (the nearest
double, see :func:`refnn.ops.const`), then taken exactly: the reference value is the exact
value of the op *at the float inputs and float parameters*.

Allowances (absolute, per entry):

* forward: ``ulps · ulp(exact)``, plus for ``reduction`` ops ``γ_N · T`` with ``N`` the
  number of input entries and ``T = |f| + Σᵢ |∂f/∂xᵢ|·|xᵢ|`` (for a sum or a product this is
  Σ|terms|; for a normalised quantity like softmax it also keeps the relative part);
* VJP: ``vjp_ulps · ulp(mag) + err`` where ``mag`` is the *magnitude of the terms that make the
  entry*: the VJP (itself a composition of registry ops) is evaluated once more on a
  "magnitude" backend whose every op returns ``|f(v)| + Σ |J|·mag(inputs)`` (first-order
  error propagation, leaves taking their own magnitude). A cancelling difference is so
  judged by the size of what cancelled, not by its small result. ``err`` is the error the
  composition may carry when each of its ops meets its own forward bound (the output
  ``y`` it reuses included), propagated to first order the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import mpmath

from refnn.matrix import Matrix, gamma
from refnn.ops import OpSpec, const, register_kernels, registry

__all__ = [
    "DPS",
    "abs_jacobian_apply",
    "exact_forward",
    "exact_vjp",
    "float_params",
    "forward_allowance",
    "forward_scale_and_allowance",
    "jacobian_rows",
    "precise",
    "round_float",
    "to_mp",
    "vjp_allowance",
]

#: Significant decimal digits of the reference computations.
DPS = 60
_FLOAT_LIKE = Matrix([[0.0]])


@contextmanager
def precise() -> Iterator[None]:
    """mpmath at :data:`DPS` digits for the duration of the block."""
    with mpmath.workdps(DPS):
        yield


def to_mp(A: Matrix[Any]) -> Matrix[Any]:
    """A float matrix as an mpmath matrix with the same (exact) values."""
    m, n = A.shape
    return Matrix.from_flat(m, n, [mpmath.mpf(x) for x in A.data])


def float_params(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parameters as a float backend sees them (ints stay ints, others → nearest double)."""
    return tuple(const(p, _FLOAT_LIKE) for p in params)


def round_float(x: Any) -> float:
    """An mpmath number (or anything exact) correctly rounded to the nearest double.

    Raises ``OverflowError`` when the value is beyond the double range, ``ValueError`` for
    NaN or an infinity.
    """
    if isinstance(x, float):
        return x
    if isinstance(x, (int, Fraction)):
        return float(x)
    if not mpmath.isfinite(x):
        raise ValueError(f"not a finite number: {x}")
    sign, man, exp, _bc = mpmath.mpf(x)._mpf_
    man = int(man)
    if man == 0:
        return 0.0
    # int → float and int / int are correctly rounded in CPython (subnormals included).
    v = float(man << exp) if exp >= 0 else man / (1 << -exp)
    return -v if sign else v


def exact_forward(spec: OpSpec, xs_mp: tuple[Matrix[Any], ...], fparams: tuple[Any, ...]) -> Any:
    """The reference forward at high precision (call inside :func:`precise`)."""
    return spec.forward(*xs_mp, *fparams)


def exact_vjp(
    spec: OpSpec,
    g_mp: Matrix[Any],
    y_mp: Matrix[Any],
    xs_mp: tuple[Matrix[Any], ...],
    fparams: tuple[Any, ...],
) -> tuple[Matrix[Any], ...]:
    """The reference VJP at high precision (call inside :func:`precise`)."""
    return tuple(spec.vjp(g_mp, y_mp, xs_mp, fparams))


def _abs(A: Matrix[Any]) -> Matrix[Any]:
    m, n = A.shape
    return Matrix._new(m, n, tuple(abs(x) for x in A.data), A.domain)


def _ulp(v: float) -> Any:
    return mpmath.mpf(math.ulp(v))


def jacobian_rows(
    spec: OpSpec, xs: tuple[Matrix[Any], ...], y: Matrix[Any], params: tuple[Any, ...]
) -> list[list[tuple[Any, ...]]]:
    """``rows[k][i]``: row k of the Jacobian of output entry k with respect to input i (flat).

    Computed with the op's VJP and one-hot cotangents (outputs in conformance runs have a
    few entries)."""
    m, n = y.shape
    size = m * n
    zero, one = mpmath.mpf(0), mpmath.mpf(1)
    rows: list[list[tuple[Any, ...]]] = []
    for k in range(size):
        onehot = Matrix._new(m, n, tuple(one if i == k else zero for i in range(size)), y.domain)
        cts = spec.vjp(onehot, y, xs, params)
        rows.append([tuple(ct.data) for ct in cts])
    return rows


def abs_jacobian_apply(
    rows: list[list[tuple[Any, ...]]], weights: tuple[Matrix[Any], ...]
) -> list[Any]:
    """``Σ_inputs |J|·w`` for each output entry (flat), from :func:`jacobian_rows`."""
    return [
        mpmath.fsum(
            abs(a) * b
            for r, w in zip(row, weights, strict=True)
            for a, b in zip(r, w.data, strict=True)
        )
        for row in rows
    ]


def forward_scale_and_allowance(
    spec: OpSpec,
    xs_mp: tuple[Matrix[Any], ...],
    y_mp: Matrix[Any],
    fparams: tuple[Any, ...],
    rows: list[list[tuple[Any, ...]]] | None = None,
) -> tuple[list[Any], list[Any]]:
    """``(scale, allowance)`` of each output entry of the forward (mpmath numbers).

    ``scale`` is what ULPs are counted in: ``|exact|`` for element-wise ops, the magnitude
    ``T`` of what the entry sums for reductions; ``allowance`` is the absolute error allowed.
    """
    ulps = mpmath.mpf(spec.bound.ulps)
    scale = [abs(v) for v in y_mp.data]
    allow = [ulps * _ulp(round_float(v)) for v in y_mp.data]
    if spec.bound.reduction:
        if rows is None:
            rows = jacobian_rows(spec, xs_mp, y_mp, fparams)
        n_terms = builtin_sum(A.size for A in xs_mp)
        t_in = abs_jacobian_apply(rows, tuple(_abs(A) for A in xs_mp))
        # a relative error in an internal sum taken through log (ErrorBound.log_of_sum)
        # shifts every entry by about that much, absolutely
        extra = [mpmath.mpf(1) if spec.bound.log_of_sum else 0] * y_mp.size
        g = mpmath.mpf(gamma(max(n_terms, 1)))
        scale = [abs(yk) + t + e for yk, t, e in zip(y_mp.data, t_in, extra, strict=True)]
        allow = [a + g * t for a, t in zip(allow, scale, strict=True)]
    return scale, allow


def forward_allowance(
    spec: OpSpec,
    xs_mp: tuple[Matrix[Any], ...],
    y_mp: Matrix[Any],
    fparams: tuple[Any, ...],
    rows: list[list[tuple[Any, ...]]] | None = None,
) -> list[Any]:
    """The absolute allowance (mpmath numbers) of each output entry of the forward."""
    return forward_scale_and_allowance(spec, xs_mp, y_mp, fparams, rows)[1]


builtin_sum = sum


# ------------------------------------------------------------------ the magnitude backend
class _Mag:
    """A value of the magnitude backend: exact value, magnitude of its terms, and the error
    a conforming float computation of it may carry (all mpmath matrices)."""

    __slots__ = ("err", "mag", "val")

    def __init__(self, val: Matrix[Any], mag: Matrix[Any], err: Matrix[Any]) -> None:
        self.val = val
        self.mag = mag
        self.err = err

    @property
    def shape(self) -> tuple[int, int]:
        return self.val.shape


def _mag_kernel(spec: OpSpec) -> Callable[..., _Mag]:
    def kernel(*args: Any) -> _Mag:
        inputs = args[: spec.arity]
        params = args[spec.arity :]
        vals = tuple(a.val for a in inputs)
        y = spec.forward(*vals, *params)
        rows = jacobian_rows(spec, vals, y, params)
        prop_mag = abs_jacobian_apply(rows, tuple(a.mag for a in inputs))
        prop_err = abs_jacobian_apply(rows, tuple(a.err for a in inputs))
        own = forward_allowance(spec, vals, y, params, rows)
        m, n = y.shape
        mag = Matrix._new(
            m, n, tuple(abs(v) + p for v, p in zip(y.data, prop_mag, strict=True)), y.domain
        )
        err = Matrix._new(m, n, tuple(o + p for o, p in zip(own, prop_err, strict=True)), y.domain)
        return _Mag(y, mag, err)

    return kernel


_mag_kernels: Mapping[str, Callable[..., Any]] = {
    name: _mag_kernel(spec) for name, spec in registry.items()
}
register_kernels(_Mag, _mag_kernels)


def vjp_allowance(
    spec: OpSpec,
    g_mp: Matrix[Any],
    y_mp: Matrix[Any],
    xs_mp: tuple[Matrix[Any], ...],
    fparams: tuple[Any, ...],
) -> list[tuple[list[Any], list[Any]]]:
    """``(mag, allowance)`` for each entry of each input's VJP (see the module docstring):
    the magnitude of its terms, and the absolute allowance ``vjp_ulps · ulp(mag) + err``."""

    def zeros(A: Matrix[Any]) -> Matrix[Any]:
        m, n = A.shape
        return Matrix._new(m, n, (mpmath.mpf(0),) * A.size, A.domain)

    y_err = forward_allowance(spec, xs_mp, y_mp, fparams)
    y_leaf = _Mag(y_mp, _abs(y_mp), Matrix._new(*y_mp.shape, tuple(y_err), y_mp.domain))
    g_leaf = _Mag(g_mp, _abs(g_mp), zeros(g_mp))
    x_leaves = tuple(_Mag(x, _abs(x), zeros(x)) for x in xs_mp)
    cts = spec.vjp(g_leaf, y_leaf, x_leaves, fparams)
    k = mpmath.mpf(spec.bound.vjp_ulps)
    return [
        (
            list(c.mag.data),
            [k * _ulp(round_float(mg)) + e for mg, e in zip(c.mag.data, c.err.data, strict=True)],
        )
        for c in cts
    ]
