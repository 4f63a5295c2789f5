"""A complete refnn backend for plain NumPy arrays, in about sixty lines.

Hold it against the reference, from the repository root, either way:

    refnn conform examples.07_custom_backend:backend
    python examples/07_custom_backend.py --examples 20   # the same: refnn conform on it

Copy the file to start an adapter for your own library (``docs/backends.md`` walks through
it line by line).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import numpy as np

from refnn import Matrix


class Array:
    """The backend's value: a 2-D float64 ndarray, wrapped so refnn can tell it by type."""

    __slots__ = ("a",)

    def __init__(self, a: Any) -> None:
        self.a = np.asarray(a, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int]:  # refnn reads .shape to check an op's arguments
        return (int(self.a.shape[0]), int(self.a.shape[1]))


def _k(f: Any) -> Any:  # wrap a function of ndarrays (and int/float parameters)
    return lambda *args: Array(f(*(x.a if isinstance(x, Array) else x for x in args)))


def _softplus(x: Any) -> Any:
    return np.logaddexp(x, 0.0)


def _sigmoid(x: Any) -> Any:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(x: Any) -> Any:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(x: Any) -> Any:
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


class SimpleNumpyBackend:
    name = "simple-numpy"
    array_type = Array
    kernels: ClassVar[dict[str, Any]] = {
        name: _k(f)
        for name, f in {
            "add": np.add,
            "sub": np.subtract,
            "neg": np.negative,
            "hadamard": np.multiply,
            "scale": lambda a, c: c * a,
            "add_scalar": lambda a, c: a + c,
            "div": np.divide,
            "matmul": np.matmul,
            "transpose": np.transpose,
            "broadcast": lambda a, m, n: np.broadcast_to(a, (m, n)).copy(),
            "add_row": np.add,
            "concat_cols": lambda a, b: np.concatenate((a, b), axis=1),
            "slice_cols": lambda a, j1, j2: a[:, j1 - 1 : j2],  # 1-based, inclusive
            "sum": lambda a: np.sum(a).reshape(1, 1),
            "sum_rows": lambda a: np.sum(a, axis=0, keepdims=True),  # 1×n column totals
            "sum_cols": lambda a: np.sum(a, axis=1, keepdims=True),  # m×1 row totals
            "mean": lambda a: np.mean(a).reshape(1, 1),
            "exp": np.exp,
            "log": np.log,
            "sqrt": np.sqrt,
            "pow": np.power,
            "square": np.square,
            "tanh": np.tanh,
            "sigmoid": _sigmoid,
            "softplus": _softplus,
            "sin": np.sin,
            "cos": np.cos,
            "step": lambda a: np.where(a != a, a, (a > 0).astype(np.float64)),
            "relu": lambda a: np.maximum(a, 0.0),
            "leaky_relu": lambda a, s: np.where(a > 0, a, s * a),
            "clip": lambda a, lo, hi: np.clip(a, lo, hi),
            "softmax_rows": _softmax,
            "log_softmax_rows": _log_softmax,
        }.items()
    }

    def from_matrix(self, A: Matrix[Any]) -> Array:
        return Array(np.array([[float(x) for x in row] for row in A.rows()]))

    def to_matrix(self, x: Array) -> Matrix[float]:
        return Matrix(x.a.tolist())


backend = SimpleNumpyBackend()

if __name__ == "__main__":
    from refnn.conformance.cli import conform_main

    sys.exit(conform_main(["__main__:backend", *sys.argv[1:]]))
