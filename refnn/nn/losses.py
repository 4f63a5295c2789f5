"""Losses: functions of ``(prediction, target)`` returning a 1×1 matrix, built from ops.

Each loss is a mean over all entries (or, for the cross-entropies over classes, over the
rows of the batch), written with :mod:`refnn.ops` only, so ``refnn.grad`` differentiates it
and it runs on every scalar domain and backend.

========================================  =================================================
``mse(p, y)``                             mean((p − y)²)
``mae(p, y)``                             mean(|p − y|), |d| = relu(d) + relu(−d)
                                          (derivative at d = 0 taken as 0)
``binary_cross_entropy_with_logits(z, y)``  mean(softplus(z) − y·z), targets y ∈ [0, 1]
``softmax_cross_entropy(z, y)``           −(1/m) Σᵢ Σⱼ yᵢⱼ log softmax(zᵢ)ⱼ
``l2_penalty(params)``                    Σ over all parameter entries of w²
``l1_penalty(params)``                    Σ over all parameter entries of |w|
========================================  =================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from refnn import ops
from refnn.errors import ShapeError
from refnn.matrix import Matrix, fmt_shape
from refnn.nn.tree import PyTree, tree_leaves
from refnn.ops import Value

__all__ = [
    "binary_cross_entropy_with_logits",
    "l1_penalty",
    "l2_penalty",
    "mae",
    "mse",
    "one_hot",
    "softmax_cross_entropy",
]


def _shape(x: Value) -> tuple[int, int]:
    s = x.shape
    return (int(s[0]), int(s[1]))


def _same(p: Value, y: Value, name: str) -> None:
    a, b = _shape(p), _shape(y)
    if a != b:
        raise ShapeError(
            f"{name} needs prediction and target of equal shapes: {fmt_shape(a)} and {fmt_shape(b)}"
        )


def _abs(x: Value) -> Value:
    return ops.add(ops.relu(x), ops.relu(ops.neg(x)))


def mse(prediction: Value, target: Value) -> Value:
    """Mean squared error, mean((p − y)²), as a 1×1 matrix."""
    _same(prediction, target, "mse")
    return ops.mean(ops.square(ops.sub(prediction, target)))


def mae(prediction: Value, target: Value) -> Value:
    """Mean absolute error, mean(|p − y|), as a 1×1 matrix. |d| is computed as
    relu(d) + relu(−d), whose derivative at d = 0 is 0 (a valid subgradient)."""
    _same(prediction, target, "mae")
    return ops.mean(_abs(ops.sub(prediction, target)))


def binary_cross_entropy_with_logits(logits: Value, target: Value) -> Value:
    """Binary cross-entropy of σ(z) against y ∈ [0, 1], from the logits z, in the stable form
    mean(softplus(z) − y·z) (= mean(−y·log σ(z) − (1 − y)·log(1 − σ(z)))), as a 1×1 matrix.
    No exponential overflows and no log of 0 is taken for large |z|."""
    _same(logits, target, "binary_cross_entropy_with_logits")
    return ops.mean(ops.sub(ops.softplus(logits), ops.hadamard(target, logits)))


def one_hot(labels: Sequence[int], k: int) -> Matrix[int]:
    """The m×k matrix with a 1 in row i, column ``labels[i]`` (labels are **1-based**:
    1…k, like every count in refnn) and 0 elsewhere."""
    m = len(labels)
    if m < 1 or k < 1:
        raise ShapeError(f"one_hot needs at least one label and k ≥ 1 classes, got {m}, {k}")
    data = [0] * (m * k)
    for i, c in enumerate(labels):
        if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= k:
            raise ValueError(f"class labels are 1-based, in 1..{k}; label {i + 1} is {c!r}")
        data[i * k + c - 1] = 1
    return Matrix.from_flat(m, k, data)


def softmax_cross_entropy(logits: Value, target: Value | Sequence[int]) -> Value:
    """Softmax cross-entropy averaged over the m rows: −(1/m) Σᵢ Σⱼ yᵢⱼ log softmax(zᵢ)ⱼ,
    as a 1×1 matrix (via ``log_softmax_rows``: stable for large logits).

    ``target`` is an m×k matrix of class probabilities (one-hot rows, or soft labels), or a
    sequence of m integer labels, **1-based** (1…k), turned into a reference one-hot
    matrix (for another backend's logits, pass one-hot targets in that backend's type).
    """
    m, k = _shape(logits)
    if not hasattr(ops.concrete(target), "shape"):
        labels = list(target)
        if len(labels) != m:
            raise ShapeError(f"softmax_cross_entropy got {len(labels)} labels for {m} rows")
        target = one_hot(labels, k)
    _same(logits, target, "softmax_cross_entropy")
    total = ops.sum(ops.hadamard(target, ops.log_softmax_rows(logits)))
    return ops.scale(Fraction(-1, m), total)


def _penalty(params: PyTree, term: Any) -> Value:
    leaves = tree_leaves(params)
    if not leaves:
        raise ValueError("a penalty needs at least one parameter matrix")
    total = ops.sum(term(leaves[0]))
    for leaf in leaves[1:]:
        total = ops.add(total, ops.sum(term(leaf)))
    return total


def l2_penalty(params: PyTree) -> Value:
    """Σ w² over every entry of every parameter matrix, as a 1×1 matrix (multiply by your
    coefficient, e.g. ``ops.scale(1e-4, l2_penalty(params))``)."""
    return _penalty(params, ops.square)


def l1_penalty(params: PyTree) -> Value:
    """Σ |w| over every entry of every parameter matrix, as a 1×1 matrix (|w| as
    relu(w) + relu(−w): derivative 0 at w = 0)."""
    return _penalty(params, _abs)
