"""Training traces: the expected values against independent sources, the tolerance method
tested both ways (correct implementations pass on every backend; three deliberately wrong
ones fail, each at the first step where it diverges, naming the step and the parameter)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import pytest

from refnn import Matrix, nn, ops
from refnn.conformance import _exact as ex
from refnn.conformance.traces import (
    TOLERANCE_FACTOR,
    TRACE_NAMES,
    build_model,
    check_trace,
    compute_trace,
    record_run,
    run_trace,
)


def _vals(obj: dict[str, Any]) -> list[float]:
    return [float.fromhex(h) for h in obj["hex"]]


def _num(obj: dict[str, Any]) -> float:
    return float.fromhex(obj["hex"])


def _numbers(doc: dict[str, Any]) -> int:
    """Every number a trace holds for its steps: loss, gradients, updated parameters."""
    return sum(
        1 + sum(len(e["value"]["hex"]) for e in (*s["grads"], *s["params_after"]))
        for s in doc["steps"]
    )


# ------------------------------------------------------------------ the documents
@pytest.mark.parametrize("name", TRACE_NAMES)
def test_trace_document_is_complete(name: str) -> None:
    doc = compute_trace(name)
    assert doc["format"] == "refnn-training-trace" and doc["version"] == 2
    assert doc["tolerance"]["factor"] == TOLERANCE_FACTOR
    names = [p["name"] for p in doc["initial_params"]]
    assert names and len(doc["steps"]) >= 3
    for k, step in enumerate(doc["steps"], start=1):
        assert step["step"] == k
        assert [g["name"] for g in step["grads"]] == names
        assert [p["name"] for p in step["params_after"]] == names
        assert 0 < _num(step["loss_tolerance"]) < 1e-10 * max(1.0, abs(_num(step["loss"])))
        for e in (*step["grads"], *step["params_after"]):
            assert [d for d in e["value"]["decimal"]] == [repr(v) for v in _vals(e["value"])]
            assert all(t >= 0 for t in _vals(e["tolerance"]))
    for layer in doc["layers"]:
        assert layer["meaning"]
    assert doc["loss"]["meaning"] and doc["optimizer"]["rule"]


def test_unknown_trace_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown trace 'nope'"):
        compute_trace("nope")


def test_linear_regression_trace_equals_exact_fraction_arithmetic() -> None:
    """Linear regression with MSE and momentum is rational: exact Fractions are an independent
    source for every expected value (correctly rounded)."""
    doc = compute_trace("linear_momentum")
    X = Matrix.from_flat(
        doc["data"]["X"]["rows"],
        doc["data"]["X"]["cols"],
        [Fraction(v) for v in _vals(doc["data"]["X"])],
    )
    Y = [Fraction(v) for v in _vals(doc["data"]["Y"])]
    W = [Fraction(v) for v in _vals(doc["initial_params"][0]["value"])]
    b = Fraction(_vals(doc["initial_params"][1]["value"])[0])
    lr, mu = Fraction(_num(doc["optimizer"]["lr"])), Fraction(_num(doc["optimizer"]["momentum"]))
    m, n = X.shape
    vW, vb = [Fraction(0)] * n, Fraction(0)
    for step in doc["steps"]:
        rows = [list(X.data[i * n : (i + 1) * n]) for i in range(m)]
        pred = [sum((r[j] * W[j] for j in range(n)), Fraction(0)) + b for r in rows]
        d = [p - y for p, y in zip(pred, Y, strict=True)]
        loss = sum((e * e for e in d), Fraction(0)) / m
        gW = [sum((2 * d[i] * rows[i][j] for i in range(m)), Fraction(0)) / m for j in range(n)]
        gb = sum((2 * e for e in d), Fraction(0)) / m
        vW = [mu * v + g for v, g in zip(vW, gW, strict=True)]
        vb = mu * vb + gb
        W = [w - lr * v for w, v in zip(W, vW, strict=True)]
        b = b - lr * vb
        assert _num(step["loss"]) == float(loss)
        assert _vals(step["grads"][0]["value"]) == [float(g) for g in gW]
        assert _vals(step["grads"][1]["value"]) == [float(gb)]
        assert _vals(step["params_after"][0]["value"]) == [float(w) for w in W]
        assert _vals(step["params_after"][1]["value"]) == [float(b)]


# ------------------------------------------------------------------ a hand-written trainer
@dataclass(frozen=True)
class Bugs:
    transpose_w2: bool = False  # the 4×4 hidden weight used as W2ᵀ
    bias_wrong_axis: bool = False  # bias gradient summed along the features, not the batch


def _bias_grad(G: Any, bugs: Bugs) -> Any:
    if not bugs.bias_wrong_axis:
        return ops.sum_rows(G)  # Σ over the batch: 1×n
    # the flat-array mistake: row totals (Σ over features), the first n of them
    n = ops.concrete(G).shape[1]
    return ops.slice_cols(ops.transpose(ops.sum_cols(G)), 1, n)


def _handwritten_spiral_step(bugs: Bugs, lr: float) -> Any:
    """The article's network with its backward pass written out by hand (no autodiff)."""

    def step(params: Any, state: Any, X: Any, Y: Any) -> tuple[Any, Any, Any, Any]:
        (L1, _, L2, _, L3) = params
        W2 = ops.transpose(L2["W"]) if bugs.transpose_w2 else L2["W"]
        h1 = ops.tanh(ops.add_row(ops.matmul(X, L1["W"]), L1["b"]))
        h2 = ops.tanh(ops.add_row(ops.matmul(h1, W2), L2["b"]))
        z = ops.add_row(ops.matmul(h2, L3["W"]), L3["b"])
        loss = ops.mean(ops.sub(ops.softplus(z), ops.hadamard(Y, z)))
        m = ops.concrete(z).shape[0]
        c = ops.broadcast(Matrix([[1 / m]]), m, 1)
        gz = ops.add(ops.hadamard(c, ops.sigmoid(z)), ops.hadamard(ops.neg(c), Y))
        g3W, g3b = ops.matmul(ops.transpose(h2), gz), _bias_grad(gz, bugs)
        gh2 = ops.matmul(gz, ops.transpose(L3["W"]))
        gz2 = ops.sub(gh2, ops.hadamard(gh2, ops.square(h2)))
        g2W, g2b = ops.matmul(ops.transpose(h1), gz2), _bias_grad(gz2, bugs)
        gh1 = ops.matmul(gz2, ops.transpose(W2))
        if bugs.transpose_w2:
            g2W = ops.transpose(g2W)
        gz1 = ops.sub(gh1, ops.hadamard(gh1, ops.square(h1)))
        g1W, g1b = ops.matmul(ops.transpose(X), gz1), _bias_grad(gz1, bugs)
        grads = ({"W": g1W, "b": g1b}, (), {"W": g2W, "b": g2b}, (), {"W": g3W, "b": g3b})
        new = tuple(
            () if p == () else {k: ops.sub(p[k], ops.scale(lr, g[k])) for k in ("W", "b")}
            for p, g in zip(params, grads, strict=True)
        )
        return loss, grads, new, state

    return step


