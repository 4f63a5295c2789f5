"""Random compositions of registry ops, differentiated end to end and checked against SymPy.

Hypothesis builds a small program over two 2×2 inputs X and Y: 2–5 steps, each applying one
*building block* to earlier values (so values may be used twice — shared sub-expressions
must accumulate their gradients). A block is one registry op, or a registry op wrapped so
that its shape stays 2×2 and its argument stays in its domain (``log(1 + A²)``,
``broadcast(sum_rows(A), 2, 2)``, ``slice_cols(concat_cols(A, B), 2, 3)``, …). The program's
last value is reduced with ``ops.sum``.

The same program is interpreted twice:

* with the reference kernels (``ops.apply``) on float matrices, differentiated by
  ``refnn.grad`` (and, for second derivatives, ``refnn.grad`` of ``ops.sum`` of ``refnn.grad``);
* with each op's **SymPy specification** (``registry[name].spec``, never the kernel) on
  ``sympy.Matrix`` of symbols; ``sympy.diff`` gives the exact derivatives, evaluated with
  mpmath at 50 digits on the float inputs taken exactly.

Tolerance: ``|refnn − exact| ≤ 1e-8 · max(1, max|exact|)`` per entry, the largest entry
setting the scale. Each block is accurate to a few ulps (see test_ops_properties); a chain of
at most five of them, with intermediate values kept below 1e4 in magnitude (programs whose
values grow larger are rejected with ``assume``), loses far fewer than the eight digits this
allows, while any wrong derivative rule is off by O(1).

Piecewise ops (relu, leaky_relu, step, clip) are used only on the inputs themselves, which are
drawn at least 0.01 away from their kinks, so no rounding can move a value across a kink.
The second-derivative test (``refnn.grad`` of ``ops.sum`` of ``refnn.grad``: it differentiates
each VJP, so every VJP must itself be traceable) is parametrised over the smooth blocks: each
one is applied to X first, then up to two random smooth blocks follow; it draws an eighth of
the profile's examples per block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import refnn
from refnn import Matrix
from refnn.ops import apply, registry

DPS = 50
Op = Callable[..., Any]  # op(name, *inputs, *params) on one backend


# ------------------------------------------------------------------ building blocks
@dataclass(frozen=True)
class Block:
    arity: int
    build: Callable[..., Any]  # build(op, *inputs) -> value
    smooth: bool = True
    leaf_only: bool = False  # only applied to X or Y themselves (piecewise ops)


def _one_plus_square(op: Op, a: Any) -> Any:
    return op("add_scalar", op("square", a), 1)


BLOCKS: dict[str, Block] = {
    # element-wise, all reals
    "neg": Block(1, lambda op, a: op("neg", a)),
    "square": Block(1, lambda op, a: op("square", a)),
    "tanh": Block(1, lambda op, a: op("tanh", a)),
    "sigmoid": Block(1, lambda op, a: op("sigmoid", a)),
    "softplus": Block(1, lambda op, a: op("softplus", a)),
    "sin": Block(1, lambda op, a: op("sin", a)),
    "cos": Block(1, lambda op, a: op("cos", a)),
    "exp": Block(1, lambda op, a: op("exp", a)),
    "scale": Block(1, lambda op, a: op("scale", a, Fraction(-3, 2))),
    "add_scalar": Block(1, lambda op, a: op("add_scalar", a, Fraction(1, 4))),
    "transpose": Block(1, lambda op, a: op("transpose", a)),
    # positive domains, kept positive
    "log": Block(1, lambda op, a: op("log", _one_plus_square(op, a))),
    "sqrt": Block(1, lambda op, a: op("sqrt", _one_plus_square(op, a))),
    "pow_half": Block(1, lambda op, a: op("pow", _one_plus_square(op, a), Fraction(1, 2))),
    "pow_inv": Block(1, lambda op, a: op("pow", _one_plus_square(op, a), -1)),
    "pow3": Block(1, lambda op, a: op("pow", a, 3)),
    # row-wise and reductions, brought back to 2×2
    "softmax_rows": Block(1, lambda op, a: op("softmax_rows", a)),
    "log_softmax_rows": Block(1, lambda op, a: op("log_softmax_rows", a)),
    "sum": Block(1, lambda op, a: op("broadcast", op("sum", a), 2, 2)),
    "mean": Block(1, lambda op, a: op("broadcast", op("mean", a), 2, 2)),
    "sum_rows": Block(1, lambda op, a: op("broadcast", op("sum_rows", a), 2, 2)),
    "sum_cols": Block(1, lambda op, a: op("broadcast", op("sum_cols", a), 2, 2)),
    # binary
    "add": Block(2, lambda op, a, b: op("add", a, b)),
    "sub": Block(2, lambda op, a, b: op("sub", a, b)),
    "hadamard": Block(2, lambda op, a, b: op("hadamard", a, b)),
    "matmul": Block(2, lambda op, a, b: op("matmul", a, b)),
    "div": Block(2, lambda op, a, b: op("div", a, _one_plus_square(op, b))),
    "add_row": Block(2, lambda op, a, b: op("add_row", a, op("sum_rows", b))),
    "concat_slice": Block(2, lambda op, a, b: op("slice_cols", op("concat_cols", a, b), 2, 3)),
    # piecewise: on the inputs only
    "relu": Block(1, lambda op, a: op("relu", a), smooth=False, leaf_only=True),
    "leaky_relu": Block(
        1, lambda op, a: op("leaky_relu", a, Fraction(1, 4)), smooth=False, leaf_only=True
    ),
    "step": Block(
        2, lambda op, a, b: op("hadamard", b, op("step", a)), smooth=False, leaf_only=True
    ),
    "clip": Block(1, lambda op, a: op("clip", a, -1, 1), smooth=False, leaf_only=True),
}


def test_blocks_use_every_registry_op() -> None:
    used: set[str] = set()

    def record(name: str, *args: Any) -> str:
        used.add(name)
        return "v"

    for b in BLOCKS.values():
        b.build(record, *(["v"] * b.arity))
    assert used == set(registry)


# ------------------------------------------------------------------ the two interpreters
def float_op(name: str, *args: Any) -> Any:
    spec = registry[name]
    return apply(spec, args[: spec.arity], args[spec.arity :])


def sympy_op(name: str, *args: Any) -> Any:
    spec = registry[name]
    params = tuple(
        sympy.Rational(p.numerator, p.denominator) if isinstance(p, Fraction) else p
        for p in args[spec.arity :]
    )
    return spec.spec(*args[: spec.arity], *params)


Program = list[tuple[str, tuple[int, ...]]]  # (block, indices of earlier values)


def run(program: Program, op: Op, x: Any, y: Any, check: bool = False) -> Any:
    values = [x, y]
    for block, idx in program:
        v = BLOCKS[block].build(op, *(values[i] for i in idx))
        if check:
            c = v
            while hasattr(c, "__refnn_value__"):
                c = c.__refnn_value__
            assume(all(math.isfinite(e) and abs(e) < 1e4 for e in c.data))
        values.append(v)
    return op("sum", values[-1])


SMOOTH_BLOCKS = sorted(b for b, v in BLOCKS.items() if v.smooth)


@st.composite
def programs(
    draw: st.DrawFn, smooth_only: bool = False, max_steps: int = 5, first: str | None = None
) -> Program:
    """2..max_steps steps (1..max_steps when ``first`` fixes the first block, which is then
    applied to X so that the result depends on it)."""
    n = draw(st.integers(1 if first else 2, max_steps))
    names = SMOOTH_BLOCKS if smooth_only else sorted(BLOCKS)
    prog: Program = []
    for step in range(n):
        nvals = 2 + step
        if step == 0 and first is not None:
            idx0 = (0, *(draw(st.integers(0, 1)) for _ in range(BLOCKS[first].arity - 1)))
            prog.append((first, idx0))
            continue
        block = draw(st.sampled_from(names))
        spec = BLOCKS[block]
        if spec.leaf_only:
            idx = tuple(draw(st.integers(0, 1)) for _ in range(spec.arity))
        else:
            last = nvals - 1  # the previous value, so every step feeds the result
            others = tuple(draw(st.integers(0, nvals - 1)) for _ in range(spec.arity - 1))
            idx = (last, *others) if draw(st.booleans()) else (*others, last)
        prog.append((block, idx))
    return prog


AWAY_FROM_KINKS = st.floats(-1.5, 1.5).filter(
    lambda v: all(abs(v - k) >= 0.01 for k in (-1.0, 0.0, 1.0))
)
INPUT = st.lists(AWAY_FROM_KINKS, min_size=4, max_size=4).map(lambda xs: Matrix.from_flat(2, 2, xs))

XS = sympy.Matrix(2, 2, sympy.symbols("x11 x12 x21 x22", real=True))
YS = sympy.Matrix(2, 2, sympy.symbols("y11 y12 y21 y22", real=True))
SYMBOLS = [*XS, *YS]


class _Pos(sympy.Function):
    """Heaviside away from its kink (inputs never sit on one)."""


def _off_kinks(e: Any) -> Any:
    return (
        sympy.sympify(e)
        .replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
        .replace(sympy.Heaviside, lambda z, *h: _Pos(z))
    )


def _evaluate(exprs: list[Any], X: Matrix[float], Y: Matrix[float]) -> list[Any]:
    f = sympy.lambdify(
        SYMBOLS,
        [_off_kinks(e) for e in exprs],
        [{"_Pos": lambda z: 1 if z > 0 else 0}, "mpmath"],
    )
    with mpmath.workdps(DPS):
        return [mpmath.mpf(v) for v in f(*(mpmath.mpf(v) for v in (*X.data, *Y.data)))]


def assert_matches(got: Matrix[Any], exact: list[Any], what: str) -> None:
    scale = max([1.0, *(abs(float(e)) for e in exact)])
    for k, (g, e) in enumerate(zip(got.data, exact, strict=True)):
        err = abs(float(mpmath.mpf(g) - e))
        assert err <= 1e-8 * scale, (
            f"{what}, entry {divmod(k, 2)[0] + 1},{k % 2 + 1}: refnn {g!r}, SymPy "
            f"{float(e)!r} (|error| {err:.3g} > {1e-8 * scale:.3g})"
        )


# ------------------------------------------------------------------ the properties
@given(programs(), INPUT, INPUT)
def test_gradient_of_random_composition(
    program: Program, X: Matrix[float], Y: Matrix[float]
) -> None:
    value = run(program, float_op, X, Y, check=True)
    gx, gy = refnn.grad(lambda a, b: run(program, float_op, a, b), argnums=(0, 1))(X, Y)
    expr = run(program, sympy_op, XS, YS)[0, 0]
    exact = _evaluate([expr, *(sympy.diff(expr, s) for s in SYMBOLS)], X, Y)
    assert_matches(value, exact[:1], f"value of {program}")
    assert_matches(gx, exact[1:5], f"∂/∂X of {program}")
    assert_matches(gy, exact[5:], f"∂/∂Y of {program}")


@pytest.mark.parametrize("first", SMOOTH_BLOCKS)
@settings(max_examples=max(2, settings().max_examples // 8))  # x29 blocks: keep it cheap
@given(data=st.data(), X=INPUT, Y=INPUT)
def test_second_derivative_of_random_composition(
    first: str, data: st.DataObject, X: Matrix[float], Y: Matrix[float]
) -> None:
    """Every smooth block, applied to X, then up to two more random smooth blocks."""
    program = data.draw(programs(smooth_only=True, max_steps=3, first=first), label="program")
    run(program, float_op, X, Y, check=True)

    def f(a: Any) -> Any:
        return run(program, float_op, a, Y)

    hx = refnn.grad(lambda a: refnn.ops.sum(refnn.grad(f)(a)))(X)
    expr = run(program, sympy_op, XS, YS)[0, 0]
    s = sympy.Add(*(sympy.diff(expr, v) for v in XS))
    exact = _evaluate([sympy.diff(s, v) for v in XS], X, Y)
    assert_matches(hx, exact, f"Σ ∂²/∂X∂X of {program}")
