"""``refnn.explain``, the rule text of every registry op, ``OpSpec``'s repr and the
``refnn explain`` command. Judged against SymPy (derivatives of each op's specification,
the network's loss differentiated by ``sympy.diff``), exact Fractions and ``refnn.grad``."""

from __future__ import annotations

import io
import re
from fractions import Fraction
from typing import Any

import pytest
import sympy

import refnn
from refnn import Matrix, ops
from refnn.cli import main as cli_main
from refnn.explain import _demo, main, record
from refnn.ops import registry


# ------------------------------------------------------------------ the registry's text
def test_every_op_states_its_formula_and_rule_and_shows_them_in_its_repr() -> None:
    for name, spec in registry.items():
        assert spec.formula and spec.rule, name
        r = repr(spec)
        assert r.startswith(f"<op {name}: y = {spec.formula}")
        assert f"VJP: {spec.rule}" in r and f"≤ {spec.bound.ulps:g} ulp" in r
        assert "0x" not in r  # no function addresses
    assert repr(registry["tanh"]) == (
        "<op tanh: y = tanh A | VJP: g ⊙ (1 − y²) | float bound: ≤ 2 ulps, VJP ≤ 8 ulps>"
    )


_ELEMENTWISE = [
    "neg",
    "scale",
    "add_scalar",
    "exp",
    "log",
    "sqrt",
    "pow",
    "square",
    "tanh",
    "sigmoid",
    "softplus",
    "sin",
    "cos",
    "step",
    "relu",
    "leaky_relu",
    "clip",
]


def _rule_as_sympy(rule: str, names: dict[str, Any]) -> Any:
    """The rule text read as a SymPy expression of one entry (a small, literal reader)."""
    t = rule.split(" (")[0] if rule.startswith("0 (") else rule
    for a, b in [
        ("[lo < A < hi]", "Piecewise((1, (A > lo) & (A < hi)), (0, True))"),
        ("Aᵖ⁻¹", "A**(p - 1)"),
        ("y²", "y**2"),
        ("(2y)", "(2*y)"),
        ("2A", "2*A"),
        ("σ(A)", "1/(1 + exp(-A))"),
        ("step(A)", "Heaviside(A, 0)"),
        ("cos A", "cos(A)"),
        ("sin A", "sin(A)"),
        ("⊙", "*"),
        ("⊘", "/"),
        ("·", "*"),
        ("−", "-"),
    ]:
        t = t.replace(a, b)
    return sympy.sympify(t, locals=names)


@pytest.mark.parametrize("name", _ELEMENTWISE)
def test_the_rule_text_of_an_elementwise_op_is_its_derivative(name: str) -> None:
    spec = registry[name]
    x, g = sympy.Symbol("x", real=True), sympy.Symbol("g")
    for _shapes, params in list(spec.cases(1)):
        y = spec.spec(sympy.Matrix([[x]]), *params)[0, 0]
        names = {"A": x, "y": y, "g": g, **dict(zip(spec.params, params, strict=True))}
        stated = _rule_as_sympy(spec.rule, names)
        want = g * sympy.diff(y, x)
        dom = spec.domains[0]
        for v in (dom.lo + 0.37 * (dom.hi - dom.lo), dom.lo + 0.81 * (dom.hi - dom.lo)):
            point = {x: sympy.Rational(v).limit_denominator(1000), g: sympy.Rational(13, 10)}
            a, b = stated.subs(point), want.subs(point)
            assert abs(sympy.N(a - b, 30)) < 1e-25, (name, params, v, a, b)


# ------------------------------------------------------------------ explain itself
def _sym_mse(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any, f: Any) -> Any:
    ones = sympy.ones(X.rows, 1)
    out = (X * W1 + ones * b1).applyfunc(f) * W2 + ones * b2
    return sum((o - y) ** 2 for o, y in zip(out, Y, strict=True)) / Y.rows


