"""Hypothesis properties of every registry op: float results against the SymPy spec at 50 digits.

For each op in ``sorted(refnn.ops.registry)``, :func:`refnn.testing.op_inputs` draws a case
(input shapes up to 3×3 and a parameter value class from ``spec.cases(3)``) and float inputs
in the op's :class:`~refnn.ops.InputDomain`; a cotangent ``G`` is drawn in ``[−2, 2]``.
The expected values are the op's **SymPy specification** (never the kernel), lambdified once
per (op, case) and evaluated with mpmath at 50 significant digits on the float inputs taken
exactly. Parameters are rounded to doubles the way the kernel rounds them
(:func:`refnn.ops.const`), so the reference is the exact value of the computed function at
the float inputs, which is what an :class:`~refnn.ops.ErrorBound` promises.

Tolerance rules (``u = 2⁻⁵³``, ``ulp`` of the exact value):

* **forward, element-wise** — ``bound.ulps · ulp(y)``.
* **forward, reductions** (``bound.reduction``; matmul, sum, sum_rows, sum_cols, mean) —
  ``bound.ulps · ulp(y) + γₙ · Σ|tᵢ|``, where the tᵢ are the ``n`` addends of the expanded
  spec entry (the products of a dot product, the entries of a sum, aᵢⱼ/(mn) of a mean)
  evaluated at the inputs: condition-aware, a cancelling sum is judged by its terms.
* **forward, softmax_rows** — ``bound.ulps · ulp(y) + (2D + 6)·u·|y|`` with ``D`` the largest
  ``|xⱼ − M|`` of the row (``M`` the row maximum). Derivation: the shift ``xⱼ − M`` is rounded
  (absolute error ≤ u·D, amplified by exp into a relative error ≤ u·D), exp adds ≤ 1 ulp
  (≤ 2u), the correctly rounded ``fsum`` adds u to the normaliser, the division u; the
  numerator and normaliser errors add up to (2D + 6)·u relative.
* **forward, log_softmax_rows** — ``bound.ulps · ulp(y) + u·(|xⱼ − M| + D + 3 + 2L + |y|)``
  with ``L = log Σₖ e^{xₖ−M}``: the rounded shift (u·|xⱼ − M|), the normaliser's relative
  error (≤ (D + 3)·u, an absolute error after the log), the log itself (≤ 1 ulp of L) and the
  final subtraction; an absolute bound, since y can cancel to nearly 0.
* **VJP** — ``(bound.vjp_ulps + κ) · u · T`` per entry, where ``T`` is the magnitude of the
  terms that make the entry: the op's VJP is run once on SymPy symbols (it is proven equal to
  Jᵀg in ``proofs/prove_ops.py``), each entry is expanded, and ``T = Σ|addends|`` at the
  inputs (e.g. ``|g| + |g|·y²`` for tanh's ``g − g·y²``, so the cancellation near y = ±1 is
  judged by its terms), plus ``γ_{n−1} · T`` for an entry of ``n`` addends (VJPs that sum,
  e.g. broadcast's ``sum(g)``). ``T`` only scales the tolerance; the expected value is always Jᵀg
  from the spec. ``κ`` carries the forward error of ``y`` into VJPs that reuse it: the
  softmax bound above, ``2D + 6``, for softmax_rows and log_softmax_rows, and 0 otherwise.

The default Hypothesis profile draws 25 examples per op; ``REFNN_HYPOTHESIS_PROFILE=thorough``
draws 500.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import refnn
from refnn import Matrix
from refnn.matrix import gamma
from refnn.ops import apply, const, registry
from refnn.ops._core import OpSpec
from refnn.testing import assert_close
from refnn.testing.strategies import finite_floats, op_inputs

U = 2.0**-53
DPS = 50
OPS = sorted(registry)
Shape = tuple[int, int]
#: Cotangent entries: [−2, 2], 0 or at least 1e-100 in magnitude (no underflow).
COTANGENT = finite_floats(max_magnitude=2.0)


# ------------------------------------------------------------------ the symbolic models, cached
@dataclass(frozen=True)
class ForwardModel:
    """Lambdified (mpmath) spec of one (op, case): values and, for reductions, Σ|addends|."""

    out_shape: Shape
    values: Callable[..., list[Any]]
    terms: Callable[..., list[Any]] | None
    counts: tuple[int, ...]


@dataclass(frozen=True)
class VjpModel:
    """Lambdified Jᵀg from the spec and Σ|addends| of the op's VJP, of one (op, case)."""

    out_shape: Shape
    jtg: Callable[..., list[Any]]
    terms: Callable[..., list[Any]]
    counts: tuple[int, ...]