def _spiral_run(bugs: Bugs) -> tuple[dict[str, Any], Any]:
    doc = compute_trace("spiral_mlp_sgd")
    lr = _num(doc["optimizer"]["lr"])
    return doc, record_run(doc, _handwritten_spiral_step(bugs, lr), lambda p: None)


def test_a_handwritten_backward_pass_meets_the_trace() -> None:
    doc, run = _spiral_run(Bugs())
    chk = check_trace(doc, run)
    assert chk.passed, chk.first_failure
    assert chk.compared == _numbers(doc)


def test_a_transposed_weight_fails_at_the_first_loss() -> None:
    doc, run = _spiral_run(Bugs(transpose_w2=True))
    chk = check_trace(doc, run)
    assert chk.first_failure is not None and chk.first_failure.startswith("step 1 loss:")


def test_a_bias_gradient_over_the_wrong_axis_fails_at_step_1_naming_b1() -> None:
    doc, run = _spiral_run(Bugs(bias_wrong_axis=True))
    chk = check_trace(doc, run)
    assert chk.first_failure is not None
    assert chk.first_failure.startswith("step 1 gradient of b1 entry"), chk.first_failure
    # the loss and every weight gradient of step 1 still match: the bug is only the bias
    assert not any(f.startswith(("step 1 loss", "step 1 gradient of W")) for f in chk.failures)


