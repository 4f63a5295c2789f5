"""The autodiff API (``grad``, ``value_and_grad``, ``vjp``) and ``refnn.testing.check_grad``.

Expected gradients come from SymPy (``sympy.diff`` of an expression written here with
``sympy.Matrix`` arithmetic, independently of refnn), from exact hand-derived formulas in
the ``Fraction`` domain, or from high-precision evaluation — never from refnn itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import sympy

import refnn
from refnn import Matrix, ShapeError, grad, ops, scalars, value_and_grad, vjp
from refnn.autodiff import Tracer
from refnn.testing import check_grad


def m(*rows: list[Any]) -> Matrix[Any]:
    return Matrix(list(rows))


def sym(name: str, r: int, c: int) -> Matrix[Any]:
    return Matrix(
        [
            [sympy.Symbol(f"{name}{i}{j}", real=True) for j in range(1, c + 1)]
            for i in range(1, r + 1)
        ]
    )


def sp(A: Matrix[Any]) -> sympy.Matrix:
    return sympy.Matrix(A.tolist())


def sympy_grad(expr: Any, A: Matrix[Any]) -> sympy.Matrix:
    """∂expr/∂A entry by entry (SymPy)."""
    return sympy.Matrix(A.shape[0], A.shape[1], [sympy.diff(expr, s) for s in A.data])


def assert_sym_equal(got: Matrix[Any], want: sympy.Matrix) -> None:
    assert got.shape == tuple(want.shape)
    for a, b in zip(got.data, want, strict=True):
        assert sympy.simplify(sympy.sympify(a) - b) == 0, f"{a} ≠ {b}"


A2 = m([0.5, -1.25], [2.0, 0.75])
B2 = m([1.5, 0.25], [-0.5, 1.0])


# ------------------------------------------------------------------ argnums and return forms
def test_int_argnums_returns_a_bare_matrix() -> None:
    g = grad(lambda a, b: ops.sum(ops.hadamard(a, b)), argnums=1)(A2, B2)
    assert isinstance(g, Matrix) and g == A2  # ∂/∂B Σ A⊙B = A


def test_tuple_argnums_returns_a_tuple() -> None:
    g = grad(lambda a, b: ops.sum(ops.hadamard(a, b)), argnums=(0, 1))(A2, B2)
    assert isinstance(g, tuple) and g == (B2, A2)
    (only,) = grad(lambda a, b: ops.sum(ops.hadamard(a, b)), argnums=(1,))(A2, B2)
    assert only == A2
    assert grad(lambda a, b: ops.sum(ops.hadamard(a, b)), argnums=-1)(A2, B2) == A2


def test_argnums_out_of_range() -> None:
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda a: ops.sum(a), argnums=1)(A2)
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda a: ops.sum(a), argnums=(0, 2))(A2)


def test_value_and_grad() -> None:
    A = m([Fraction(1, 2), 3], [-2, Fraction(1, 3)])
    value, g = value_and_grad(lambda a: ops.sum(ops.square(a)))(A)
    assert value == m([Fraction(1, 4) + 9 + 4 + Fraction(1, 9)])
    assert g == m([1, 6], [-4, Fraction(2, 3)])
    value, gs = value_and_grad(lambda a, b: ops.sum(ops.sub(a, b)), argnums=(0, 1))(A2, B2)
    assert value == m([(0.5 - 1.25 + 2.0 + 0.75) - (1.5 + 0.25 - 0.5 + 1.0)])
    assert gs == (Matrix.full(2, 2, 1.0), Matrix.full(2, 2, -1.0))


# ------------------------------------------------------------------ errors
def test_non_scalar_output_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"1×1 matrix.*got 2×2.*refnn\.vjp"):
        grad(ops.tanh)(A2)
    with pytest.raises(ShapeError, match="got 1×2"):
        value_and_grad(lambda a: ops.sum_rows(a))(A2)


@pytest.mark.parametrize("bad", [3.0, 2, [[1.0]], "x", None])
def test_non_matrix_argument_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="argument 0"):
        grad(lambda a: ops.sum(a))(bad)
    with pytest.raises(TypeError, match="argument 1"):
        vjp(lambda a, b: ops.add(a, b), A2, bad)


def test_unused_argument_has_zero_gradient() -> None:
    ga, gb = grad(lambda a, b: ops.sum(ops.tanh(a)), argnums=(0, 1))(A2, m([1.0, 2.0, 3.0]))
    assert gb == Matrix.full(1, 3, 0.0)
    assert ga.shape == (2, 2)
    gf = grad(lambda a, b: ops.sum(b), argnums=0)(m([Fraction(1, 2)]), m([Fraction(3)]))
    assert gf == m([0])


def test_constant_output_has_zero_gradient() -> None:
    assert grad(lambda a: m([2.0]))(A2) == Matrix.full(2, 2, 0.0)
    assert grad(lambda a: 5.0)(A2) == Matrix.full(2, 2, 0.0)


def test_vjp_shapes_and_errors() -> None:
    W = m([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])  # 2×3
    out, back = vjp(lambda a, w: ops.matmul(a, w), A2, W)
    assert out == A2 @ W
    V = m([1.0, 0.0, -1.0], [0.5, 2.0, 0.0])
    ga, gw = back(V)
    assert ga.shape == (2, 2) and gw.shape == (2, 3)
    # independent: exact Fraction arithmetic of V Wᵀ and Aᵀ V
    q = lambda X: X.map(Fraction)  # noqa: E731
    assert ga.map(Fraction) == q(V) @ q(W).T and gw.map(Fraction) == q(A2).T @ q(V)
    with pytest.raises(ShapeError, match="cotangent must have the output's shape: 3×2 and 2×3"):
        back(V.T)
    _, back2 = vjp(lambda a: m([1.0]), A2)
    assert back2(m([1.0])) == (Matrix.full(2, 2, 0.0),)


# ------------------------------------------------------------------ operators inside grad
def test_affine_layer_operators() -> None:
    X, W, b = sym("x", 2, 3), sym("w", 3, 2), sym("b", 1, 2)

    def loss(x: Any, w: Any, bias: Any) -> Any:
        return ops.sum(ops.tanh(ops.add_row(x @ w, bias)))

    gx, gw, gb = grad(loss, argnums=(0, 1, 2))(X, W, b)
    Z = sp(X) * sp(W) + sympy.ones(2, 1) * sp(b)
    expr = sum(sympy.tanh(z) for z in Z)
    assert_sym_equal(gx, sympy_grad(expr, X))
    assert_sym_equal(gw, sympy_grad(expr, W))
    assert_sym_equal(gb, sympy_grad(expr, b))


def test_operators_between_tracers_and_matrices() -> None:
    A, B = sym("a", 2, 2), sym("b", 2, 2)
    C = m([1, 2], [3, 5])  # a constant Matrix
    cases: list[tuple[Callable[[Any], Any], Any]] = [
        (lambda a: a + C, sp(A) + sp(C)),
        (lambda a: C + a, sp(A) + sp(C)),
        (lambda a: a - C, sp(A) - sp(C)),
        (lambda a: C - a, sp(C) - sp(A)),
        (lambda a: -a, -sp(A)),
        (lambda a: C @ a, sp(C) * sp(A)),
        (lambda a: a @ C, sp(A) * sp(C)),
        (lambda a: a.hadamard(C), sp(A).multiply_elementwise(sp(C))),
        (lambda a: C.hadamard(a), sp(A).multiply_elementwise(sp(C))),
        (lambda a: 3 * a, 3 * sp(A)),
        (lambda a: a * Fraction(1, 2), sp(A) / 2),
        (lambda a: a.T @ a, sp(A).T * sp(A)),
        (lambda a: a.hadamard(a) @ a, sp(A).multiply_elementwise(sp(A)) * sp(A)),
    ]
    W = sp(B)  # weights: a generic linear functional of the output
    for f, want in cases:
        out = f(A)
        assert isinstance(out, Matrix) and out.shape == tuple(want.shape)
        g = grad(lambda a, f=f: ops.sum(ops.hadamard(f(a), Matrix(W.tolist()))))(A)
        expr = sum(w * e for w, e in zip(W, want, strict=True))
        assert_sym_equal(g, sympy_grad(expr, A))


def test_tracer_shape_and_types() -> None:
    seen: list[Any] = []

    def f(a: Any) -> Any:
        seen.append((type(a), a.shape, type(a @ a.T), type(a.T)))
        return ops.sum(a)

    grad(f)(m([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]).T)
    assert seen == [(Tracer, (2, 3), Tracer, Tracer)]


def test_star_between_matrices_is_refused_inside_grad() -> None:
    with pytest.raises(TypeError, match="hadamard"):
        grad(lambda a: ops.sum(a * a))(A2)
    with pytest.raises(TypeError, match="hadamard"):
        grad(lambda a: ops.sum(a * A2))(A2)
    with pytest.raises(TypeError, match="hadamard"):
        grad(lambda a: ops.sum(A2 * a))(A2)
    with pytest.raises(TypeError, match="ambiguous"):
        grad(lambda a: ops.sum(a) if a else a)(A2)


# ------------------------------------------------------------------ scalar domains
def test_fraction_gradients_are_exact() -> None:
    A = m([Fraction(1, 3), Fraction(-2, 7)], [5, Fraction(1, 10)])
    g = grad(lambda a: ops.sum(ops.hadamard(a, a)))(A)
    assert g == m([Fraction(2, 3), Fraction(-4, 7)], [10, Fraction(1, 5)])  # 2A
    assert g.domain is scalars.FRACTION
    assert all(type(x) in (Fraction, int) for x in g.data)
    B = m([Fraction(1, 2), 3], [Fraction(-1, 4), 1])
    gm = grad(lambda a: ops.mean(ops.matmul(a, B)))(A)
    # ∂ mean(AB)/∂A = (1/4)·1·Bᵀ, exact
    assert gm == m([Fraction(7, 8), Fraction(3, 16)], [Fraction(7, 8), Fraction(3, 16)])


def test_sympy_gradients_equal_sympy_diff() -> None:
    A, B = sym("a", 2, 3), sym("b", 3, 2)
    f = lambda a, b: ops.sum(ops.log_softmax_rows(ops.sigmoid(a @ b)))  # noqa: E731
    ga, gb = grad(f, argnums=(0, 1))(A, B)
    P = (sp(A) * sp(B)).applyfunc(lambda z: 1 / (1 + sympy.exp(-z)))
    expr = sum(
        P[i, j] - sympy.log(sum(sympy.exp(P[i, k]) for k in range(2)))
        for i in range(2)
        for j in range(2)
    )
    ka = sympy_grad(expr, A)
    kb = sympy_grad(expr, B)
    # compare at a rational point (the symbolic difference is correct but slow to simplify)
    point = {s: sympy.Rational(k + 1, 7) * (-1) ** k for k, s in enumerate((*A.data, *B.data))}
    for got, want in ((ga, ka), (gb, kb)):
        for a, b in zip(got.data, want, strict=True):
            d = (sympy.sympify(a) - b).subs(point)
            assert abs(sympy.N(d, 40)) < sympy.Float("1e-35")


# ------------------------------------------------------------------ higher order and sharing
def _nth_derivative(f: Callable[[Any], Any], n: int) -> Callable[[Any], Any]:
    for _ in range(n):
        f = (lambda h: lambda a: grad(lambda b: ops.sum(h(b)))(a))(f)
    return f


def test_third_derivative_of_tanh() -> None:
    x = sympy.Symbol("x", real=True)
    d3 = _nth_derivative(ops.tanh, 3)
    got = d3(m([x]))[1, 1]
    assert sympy.simplify(got - sympy.diff(sympy.tanh(x), x, 3)) == 0
    with mpmath.workdps(40):
        for v in (-1.5, 0.25, 2.0):
            exact = mpmath.diff(mpmath.tanh, mpmath.mpf(v), 3)
            assert abs(d3(m([v]))[1, 1] - exact) <= 1e-14 * max(1, abs(exact))


def test_second_derivative_of_matrix_function() -> None:
    A = sym("a", 2, 2)
    f = lambda a: ops.sum(ops.sin(a @ a))  # noqa: E731
    h = grad(lambda a: ops.sum(grad(f)(a)))(A)
    expr = sum(sympy.sin(e) for e in sp(A) * sp(A))
    s = sum(sympy.diff(expr, v) for v in A.data)
    assert_sym_equal(h, sympy_grad(s, A))


def test_nested_grads_do_not_confuse_their_variables() -> None:
    # d/dx [ Σ x ⊙ ∂/∂y Σ(x ⊙ y) ] = d/dx Σ x⊙x = 2x   (the inner derivative is x, not y)
    X = m([Fraction(3), Fraction(-1, 2)])
    Y = m([Fraction(7), Fraction(5)])
    inner = lambda x: grad(lambda y: ops.sum(ops.hadamard(x, y)))(Y)  # noqa: E731
    g = grad(lambda x: ops.sum(ops.hadamard(x, inner(x))))(X)
    assert g == m([6, -1])


def test_shared_subexpressions_accumulate() -> None:
    A = sym("a", 2, 2)

    def f(x: Any) -> Any:
        y = ops.tanh(x)  # y used three times, x twice
        return ops.sum(ops.add(ops.hadamard(y, y), ops.matmul(y, x)))

    g = grad(f)(A)
    Y = sp(A).applyfunc(sympy.tanh)
    expr = sum(Y.multiply_elementwise(Y)) + sum(Y * sp(A))
    assert_sym_equal(g, sympy_grad(expr, A))
    F = m([Fraction(1, 2), 2])
    assert grad(lambda x: ops.sum(ops.add(ops.add(x, x), ops.hadamard(x, x))))(F) == m([3, 6])


# ------------------------------------------------------------------ check_grad
@contextmanager
def patched_vjp(name: str, vjp_fn: Callable[..., Any]) -> Iterator[None]:
    spec = ops.registry[name]
    old = spec.vjp
    object.__setattr__(spec, "vjp", vjp_fn)
    try:
        yield
    finally:
        object.__setattr__(spec, "vjp", old)


def test_check_grad_accepts_correct_gradients() -> None:
    W = m([0.3, -0.7], [1.1, 0.2])
    err = check_grad(lambda a, w: ops.sum(ops.softplus(ops.matmul(a, ops.tanh(w)))), A2, W)
    assert 0 <= err < 1e-7
    assert check_grad(lambda a: ops.sum(ops.hadamard(a, a)), m([1, 2]), eps=1e-3) < 1e-12


def test_check_grad_rejects_a_wrong_vjp() -> None:
    wrong = lambda g, y, xs, ps: (ops.sub(g, ops.hadamard(g, y)),)  # noqa: E731  g⊙(1−y)
    f = lambda a, b: ops.sum(ops.add(ops.tanh(b), a))  # noqa: E731
    with patched_vjp("tanh", wrong):
        with pytest.raises(AssertionError, match=r"argument 2, entry \(1, 2\)"):
            check_grad(f, m([0.0, 0.0]), m([0.0, 0.8]))  # entry (1, 1): 1−0 = 1−0² agrees
    assert check_grad(f, m([0.0, 0.0]), m([0.0, 0.8])) < 1e-7  # restored


def test_check_grad_rejects_a_slightly_wrong_vjp() -> None:
    # a 1e-4 relative error in sin's derivative is far above the finite-difference noise
    wrong = lambda g, y, xs, ps: (ops.scale(1.0001, ops.hadamard(g, ops.cos(xs[0]))),)  # noqa: E731
    with patched_vjp("sin", wrong), pytest.raises(AssertionError, match="argument 1"):
        check_grad(lambda a: ops.sum(ops.sin(a)), A2)


def test_check_grad_input_errors() -> None:
    with pytest.raises(TypeError, match="argument 1"):
        check_grad(lambda a: ops.sum(a), [[1.0]])  # type: ignore[arg-type]
    with pytest.raises(ShapeError):
        check_grad(lambda a: ops.tanh(a), A2)
    with pytest.raises(ValueError, match="eps"):
        check_grad(lambda a: ops.sum(a), A2, eps=0.0)
    with pytest.raises(TypeError):
        check_grad(lambda: m([1.0]))


def test_check_grad_is_reexported() -> None:
    import refnn.testing as rt

    assert rt.check_grad is check_grad and "check_grad" in rt.__all__
    assert refnn.testing.gradcheck.check_grad is check_grad
