"""Pytrees, gradients over whole parameter trees, make_step and fit."""

from __future__ import annotations

import math
import random
from collections import namedtuple
from typing import Any

import pytest

import refnn
from refnn import Matrix, TrainingDiverged, nn, ops


# ------------------------------------------------------------------ pytrees
def test_flatten_unflatten_round_trip_and_order() -> None:
    a, b, c, d = (Matrix([[float(k)]]) for k in range(4))
    Pair = namedtuple("Pair", "x y")
    tree = {"z": (a, [b, None]), "a": Pair(c, d), "m": ()}
    leaves, treedef = nn.tree_flatten(tree)
    assert leaves == [c, d, a, b]  # dicts in sorted key order, depth first
    assert treedef.num_leaves == 4
    back = nn.tree_unflatten(treedef, leaves)
    assert back == tree and isinstance(back["a"], Pair) and isinstance(back["z"][1], list)
    assert str(treedef) == "{'a': Pair(*, *), 'm': (), 'z': (*, [*, None])}"
    with pytest.raises(ValueError, match="has 4 leaves, got 3"):
        nn.tree_unflatten(treedef, leaves[:3])
    with pytest.raises(TypeError, match="keys must be str"):
        nn.tree_flatten({1: a})


def test_tree_map_and_n_params() -> None:
    t1 = {"W": Matrix([[1.0, 2.0], [3.0, 4.0]]), "b": Matrix([[1.0, 1.0]])}
    t2 = {"W": Matrix([[1.0, 0.0], [0.0, 1.0]]), "b": Matrix([[2.0, 2.0]])}
    s = nn.tree_map(ops.add, t1, t2)
    assert s == {"W": Matrix([[2.0, 2.0], [3.0, 5.0]]), "b": Matrix([[3.0, 3.0]])}
    assert nn.n_params(t1) == 6
    assert nn.n_params(nn.mlp([3, 5, 2]).init(random.Random(0))) == 3 * 5 + 5 + 5 * 2 + 2
    with pytest.raises(ValueError, match="one structure"):
        nn.tree_map(ops.add, t1, {"W": t2["W"]})


def test_value_and_grad_over_a_tree_equals_per_leaf_gradients() -> None:
    model = nn.mlp([2, 3, 1], "tanh")
    params = model.init(random.Random(0))
    X = Matrix([[0.5, -1.0], [0.25, 2.0], [1.0, 1.0]])
    Y = Matrix([[1.0], [0.0], [-1.0]])

    def loss(p: Any, x: Any, y: Any) -> Any:
        return nn.mse(model.apply(p, x), y)

    value, grads = nn.value_and_grad(loss)(params, X, Y)
    assert value == loss(params, X, Y)
    assert nn.tree_structure(grads) == nn.tree_structure(params)
    W1, b1, W2, b2 = params[0]["W"], params[0]["b"], params[2]["W"], params[2]["b"]

    def flat(w1: Any, c1: Any, w2: Any, c2: Any) -> Any:
        return loss(({"W": w1, "b": c1}, (), {"W": w2, "b": c2}), X, Y)

    expected = refnn.grad(flat, argnums=(0, 1, 2, 3))(W1, b1, W2, b2)
    assert nn.tree_leaves(grads) == list(expected)  # "W" sorts before "b"
    assert nn.value_and_grad is refnn.value_and_grad
    with pytest.raises(ValueError, match="at least one matrix"):
        nn.value_and_grad(lambda p: ops.sum(Matrix([[1.0]])))(())


# ------------------------------------------------------------------ data
def blobs(n: int, seed: int) -> tuple[Matrix[float], Matrix[float]]:
    """Two linearly separable clusters around (±1.5, ±1.5); labels 1 and 0."""
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        c = 1.5 if i % 2 else -1.5
        xs += [c + rng.uniform(-1, 1), c + rng.uniform(-1, 1)]
        ys.append(1.0 if i % 2 else 0.0)
    return Matrix.from_flat(n, 2, xs), Matrix.from_flat(n, 1, ys)


def test_training_on_a_separable_problem_reduces_the_loss_and_classifies() -> None:
    X, Y = blobs(40, 0)
    model = nn.mlp([2, 4, 1], "tanh")
    params0 = model.init(random.Random(0))
    loss = nn.binary_cross_entropy_with_logits
    params, state, history = nn.fit(
        model, params0, (X, Y), loss, nn.Adam(0.05), epochs=15, batch_size=10, seed=1
    )
    assert len(history) == 15 * 4
    assert state.step == 60
    start = loss(model.apply(params0, X), Y)[1, 1]
    end = loss(model.apply(params, X), Y)[1, 1]
    assert end < 0.2 * start
    logits = model.apply(params, X)
    assert all((z > 0) == (y == 1.0) for z, y in zip(logits.data, Y.data, strict=True))


def test_make_step_returns_the_loss_before_the_update() -> None:
    X, Y = blobs(8, 1)
    model = nn.mlp([2, 3, 1], "relu")
    params = model.init(random.Random(2))
    opt = nn.SGD(0.1)
    step = nn.make_step(model, nn.mse, opt)
    new, state, value = step(params, opt.init(params), X, Y)
    assert value == nn.mse(model.apply(params, X), Y)[1, 1]
    assert isinstance(value, float)
    _, grads = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))(params, X, Y)
    assert new == nn.tree_map(lambda p, g: ops.sub(p, ops.scale(0.1, g)), params, grads)
    assert state.step == 1