def test_explain_gradients_equal_sympy_diff_on_the_symbolic_demo() -> None:
    loss, args = _demo("sympy", "tanh")
    ex = record(loss, *args, argnums=(0, 1, 2, 3))
    S = [sympy.Matrix(a.tolist()) for a in args]
    L = _sym_mse(*S, sympy.tanh)
    point = {
        s: sympy.Rational((-1) ** k * (k % 5 + 1), 4)
        for k, s in enumerate(sorted(L.free_symbols, key=str))
    }
    for grad, M in zip(ex.grads, S[:4], strict=True):
        for got, s in zip(grad.data, M, strict=True):
            want = sympy.diff(L, s).subs(point)
            assert abs(sympy.N(got.subs(point) - want, 40)) < 1e-35
            assert abs(sympy.N(want, 40)) > 1e-6  # a point where the gradient is not 0


def test_explain_gradients_equal_refnn_grad_exactly_on_fractions() -> None:
    loss, args = _demo("fraction", "relu")
    ex = record(loss, *args, argnums=(0, 1, 2, 3))
    assert ex.grads == refnn.grad(loss, argnums=(0, 1, 2, 3))(*args)
    assert all(isinstance(v, Fraction | int) for g in ex.grads for v in g.data)


def test_explain_prints_forward_and_backward_with_each_rule() -> None:
    loss, args = _demo("float", "tanh")
    buf = io.StringIO()
    ex = refnn.explain(loss, *args, argnums=(0, 1, 2, 3), file=buf)
    text = buf.getvalue()
    forward, backward = text.split("\nbackward pass")
    calls = re.findall(r"^  (v\d+) = (\w+\(.*?\))", forward, flags=re.M)
    assert calls == [
        ("v1", "matmul(X, W1)"),
        ("v2", "add_row(v1, b1)"),
        ("v3", "tanh(v2)"),
        ("v4", "matmul(v3, W2)"),
        ("v5", "add_row(v4, b2)"),
        ("v6", "sub(v5, Y)"),
        ("v7", "square(v6)"),
        ("v8", "mean(v7)"),
    ]
    assert "3×2, 2×2 → 3×2" in forward and "← the loss L" in forward
    # backward: reverse order, every node with its rule exactly as the registry states it
    order = re.findall(r"^  (v\d+) = .*?rule  (\w+): (.*)$", backward, flags=re.M)
    assert [v for v, _, _ in order] == [f"v{k}" for k in range(8, 0, -1)]
    for _, name, rule in order:
        assert rule == registry[name].rule
    assert "tanh: g ⊙ (1 − y²)" in backward
    assert "→ ∂L/∂W1 gets" in backward and "∂L/∂X" not in backward  # X is data
    assert "δ₁ = (δ₂ W₂ᵀ) ⊙ f′(z₁),  f′(z₁) = 1 − a₁²" in backward
    # the gradients it prints are refnn.grad's, to the last bit
    assert ex.grads == refnn.grad(loss, argnums=(0, 1, 2, 3))(*args)


def test_each_layer_delta_is_the_cotangent_of_z_and_follows_the_recursion() -> None:
    loss, args = _demo("fraction", "relu")
    W1, b1, W2, b2, X, Y = args
    ex = record(loss, *args, argnums=(0, 1, 2, 3))
    z1 = next(n for n in ex.nodes if n.name == "v2")
    z2 = next(n for n in ex.nodes if n.name == "v5")
    # δ₂ = ∂L/∂z₂ computed independently: L = mean((z₂ − Y)²) ⇒ δ₂ = 2(z₂ − Y)/N
    Z1 = ops.add_row(X @ W1, b1)
    Z2 = ops.add_row(ops.relu(Z1) @ W2, b2)
    d2 = (Z2 - Y).map(lambda e: 2 * e / 3)
    assert z2.cotangent == d2
    # δ₁ = (δ₂ W₂ᵀ) ⊙ step(z₁), entry by entry in Fractions
    back = d2 @ W2.T
    want = Matrix.from_flat(
        3, 2, [v if z > 0 else 0 for v, z in zip(back.data, Z1.data, strict=True)]
    )
    assert z1.cotangent == want


