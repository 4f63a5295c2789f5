"""Every registry op, proven on matrices of SymPy symbols: forward = spec, VJP = Jᵀ·g.

For **every** op in :data:`refnn.ops.registry` and **every** case of ``spec.cases(3)`` — every
input shape up to 3×3 and every parameter value class the op lists — this file builds
matrices of real SymPy symbols (positive symbols for arguments whose input domain lies in
x > 0: ``log``, ``sqrt``, ``pow``) and shows:

(a) **forward**: the op, called through the registry (:func:`refnn.ops.apply`, the very code
    that runs on floats), has the shape its shape rule announces and equals the op's SymPy
    specification ``spec.spec(...)`` entry by entry;
(b) **VJP**: ``refnn.vjp`` of the op, applied to a matrix ``g`` of fresh cotangent symbols,
    equals Jᵀ·g computed by SymPy from the specification alone:
    ``(Jᵀg)[x] = Σ_{k,l} g[k,l] · ∂spec[k,l]/∂x`` for every input entry ``x``.

"Equals" means: each entry of the difference is shown to be identically zero by the
cheapest sufficient SymPy step — structural equality, then ``expand``, then ``cancel``
(exact rational-function arithmetic in the symbols and in atoms such as ``exp(x)``,
``tanh(x)``), and only if those fail ``simplify``. A step only ever *confirms* zero, so the
order affects speed, never soundness.

**Piecewise ops** (``spec.smooth is False``: relu, step, leaky_relu, clip). At a kink the
kernel and SymPy follow different conventions (SymPy's ``Max`` has no derivative there;
the kernel picks one), so these are proven **region by region**: the real line is cut at
the points the op's input domain avoids (``InputDomain.avoid``: the kinks; for clip they
include lo and hi of every case), and every open region is parametrised by a positive
symbol p — ``(−∞, b₁)`` as ``b₁ − p``, ``(bᵢ, bᵢ₊₁)`` as ``bᵢ + (bᵢ₊₁ − bᵢ)·p/(1 + p)``,
``(b_k, ∞)`` as ``b_k + p``. Each entry is placed in each region (every entry in the same
region, and rotated patterns that mix regions across entries), the kernel is run on those
inputs, and the spec and its derivative (taken in the unrestricted symbol, then
substituted) must agree. Together the regions cover every real input except the finitely
many kinks; the kink values themselves (relu'(0) = 0, step(0) = 0, leaky'(0) = slope,
clip' = 0 at lo and hi) are documented conventions, checked in ``tests/test_ops_meta.py``.

Shape bound: every case of ``cases(3)``, i.e. every input shape up to 3×3 (matmul: all
m×k @ k×n with m, k, n ≤ 3; concat: all pairs; slice: every column range; broadcast:
every source shape). The module-level ``PROOF_CASES`` lists them; the meta-test checks that
it covers the whole registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from fractions import Fraction
from itertools import pairwise, product
from typing import Any

import pytest
import sympy

import refnn
from refnn import Matrix
from refnn.ops import apply, registry
from refnn.ops._core import OpSpec

#: The shape bound of the proofs: every case of ``spec.cases(K)``.
K = 3

Shape = tuple[int, int]
Case = tuple[tuple[Shape, ...], tuple[Any, ...]]


def _case_id(name: str, shapes: tuple[Shape, ...], params: tuple[Any, ...]) -> str:
    s = ",".join(f"{m}x{n}" for m, n in shapes)
    p = "" if not params else "[" + ",".join(str(x) for x in params) + "]"
    return f"{name}-{s}{p}"


#: (op name, input shapes, params) for every op and every case up to K×K.
PROOF_CASES: list[tuple[str, tuple[Shape, ...], tuple[Any, ...]]] = [
    (name, shapes, params)
    for name in sorted(registry)
    for shapes, params in registry[name].cases(K)
]
PROOF_IDS = [_case_id(*c) for c in PROOF_CASES]


# ------------------------------------------------------------------ building blocks
def sym_param(p: Any) -> Any:
    """A case parameter for the SymPy spec: Fractions become exact ``sympy.Rational``."""
    if isinstance(p, Fraction):
        return sympy.Rational(p.numerator, p.denominator)
    return p


def sym_inputs(spec: OpSpec, shapes: tuple[Shape, ...]) -> list[list[sympy.Symbol]]:
    """One matrix (as a list of rows) of fresh real symbols per input: ``a_i_j``, ``b_i_j``."""
    out = []
    for k, ((m, n), dom) in enumerate(zip(shapes, spec.domains, strict=True)):
        letter = "abcd"[k]
        positive = dom.lo > 0
        out.append(
            [
                [
                    sympy.Symbol(f"{letter}_{i}_{j}", real=True, positive=positive or None)
                    for j in range(1, n + 1)
                ]
                for i in range(1, m + 1)
            ]
        )
    return out


def is_zero(d: Any) -> bool:
    """Whether the SymPy expression ``d`` is identically zero (cheapest sufficient step)."""
    d = sympy.sympify(d)
    if d == 0:
        return True
    e = sympy.expand(d)
    if e == 0:
        return True
    if sympy.cancel(e) == 0:
        return True
    # exp(x − c) etc.: write every exponential as a power of exp of a single symbol
    r = sympy.cancel(sympy.powsimp(sympy.expand(e, power_exp=True), combine="exp"))
    if r == 0:
        return True
    return bool(sympy.simplify(e) == 0)


def assert_entries_equal(actual: Any, expected: Any, what: str) -> None:
    """Two equal-shape matrices (refnn or SymPy) agree entry by entry (differences ≡ 0)."""
    a = sympy.Matrix(actual.tolist())
    e = sympy.Matrix(expected.tolist())
    assert a.shape == e.shape, f"{what}: shape {a.shape} but the spec gives {e.shape}"
    for i, j in product(range(a.rows), range(a.cols)):
        d = a[i, j] - e[i, j]
        assert is_zero(d), (
            f"{what}, entry ({i + 1}, {j + 1}): kernel {a[i, j]} vs spec {e[i, j]}; "
            f"difference {sympy.simplify(d)} ≠ 0"
        )


def jt_g(out: Any, xs: list[list[sympy.Symbol]], g: Any) -> sympy.Matrix:
    """Jᵀ·g for one input: entry x is Σ_{k,l} g[k,l] · ∂out[k,l]/∂x (SymPy, from the spec)."""
    flat_out = list(out)
    flat_g = list(g)
    return sympy.Matrix(
        [
            [
                sympy.Add(*(gk * sympy.diff(o, x) for o, gk in zip(flat_out, flat_g, strict=True)))
                for x in row
            ]
            for row in xs
        ]
    )


# ------------------------------------------------------------------ regions of piecewise ops
def regions(spec: OpSpec) -> list[Callable[[sympy.Symbol], Any]]:
    """The open regions between the kinks of a piecewise op, each as ``p ↦ point`` with p > 0."""
    cuts = sorted({sympy.Rational(Fraction(b)) for d in spec.domains for b in d.avoid})
    assert cuts, f"{spec.name} is not smooth but its input domain names no kink to avoid"
    out: list[Callable[[sympy.Symbol], Any]] = [lambda p, b=cuts[0]: b - p]
    for lo, hi in pairwise(cuts):
        out.append(lambda p, lo=lo, hi=hi: lo + (hi - lo) * p / (1 + p))
    out.append(lambda p, b=cuts[-1]: b + p)
    return out


def region_patterns(spec: OpSpec, symbols: list[sympy.Symbol]) -> Iterator[dict[sympy.Symbol, Any]]:
    """Substitutions placing every symbol in every region: all in one region, and rotations
    that give neighbouring entries different regions. Smooth ops: the identity only."""
    if spec.smooth:
        yield {}
        return
    regs = regions(spec)
    ps = [sympy.Symbol(f"p_{s.name}", positive=True) for s in symbols]
    seen: set[tuple[int, ...]] = set()
    layouts = [(r,) * len(symbols) for r in range(len(regs))]
    layouts += [tuple((k + s) % len(regs) for k in range(len(symbols))) for s in range(len(regs))]
    for layout in layouts:
        if layout in seen:
            continue
        seen.add(layout)
        yield {x: regs[r](p) for x, p, r in zip(symbols, ps, layout, strict=True)}


# ------------------------------------------------------------------ the proof
@functools.cache
def _g_symbols(m: int, n: int) -> tuple[tuple[sympy.Symbol, ...], ...]:
    return tuple(
        tuple(sympy.Symbol(f"g_{i}_{j}", real=True) for j in range(1, n + 1))
        for i in range(1, m + 1)
    )


@pytest.mark.parametrize(("name", "shapes", "params"), PROOF_CASES, ids=PROOF_IDS)
def test_op_forward_and_vjp_equal_spec(
    name: str, shapes: tuple[Shape, ...], params: tuple[Any, ...]
) -> None:
    spec = registry[name]
    xs = sym_inputs(spec, shapes)
    sparams = tuple(sym_param(p) for p in params)

    # The specification and its Jᵀg, in the unrestricted symbols.
    expected = spec.spec(*(sympy.Matrix(x) for x in xs), *sparams)
    want_shape = spec.shape(*shapes, *params)
    assert tuple(expected.shape) == want_shape, (
        f"{name}: the spec gives {expected.shape}, the shape rule {want_shape}"
    )
    g = sympy.Matrix(_g_symbols(*want_shape))
    expected_cts = [jt_g(expected, x, g) for x in xs]

    all_symbols = [s for x in xs for row in x for s in row]
    for sub in region_patterns(spec, all_symbols):
        where = f"{_case_id(name, shapes, params)}" + (f" on {sub}" if sub else "")
        inputs = tuple(
            Matrix([[sympy.sympify(s).subs(sub) if sub else s for s in row] for row in x])
            for x in xs
        )

        def f(*a: Any) -> Any:
            return apply(spec, a, params)

        # (a) forward
        out = f(*inputs)
        assert out.shape == want_shape, f"{where}: shape {out.shape}, rule says {want_shape}"
        assert_entries_equal(out, expected.subs(sub) if sub else expected, f"{where} forward")

        # (b) VJP through refnn.vjp (the tape and the registry VJP)
        value, back = refnn.vjp(f, *inputs)
        assert value == out
        cts = back(Matrix(g.tolist()))
        assert len(cts) == spec.arity
        for k, (ct, want) in enumerate(zip(cts, expected_cts, strict=True)):
            assert ct.shape == shapes[k], f"{where}: cotangent {k + 1} has shape {ct.shape}"
            assert_entries_equal(ct, want.subs(sub) if sub else want, f"{where} VJP arg {k + 1}")
