"""Losses against their SymPy formulas (values and gradients), on symbols and floats."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy

import refnn
from refnn import Matrix, ShapeError, nn, ops


def sym(name: str, m: int, n: int) -> tuple[Matrix[Any], sympy.Matrix]:
    entries = [sympy.Symbol(f"{name}{i}{j}", real=True) for i in range(m) for j in range(n)]
    return Matrix.from_flat(m, n, entries), sympy.Matrix(m, n, entries)


def exact(e: Any) -> Any:
    """``e`` with every SymPy Float replaced by the equal Rational (exact: a Float holds a
    binary fraction). Constants such as 1/m can reach symbolic gradients as doubles."""
    e = sympy.sympify(e)
    return e.xreplace({f: sympy.Rational(f) for f in e.atoms(sympy.Float)})


def agree(a: Any, b: Any, symbols: list[Any], *, seed: int = 0) -> bool:
    """a = b as expressions: polynomials by expansion; anything with exp, log, Abs or
    Piecewise (whose difference SymPy reduces slowly, if at all) at 6 random rational
    points, evaluated with 50-digit mpmath: agreement to 1e-35 (a wrong formula is off
    by far more)."""
    d = exact(a) - exact(b)
    if not d.has(sympy.exp, sympy.log, sympy.Abs, sympy.Piecewise):
        return bool(sympy.expand(d) == 0)
    f = sympy.lambdify(symbols, d, modules="mpmath")
    rng = random.Random(seed)
    with mpmath.workdps(50):
        for _ in range(6):
            point = [mpmath.mpf(rng.choice([-1, 1]) * rng.randint(5, 300)) / 100 for _ in symbols]
            if abs(f(*point)) > mpmath.mpf(10) ** -35:
                return False
    return True


def check(
    loss: Callable[..., Any],
    formula: Callable[[sympy.Matrix, sympy.Matrix], Any],
    shape: tuple[int, int] = (2, 2),
    target: tuple[Matrix[Any], sympy.Matrix] | None = None,
) -> None:
    P, Ps = sym("p", *shape)
    Y, Ys = target if target is not None else sym("y", *shape)
    value, (gp, gy) = refnn.value_and_grad(loss, argnums=(0, 1))(P, Y)
    assert value.shape == (1, 1)
    L = formula(Ps, Ys)
    symbols = list(Ps) + [s for s in Ys if isinstance(s, sympy.Symbol)]
    assert agree(value[1, 1], L, symbols), (value[1, 1], L)
    for i in range(shape[0]):
        for j in range(shape[1]):
            assert agree(gp[i + 1, j + 1], sympy.diff(L, Ps[i, j]), symbols)
            if isinstance(Ys[i, j], sympy.Symbol):
                assert agree(gy[i + 1, j + 1], sympy.diff(L, Ys[i, j]), symbols)


def test_mse_equals_its_formula() -> None:
    check(nn.mse, lambda P, Y: sum((p - y) ** 2 for p, y in zip(P, Y, strict=True)) / len(P))


def test_mae_equals_its_formula() -> None:
    check(nn.mae, lambda P, Y: sum(sympy.Abs(p - y) for p, y in zip(P, Y, strict=True)) / len(P))


def test_mae_subgradient_at_zero_is_zero() -> None:
    P = Matrix([[1.0, 2.0]])
    g = refnn.grad(lambda p: nn.mae(p, Matrix([[1.0, 3.0]])))(P)
    assert g == Matrix([[0.0, -0.5]])


def test_bce_with_logits_equals_the_cross_entropy_of_the_sigmoid() -> None:
    def formula(Z: sympy.Matrix, Y: sympy.Matrix) -> Any:
        s = [1 / (1 + sympy.exp(-z)) for z in Z]
        terms = [-y * sympy.log(p) - (1 - y) * sympy.log(1 - p) for p, y in zip(s, Y, strict=True)]
        return sum(terms) / len(Z)

    check(nn.binary_cross_entropy_with_logits, formula)


def test_bce_with_logits_is_stable_for_large_logits() -> None:
    Z = Matrix([[800.0, -800.0]])
    Y = Matrix([[1.0, 0.0]])
    v = nn.binary_cross_entropy_with_logits(Z, Y)[1, 1]
    assert v == 0.0
    v = nn.binary_cross_entropy_with_logits(Z, Matrix([[0.0, 1.0]]))[1, 1]
    assert v == pytest.approx(800.0, rel=1e-15)


def _ce_formula(Z: sympy.Matrix, T: sympy.Matrix) -> Any:
    m, k = Z.shape
    total = 0
    for i in range(m):
        norm = sum(sympy.exp(Z[i, c]) for c in range(k))
        total += sum(T[i, j] * sympy.log(sympy.exp(Z[i, j]) / norm) for j in range(k))
    return -total / m


def test_softmax_cross_entropy_with_one_hot_targets() -> None:
    T = Matrix([[0, 1, 0], [1, 0, 0]])
    check(nn.softmax_cross_entropy, _ce_formula, (2, 3), (T, sympy.Matrix(T.tolist())))


def test_softmax_cross_entropy_with_soft_targets() -> None:
    check(nn.softmax_cross_entropy, _ce_formula, (2, 3))


def test_softmax_cross_entropy_with_1_based_labels_equals_one_hot() -> None:
    Z = Matrix([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]])
    with_labels = nn.softmax_cross_entropy(Z, [3, 1])
    assert with_labels == nn.softmax_cross_entropy(Z, Matrix([[0, 0, 1], [1, 0, 0]]))
    expected = (
        -(
            (2.0 - math.log(math.exp(0.5) + math.exp(-1.0) + math.exp(2.0)))
            + (3.0 - math.log(math.exp(3.0) + math.exp(0.25) + math.exp(-0.5)))
        )
        / 2
    )
    assert with_labels[1, 1] == pytest.approx(expected, rel=1e-14)
    g = refnn.grad(lambda z: nn.softmax_cross_entropy(z, [3, 1]))(Z)
    sm = ops.softmax_rows(Z)
    assert g.allclose(ops.scale(0.5, sm - Matrix([[0, 0, 1], [1, 0, 0]])), rtol=1e-13)
    with pytest.raises(ValueError, match="1-based"):
        nn.softmax_cross_entropy(Z, [0, 1])
    with pytest.raises(ShapeError, match="2 labels for"):
        nn.softmax_cross_entropy(Matrix([[1.0, 2.0]]), [1, 2])


def test_one_hot() -> None:
    assert nn.one_hot([2, 1, 2], 2) == Matrix([[0, 1], [1, 0], [0, 1]])


def test_penalties_equal_their_formulas() -> None:
    A, As = sym("a", 2, 2)
    B, Bs = sym("b", 1, 3)
    params = {"A": A, "layers": (B,)}
    symbols = list(As) + list(Bs)
    _, g2 = nn.value_and_grad(nn.l2_penalty)(params)
    l2 = sum(x**2 for x in symbols)
    assert agree(nn.l2_penalty(params)[1, 1], l2, symbols)
    for got, s in zip(list(g2["A"].data) + list(g2["layers"][0].data), symbols, strict=True):
        assert agree(got, sympy.diff(l2, s), symbols)
    l1 = sum(sympy.Abs(x) for x in symbols)
    _, g1 = nn.value_and_grad(nn.l1_penalty)(params)
    assert agree(nn.l1_penalty(params)[1, 1], l1, symbols)
    for got, s in zip(list(g1["A"].data) + list(g1["layers"][0].data), symbols, strict=True):
        assert agree(got, sympy.diff(l1, s), symbols)


def test_losses_on_floats_and_fractions() -> None:
    P = Matrix([[1.0, 2.0], [3.0, 5.0]])
    Y = Matrix([[1.5, 2.0], [2.0, 4.0]])
    assert nn.mse(P, Y)[1, 1] == (0.25 + 0 + 1 + 1) / 4
    assert nn.mae(P, Y)[1, 1] == (0.5 + 0 + 1 + 1) / 4
    Pf = P.map(Fraction)
    Yf = Y.map(Fraction)
    assert nn.mse(Pf, Yf)[1, 1] == Fraction(9, 16)
    with pytest.raises(ShapeError, match="mse needs prediction and target of equal shapes"):
        nn.mse(P, Matrix([[1.0, 2.0]]))