def test_symbolic_delta_is_printed_in_the_articles_form() -> None:
    loss, args = _demo("sympy", "tanh")
    buf = io.StringIO()
    refnn.explain(loss, *args, argnums=(0, 1, 2, 3), file=buf)
    text = buf.getvalue()
    block = text.split("δ₁ entry by entry (δ₂, a₁, z₁ as symbols):\n")[1].split("\n")[:3]
    rows = [re.findall(r"[^\s⎡⎢⎣⎤⎥⎦][^⎤⎥⎦]*?(?=\s{2,}|[⎤⎥⎦])", line) for line in block]
    got = sympy.Matrix([[sympy.sympify(e.strip()) for e in r] for r in rows])
    D = sympy.Matrix(3, 1, lambda i, j: sympy.Symbol(f"δ2_{i + 1}{j + 1}"))
    A = sympy.Matrix(3, 2, lambda i, j: sympy.Symbol(f"a1_{i + 1}{j + 1}"))
    V = sympy.Matrix(2, 1, lambda i, j: sympy.Symbol(f"v_{i + 1}{j + 1}"))
    want = (D * V.T).multiply_elementwise(A.applyfunc(lambda a: 1 - a**2))
    assert sympy.simplify(got - want) == sympy.zeros(3, 2)
    assert "formulas of up to" in text  # the expanded soup is not printed


def test_dot_output_is_a_consistent_graph() -> None:
    loss, args = _demo("float", "sigmoid")
    buf = io.StringIO()
    ex = refnn.explain(loss, *args, argnums=(0, 1, 2, 3), dot=True, file=buf)
    text = buf.getvalue()
    assert text.startswith("digraph refnn {") and text.rstrip().endswith("}")
    declared = set(re.findall(r'^  "([^"]+)" \[', text, flags=re.M))
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)";', text, flags=re.M)
    assert {a for e in edges for a in e} <= declared
    assert len(edges) == sum(len(n.parents) for n in ex.nodes)
    assert "VJP: g ⊙ y ⊙ (1 − y)" in text


def test_explain_refuses_what_it_cannot_explain() -> None:
    with pytest.raises(refnn.ShapeError, match="1×1"):
        record(lambda a: ops.tanh(a), Matrix([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="does not depend"):
        record(lambda a: Matrix([[1.0]]), Matrix([[1.0]]))
    with pytest.raises(TypeError, match="argument 0"):
        record(lambda a: a, 3.0)


# ------------------------------------------------------------------ the command
def test_refnn_explain_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "backward pass" in out and "rule  tanh: g ⊙ (1 − y²)" in out
    assert cli_main(["explain", "--dot", "--activation", "relu"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    assert main(["--domain", "fraction"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no exact form" in err and "--activation relu" in err
    assert main(["--domain", "fraction", "--activation", "relu"]) == 0
    loss, args = _demo("fraction", "relu")
    gW1 = refnn.grad(loss)(*args)
    assert str(gW1) in capsys.readouterr().out.split("∂L/∂W1 =\n")[-1].replace("      ", "")


# ------------------------------------------------------------------ Matrix display
def test_symbols_and_latex_display() -> None:
    W = Matrix.symbols("w", 2, 3)
    assert W.shape == (2, 3) and str(W[2, 3]) == "w_23"
    assert W.domain is refnn.scalars.SYMPY
    assert str(Matrix.symbols("x", 1, 10)[1, 10]) == "x_1_10"
    with pytest.raises(refnn.ShapeError):
        Matrix.symbols("w", 0, 2)
    assert Matrix([[1, 2], [3, 4]])._repr_latex_() == (
        r"$\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}$"
    )
    half = Matrix([[Fraction(-1, 2)]])._repr_latex_()
    assert half == r"$\begin{bmatrix} -\frac{1}{2} \end{bmatrix}$"
    s = sympy.Symbol("s")
    tanh = Matrix([[sympy.tanh(s)]])._repr_latex_()
    assert tanh == r"$\begin{bmatrix} \tanh{\left(s \right)} \end{bmatrix}$"


def test_a_value_used_twice_gets_the_sum_of_its_cotangents() -> None:
    # L = Σ t ⊙ t + Σ t with t = 2a: ∂L/∂t = 2t + 1, ∂L/∂a = 2(2t + 1) = 8a + 2
    a = Matrix([[Fraction(1, 2), Fraction(-3, 4)]])

    def f(x: Any) -> Any:
        t = ops.scale(2, x)
        return ops.add(ops.sum(ops.hadamard(t, t)), ops.sum(t))

    buf = io.StringIO()
    ex = refnn.explain(f, a, file=buf)
    assert ex.grads[0] == a.map(lambda v: 8 * v + 2)
    assert "g = the sum of what v2, v4 gave it =" in buf.getvalue()