def float_param(p: Any) -> Any:
    """The parameter as the float kernel sees it (rounded by ``const``), as an exact SymPy
    number for the spec."""
    v = const(p, Matrix([[0.5]]))
    if type(v) is int:
        return v
    q = Fraction(v)
    return sympy.Rational(q.numerator, q.denominator)


def _symbols(spec: OpSpec, shapes: tuple[Shape, ...]) -> list[list[list[sympy.Symbol]]]:
    return [
        [
            [
                sympy.Symbol(f"{'abcd'[k]}_{i}_{j}", real=True, positive=(dom.lo > 0) or None)
                for j in range(1, n + 1)
            ]
            for i in range(1, m + 1)
        ]
        for k, ((m, n), dom) in enumerate(zip(shapes, spec.domains, strict=True))
    ]


class _Pos(sympy.Function):
    """1 where the argument is positive, else 0: SymPy's Heaviside away from its kink
    (lambdified directly; SymPy's own printer of Heaviside is slow)."""


_MODULES: list[Any] = [{"_Pos": lambda z: 1 if z > 0 else 0}, "mpmath"]


def _off_kinks(e: Any) -> Any:
    """An expression valid away from the kinks (tests never draw a kink): DiracDelta is 0
    there and Heaviside is the indicator of a positive argument."""
    return (
        sympy.sympify(e)
        .replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
        .replace(sympy.Heaviside, lambda z, *h: _Pos(z))
    )


def _abs_terms(e: Any) -> tuple[Any, int]:
    addends = sympy.Add.make_args(sympy.expand(sympy.sympify(e)))
    return sympy.Add(*(sympy.Abs(t) for t in addends)), len(addends)


Sym = list[sympy.Symbol]


@functools.cache
def _spec_on_symbols(
    name: str, shapes: tuple[Shape, ...], params: tuple[Any, ...]
) -> tuple[list[Sym], Sym, Any, tuple[Any, ...]]:
    """(input symbols per input, all input symbols, spec output, spec params)."""
    spec = registry[name]
    xs = _symbols(spec, shapes)
    flat_x = [s for x in xs for row in x for s in row]
    sp_params = tuple(float_param(p) for p in params)
    Y = spec.spec(*(sympy.Matrix(x) for x in xs), *sp_params)
    return [[s for row in x for s in row] for x in xs], flat_x, Y, sp_params


@functools.cache
def forward_model(name: str, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> ForwardModel:
    _, flat_x, Y, _ = _spec_on_symbols(name, shapes, params)
    ys = [_off_kinks(y) for y in Y]
    terms = None
    counts: tuple[int, ...] = ()
    if registry[name].bound.reduction:
        pairs = [_abs_terms(y) for y in ys]
        terms = sympy.lambdify(flat_x, [t for t, _ in pairs], _MODULES)
        counts = tuple(c for _, c in pairs)
    return ForwardModel(Y.shape, sympy.lambdify(flat_x, ys, _MODULES), terms, counts)


@functools.cache
def vjp_model(name: str, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> VjpModel:
    spec = registry[name]
    per_input, flat_x, Y, sp_params = _spec_on_symbols(name, shapes, params)
    m, n = Y.shape
    g = [[sympy.Symbol(f"g_{i}_{j}", real=True) for j in range(n)] for i in range(m)]
    flat_g = [s for row in g for s in row]
    ys = list(Y)
    jtg = [
        _off_kinks(sympy.Add(*(gk * sympy.diff(y, x) for y, gk in zip(ys, flat_g, strict=True))))
        for x in flat_x
    ]
    # The op's own VJP on symbols: only for the magnitude T of its terms.
    inputs = tuple(
        Matrix.from_flat(sh[0], sh[1], xs) for sh, xs in zip(shapes, per_input, strict=True)
    )
    _, back = refnn.vjp(lambda *a: apply(spec, a, sp_params), *inputs)
    cts = back(Matrix(g))
    pairs = [_abs_terms(_off_kinks(e)) for ct in cts for e in ct.data]
    return VjpModel(
        out_shape=(m, n),
        jtg=sympy.lambdify([*flat_x, *flat_g], jtg, _MODULES),
        terms=sympy.lambdify([*flat_x, *flat_g], [t for t, _ in pairs], _MODULES),
        counts=tuple(c for _, c in pairs),
    )


# ------------------------------------------------------------------ softmax conditioning
def _row_stats(x: Matrix[float]) -> list[tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]]:
    """Per row: (M, D, L) = (max, max|xⱼ − M|, log Σ e^{xₖ−M}) at 50 digits."""
    out = []
    for r in x.rows():
        M = max(r)
        D = mpmath.mpf(max(abs(mpmath.mpf(v) - M) for v in r))
        L = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v) - M) for v in r))
        out.append((mpmath.mpf(M), D, L))
    return out


