"""The gradient of a whole MLP loss agrees with micrograd's (an independent scalar engine)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from refnn import Matrix, nn

engine = pytest.importorskip("micrograd.engine")


def micrograd_grads(params: Any, X: Matrix[float], Y: Matrix[float]) -> tuple[float, list[float]]:
    layers = [
        (
            [[engine.Value(w) for w in row] for row in p["W"].rows()],
            [engine.Value(b) for b in p["b"].data],
        )
        for p in params[::2]
    ]
    total = engine.Value(0.0)
    for x, (y,) in zip(X.rows(), Y.rows(), strict=True):
        h: list[Any] = list(x)
        for k, (W, b) in enumerate(layers):
            out = []
            for j in range(len(b)):
                s = b[j]
                for i in range(len(h)):
                    s = s + h[i] * W[i][j]
                out.append(s.relu() if k < len(layers) - 1 else s)
            h = out
        d = h[0] - y
        total = total + d * d
    loss = total * (1.0 / X.shape[0])
    loss.backward()
    flat: list[float] = []
    for W, b in layers:  # the order of refnn's leaves: W (row-major), then b, per layer
        flat += [w.grad for row in W for w in row] + [v.grad for v in b]
    return loss.data, flat


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_loss_gradient_matches_micrograd(seed: int) -> None:
    rng = random.Random(seed)
    model = nn.mlp([2, 8, 8, 1], "relu", bias_init=nn.uniform(0.2))
    params = model.init(rng)
    X = Matrix.from_flat(12, 2, [rng.uniform(-1, 1) for _ in range(24)])
    Y = Matrix.from_flat(12, 1, [rng.uniform(-1, 1) for _ in range(12)])
    value, grads = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))(params, X, Y)
    loss_m, grads_m = micrograd_grads(params, X, Y)
    assert value[1, 1] == pytest.approx(loss_m, rel=1e-12)
    flat = [g for leaf in nn.tree_leaves(grads) for g in leaf.data]
    assert len(flat) == len(grads_m) == nn.n_params(params)
    scale = max(map(abs, grads_m))
    for a, b in zip(flat, grads_m, strict=True):
        # relative 1e-12, measured against the entry or (for entries that nearly cancel)
        # the largest gradient entry
        assert abs(a - b) <= 1e-12 * max(abs(b), scale * 1e-3), (a, b)
    assert any(g != 0.0 for g in flat)
