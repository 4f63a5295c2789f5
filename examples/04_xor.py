"""XOR with a 2→4→1 network: the classic problem no single linear layer can solve.

Hidden layer of 4 tanh units, one output logit; binary cross-entropy on the logits,
full-batch Adam. Prints the truth table with the network's probabilities σ(logit).

Run: .venv/bin/python examples/04_xor.py
"""

from __future__ import annotations

import random

from refnn import Matrix, nn, ops


def main() -> None:
    X = Matrix([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = Matrix([[0.0], [1.0], [1.0], [0.0]])
    model = nn.mlp([2, 4, 1], "tanh")
    params = model.init(random.Random(0))
    params, _, history = nn.fit(
        model, params, (X, Y), nn.binary_cross_entropy_with_logits, nn.Adam(0.1), epochs=300
    )
    print(f"{nn.n_params(params)} parameters; loss {history[0]:.4f} → {history[-1]:.6f}")
    probs = ops.sigmoid(model.apply(params, X))
    print("\n x1  x2 | XOR | network")
    print("--------+-----+---------")
    correct = 0
    for (x1, x2), y, p in zip(X.rows(), Y.data, probs.data, strict=True):
        correct += (p > 0.5) == (y == 1.0)
        print(f" {x1:.0f}   {x2:.0f}  |  {y:.0f}  | {p:.4f}")
    print(f"\n{correct}/4 correct")


if __name__ == "__main__":
    main()