def _kappa(name: str, inputs: tuple[Matrix[float], ...]) -> Matrix[Any]:
    """κ per entry of the (single) input: 2D + 6 for the normaliser ops, else 0."""
    x = inputs[0]
    if name not in ("softmax_rows", "log_softmax_rows"):
        return Matrix.full(x.shape[0], x.shape[1], 0)
    stats = _row_stats(x)
    return Matrix([[2 * D + 6 for _ in range(x.shape[1])] for (_, D, _) in stats])


def _normaliser_bound(name: str, x: Matrix[float], y: list[Any]) -> list[Any]:
    stats = _row_stats(x)
    n = x.shape[1]
    out = []
    for k, v in enumerate(x.data):
        M, D, L = stats[k // n]
        yk = abs(y[k])
        if name == "softmax_rows":
            out.append((2 * D + 6) * U * yk)
        else:
            out.append(U * (abs(mpmath.mpf(v) - M) + D + 3 + 2 * L + yk))
    return out


# ------------------------------------------------------------------ the properties
def _mp(xs: tuple[Matrix[float], ...]) -> list[mpmath.mpf]:
    return [mpmath.mpf(v) for x in xs for v in x.data]


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_forward_matches_spec(name: str, data: st.DataObject) -> None:
    spec = registry[name]
    inputs, params = data.draw(op_inputs(spec), label="(inputs, params)")
    mdl = forward_model(name, tuple(x.shape for x in inputs), params)
    out = apply(spec, inputs, params)
    assert out.shape == mdl.out_shape
    with mpmath.workdps(DPS):
        args = _mp(inputs)
        exact = mdl.values(*args)
        extra: list[Any] = [0] * len(exact)
        if mdl.terms is not None:
            extra = [gamma(c) * t for c, t in zip(mdl.counts, mdl.terms(*args), strict=True)]
        if name in ("softmax_rows", "log_softmax_rows"):
            extra = _normaliser_bound(name, inputs[0], exact)
        m, n = mdl.out_shape
        assert_close(
            out,
            Matrix.from_flat(m, n, [mpmath.mpf(e) for e in exact]),
            ulps=spec.bound.ulps,
            abs_bound=Matrix.from_flat(m, n, [mpmath.mpf(e) for e in extra]),
            what=f"{name}{params} forward",
        )


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_vjp_matches_spec(name: str, data: st.DataObject) -> None:
    spec = registry[name]
    inputs, params = data.draw(op_inputs(spec), label="(inputs, params)")
    mdl = vjp_model(name, tuple(x.shape for x in inputs), params)
    m, n = mdl.out_shape
    gs = data.draw(st.lists(COTANGENT, min_size=m * n, max_size=m * n), label="cotangent")
    G = Matrix.from_flat(m, n, gs)
    _, back = refnn.vjp(lambda *a: apply(spec, a, params), *inputs)
    cts = back(G)
    kappa = _kappa(name, inputs)
    with mpmath.workdps(DPS):
        args = [*_mp(inputs), *(mpmath.mpf(v) for v in gs)]
        exact = mdl.jtg(*args)
        terms = mdl.terms(*args)
        pos = 0
        for k, (x, ct) in enumerate(zip(inputs, cts, strict=True)):
            assert ct.shape == x.shape, f"cotangent {k + 1}: {ct.shape} vs {x.shape}"
            size = x.size
            want = exact[pos : pos + size]
            t = terms[pos : pos + size]
            kap = kappa.data if k == 0 else (0,) * size
            cnt = mdl.counts[pos : pos + size]
            allowed = [
                ((spec.bound.vjp_ulps + kp) * U + gamma(c - 1)) * tt
                for kp, tt, c in zip(kap, t, cnt, strict=True)
            ]
            pos += size
            assert_close(
                ct,
                Matrix.from_flat(*x.shape, [mpmath.mpf(w) for w in want]),
                abs_bound=Matrix.from_flat(*x.shape, [mpmath.mpf(a) for a in allowed]),
                what=f"{name}{params} VJP w.r.t. argument {k + 1}",
            )


def test_reference_is_not_the_kernel() -> None:
    """The tolerance machinery rejects a wrong value: tanh's kernel result nudged by 5 ulps
    (more than tanh's 2-ulp bound) fails against the 50-digit spec."""
    mdl = forward_model("tanh", ((1, 1),), ())
    x = 0.75
    with mpmath.workdps(DPS):
        exact = mdl.values(mpmath.mpf(x))[0]
    bad = math.tanh(x) + 5 * math.ulp(math.tanh(x))
    with pytest.raises(AssertionError):
        assert_close(Matrix([[bad]]), Matrix([[exact]]), ulps=registry["tanh"].bound.ulps)
