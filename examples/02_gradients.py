"""The article's second section, "gradients": one gradient step on a tiny function, with
refnn's gradient printed beside SymPy's derivative.

The function is a single neuron's squared error, L(w, b) = (tanh(w·x + b) − y)², at the
data point x = 2, y = 0.5. refnn differentiates it by reverse mode over the op registry;
SymPy differentiates the formula symbolically; the two agree. Then refnn runs *the same
code* on SymPy symbols and prints the gradient formula it computes. Finally, a few steps
of gradient descent w ← w − η·∂L/∂w lower the loss.

Run: .venv/bin/python examples/02_gradients.py
"""

from __future__ import annotations

from typing import Any

import refnn
from refnn import Matrix, ops

X, Y = 2.0, 0.5
LR = 0.3


def loss(w: Any, b: Any) -> Any:
    """(tanh(w·x + b) − y)², with w and b as 1×1 matrices (or tracers inside grad)."""
    z = ops.add(ops.scale(X, w), b)
    return ops.square(ops.add_scalar(ops.tanh(z), -Y))


def main() -> None:
    w, b = Matrix([[-0.5]]), Matrix([[0.2]])
    value, (gw, gb) = refnn.value_and_grad(loss, argnums=(0, 1))(w, b)
    print(f"L(w={w[1, 1]}, b={b[1, 1]}) = {value[1, 1]:.12f}")
    print(f"refnn:  ∂L/∂w = {gw[1, 1]:.15f}   ∂L/∂b = {gb[1, 1]:.15f}")

    try:
        import sympy
    except ImportError:
        print("(install sympy to see the symbolic derivative beside refnn's)")
    else:
        ws, bs = sympy.symbols("w b", real=True)
        formula = (sympy.tanh(sympy.Rational(X) * ws + bs) - sympy.Rational(Y)) ** 2
        at = {ws: w[1, 1], bs: b[1, 1]}
        dw = float(sympy.diff(formula, ws).subs(at))
        db = float(sympy.diff(formula, bs).subs(at))
        print(f"SymPy:  ∂L/∂w = {dw:.15f}   ∂L/∂b = {db:.15f}")
        print(f"        differences: {abs(gw[1, 1] - dw):.1e}, {abs(gb[1, 1] - db):.1e}")

        # The same refnn code, run on symbols: the gradient comes out as a formula.
        g_sym = refnn.grad(loss, argnums=0)(Matrix([[ws]]), Matrix([[bs]]))[1, 1]
        d_sym = sympy.diff(formula, ws)
        print(f"refnn on symbols: ∂L/∂w = {sympy.factor(g_sym)}")
        print(f"SymPy's diff:     ∂L/∂w = {sympy.factor(d_sym)}")
        print(f"difference, expanded: {sympy.expand(g_sym - d_sym)}")

    print(f"\ngradient descent, η = {LR}:")
    for step in range(1, 9):
        value, (gw, gb) = refnn.value_and_grad(loss, argnums=(0, 1))(w, b)
        w = ops.sub(w, ops.scale(LR, gw))
        b = ops.sub(b, ops.scale(LR, gb))
        print(f"  step {step}: L = {value[1, 1]:.6f} → w = {w[1, 1]:+.6f}, b = {b[1, 1]:+.6f}")
    print(f"  final L = {loss(w, b)[1, 1]:.6f}")


if __name__ == "__main__":
    main()