@dataclass(frozen=True)
class AdamWithoutBiasCorrection:
    """Adam as some write it: θ ← θ − lr·m/(√v + eps), with no 1/(1 − βᵗ) corrections."""

    lr: float
    b1: float
    b2: float
    eps: float

    def init(self, params: Any) -> Any:
        zeros = tuple(ops.scale(0, x) for x in nn.tree_leaves(params))
        return (zeros, zeros)

    def update(self, grads: Any, state: Any, params: Any) -> tuple[Any, Any]:
        ps, treedef = nn.tree_flatten(params)
        gs = nn.tree_leaves(grads)
        ms, vs, new = [], [], []
        for p, g, m, v in zip(ps, gs, *state, strict=True):
            m = ops.add(ops.scale(self.b1, m), ops.scale(1 - self.b1, g))
            v = ops.add(ops.scale(self.b2, v), ops.scale(1 - self.b2, ops.square(g)))
            delta = ops.div(ops.scale(self.lr, m), ops.add_scalar(ops.sqrt(v), self.eps))
            new.append(ops.sub(p, delta))
            ms.append(m)
            vs.append(v)
        return nn.tree_unflatten(treedef, new), (tuple(ms), tuple(vs))


def test_adam_without_bias_correction_fails_at_the_first_update_naming_w1() -> None:
    doc = compute_trace("siren_adam")
    o = doc["optimizer"]
    opt = AdamWithoutBiasCorrection(_num(o["lr"]), _num(o["b1"]), _num(o["b2"]), _num(o["eps"]))
    model = build_model(doc["layers"])
    vg = nn.value_and_grad(lambda p, x, y: nn.mse(model.apply(p, x), y))

    def step(params: Any, state: Any, X: Any, Y: Any) -> tuple[Any, Any, Any, Any]:
        loss, grads = vg(params, X, Y)
        new, st = opt.update(grads, state, params)
        return loss, grads, new, st

    chk = check_trace(doc, record_run(doc, step, opt.init))
    assert chk.first_failure is not None
    assert chk.first_failure.startswith("step 1 W1 after the update entry"), chk.first_failure
    # loss and gradients of step 1 are computed before the update: they still match
    assert not any(f.startswith(("step 1 loss", "step 1 gradient")) for f in chk.failures)


# ------------------------------------------------------------------ backends through refnn.nn
@pytest.mark.parametrize("backend", ["reference", "numpy", "torch"])
@pytest.mark.parametrize("name", TRACE_NAMES)
def test_backends_meet_every_trace_through_refnn_nn(backend: str, name: str) -> None:
    if backend == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed (CI installs it)")
    doc = compute_trace(name)
    chk = check_trace(doc, run_trace(doc, backend))
    assert chk.passed, chk.first_failure
    assert chk.compared == _numbers(doc)


def test_the_tolerance_is_the_stated_multiple_of_the_first_order_bound() -> None:
    """Recompute the loss bound of step 1 of the spiral trace independently of the exporter:
    the magnitude backend on one loss evaluation (no update involved), times the factor."""
    doc = compute_trace("spiral_mlp_sgd")
    model = build_model(doc["layers"])
    named = {p["name"]: p["value"] for p in doc["initial_params"]}

    def leaf(obj: dict[str, Any]) -> Any:
        A = Matrix.from_flat(obj["rows"], obj["cols"], _vals(obj))
        mp = ex.to_mp(A)
        return ex._Mag(
            mp,
            Matrix.from_flat(*A.shape, [abs(v) for v in mp.data]),
            Matrix.from_flat(*A.shape, [mpmath.mpf(0)] * A.size),
        )

    with ex.precise():
        params = tuple(
            {"W": leaf(named[f"W{k}"]), "b": leaf(named[f"b{k}"])} if i % 2 == 0 else ()
            for i, k in zip(range(5), (1, 1, 2, 2, 3), strict=True)
        )
        z = model.apply(params, leaf(doc["data"]["X"]))
        loss = nn.binary_cross_entropy_with_logits(z, leaf(doc["data"]["Y"]))
        bound = loss.err.data[0]
        value = loss.val.data[0]
    step1 = doc["steps"][0]
    assert _num(step1["loss"]) == ex.round_float(value)
    tol = _num(step1["loss_tolerance"])
    assert TOLERANCE_FACTOR * bound <= tol <= TOLERANCE_FACTOR * bound * (1 + 2.0**-50)
    # and the bound is tight enough to mean something: a few hundred ulps of the loss at most
    assert tol < 1000 * math.ulp(_num(step1["loss"]))