def test_fit_is_reproducible_and_the_seed_drives_the_shuffle() -> None:
    X, Y = blobs(12, 3)
    model = nn.mlp([2, 3, 1], "tanh")
    params = model.init(random.Random(0))

    def run(seed: int, **kw: Any) -> list[Any]:
        return nn.fit(
            model, params, (X, Y), nn.mse, nn.SGD(0.1), epochs=3, batch_size=5, seed=seed, **kw
        )[2]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert run(7, shuffle=False) == run(8, shuffle=False)
    full = nn.fit(model, params, (X, Y), nn.mse, nn.SGD(0.1), epochs=3)[2]
    assert len(full) == 3 and full[0] == nn.mse(model.apply(params, X), Y)[1, 1]


def test_fit_callback_and_resume() -> None:
    X, Y = blobs(6, 4)
    model = nn.mlp([2, 2, 1], "tanh")
    params = model.init(random.Random(0))
    seen: list[tuple[int, Any]] = []
    p1, s1, h1 = nn.fit(
        model,
        params,
        (X, Y),
        nn.mse,
        nn.Adam(0.01),
        epochs=2,
        batch_size=4,
        callback=lambda step, value, p: seen.append((step, value)),
    )
    assert [s for s, _ in seen] == [1, 2, 3, 4]
    assert [v for _, v in seen] == h1
    _, s2, h2 = nn.fit(model, p1, (X, Y), nn.mse, nn.Adam(0.01), epochs=1, opt_state=s1)
    assert s2.step == 5 and len(h2) == 1


def test_take_rows() -> None:
    X = Matrix([[1, 2], [3, 4], [5, 6]])
    assert nn.take_rows(X, [2, 0]) == Matrix([[5, 6], [1, 2]])


def test_nan_loss_raises_training_diverged_naming_the_step() -> None:
    X = Matrix([[1.0], [2.0], [3.0]])
    Y = Matrix([[3.0], [6.0], [9.0]])
    model = nn.Dense(1, 1)
    params = model.init(random.Random(0))
    steps: list[int] = []
    with pytest.raises(TrainingDiverged, match=r"smaller learning rate \(learning rate 10") as info:
        nn.fit(
            model,
            params,
            (X, Y),
            nn.mse,
            nn.SGD(10.0),
            epochs=2000,
            callback=lambda s, v, p: steps.append(s),
        )
    assert info.value.step == steps[-1] + 1
    assert f"step {info.value.step}" in str(info.value)
    assert isinstance(info.value, refnn.RefnnError)


def test_nan_in_the_data_diverges_at_step_1() -> None:
    X = Matrix([[1.0], [math.nan]])
    Y = Matrix([[1.0], [2.0]])
    model = nn.Dense(1, 1)
    with pytest.raises(TrainingDiverged, match="nan at step 1") as info:
        nn.fit(model, model.init(random.Random(0)), (X, Y), nn.mse, nn.SGD(0.1))
    assert info.value.step == 1


def test_fit_checks_its_arguments() -> None:
    model = nn.Dense(1, 1)
    params = model.init(random.Random(0))
    with pytest.raises(ValueError, match="one row per example"):
        nn.fit(model, params, (Matrix([[1.0]]), Matrix([[1.0], [2.0]])), nn.mse, nn.SGD(0.1))
    with pytest.raises(ValueError, match="batch_size"):
        nn.fit(model, params, (Matrix([[1.0]]), Matrix([[1.0]])), nn.mse, nn.SGD(0.1), batch_size=0)


def test_training_runs_unchanged_on_the_numpy_backend() -> None:
    pytest.importorskip("numpy")
    from refnn import backends

    np_backend = backends.load("numpy")
    X, Y = blobs(12, 5)
    model = nn.mlp([2, 3, 1], "tanh")
    params = model.init(random.Random(0))
    kw: dict[str, Any] = {"epochs": 3, "batch_size": 5, "seed": 4}
    ref_params, _, ref_hist = nn.fit(model, params, (X, Y), nn.mse, nn.Adam(0.05), **kw)
    to_np = np_backend.from_matrix
    np_params, _, np_hist = nn.fit(
        model, nn.tree_map(to_np, params), (to_np(X), to_np(Y)), nn.mse, nn.Adam(0.05), **kw
    )
    assert all(isinstance(v, float) for v in np_hist)
    assert np_hist == pytest.approx(ref_hist, rel=1e-12)
    for a, b in zip(nn.tree_leaves(ref_params), nn.tree_leaves(np_params), strict=True):
        assert a.allclose(np_backend.to_matrix(b), rtol=1e-10, atol=1e-14)
    with pytest.raises(TrainingDiverged):
        bad = to_np(Matrix([[math.nan], [1.0]]))
        nn.fit(
            nn.Dense(1, 1),
            nn.tree_map(to_np, nn.Dense(1, 1).init(random.Random(0))),
            (bad, to_np(Matrix([[1.0], [2.0]]))),
            nn.mse,
            nn.SGD(0.1),
        )
