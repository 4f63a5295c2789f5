"""The JAX backend (extra ``jax``): float64 arrays on the CPU, wrapped in :class:`JaxMatrix`.

Importing this module turns on JAX's 64-bit mode (``jax_enable_x64``): refnn's values are
doubles. Every kernel is JAX's own function (``jax.nn.sigmoid``, ``jax.nn.softplus``,
``jax.nn.softmax``, ``jnp.tanh``, XLA's dot, …), so ``refnn conform jax`` measures JAX, and
``vjps`` holds JAX's *own* derivatives (``jax.vjp`` of each kernel), so the harness checks
JAX's differentiation rules rather than refnn's. ``refnn.grad`` and ``refnn.nn`` on
:class:`JaxMatrix` values use the registry's VJPs, as on every backend.

What to expect, measured by ``refnn conform jax`` (``docs/accuracy.md``):

* XLA on the CPU flushes subnormal numbers to zero (inputs and results), by design: run
  with ``--subnormals flush`` to judge JAX on everything else.
* JAX follows IEEE 754 at special values (NaN propagates, ``tanh(±inf) = ±1``) but returns
  NaN or ±inf where the reference raises :class:`~refnn.DomainError` (``log(0)``); the
  harness does not judge such undefined cases.
* Known deviations beyond the stated bounds are listed in ``examples/jax-expect.toml``,
  each with its measured worst case.

Values are placed on the default CPU device; ``JaxBackend(device=...)`` takes another
``jax.Device``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax

jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call,unused-ignore]

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from refnn.backends._value import ArrayValue  # noqa: E402
from refnn.matrix import Matrix  # noqa: E402

__all__ = ["FUNCTIONS", "JaxBackend", "JaxMatrix", "backend"]

_F64 = jnp.float64


class JaxMatrix(ArrayValue):
    """An immutable float64 matrix held by JAX (JAX arrays are immutable already)."""

    __slots__ = ("_a",)

    _a: Any

    def __init__(self, data: Any) -> None:
        a = jnp.asarray(data, dtype=_F64)
        self._check_shape(a.shape)
        object.__setattr__(self, "_a", a)

    @classmethod
    def _wrap(cls, a: Any) -> JaxMatrix:
        self = object.__new__(cls)
        object.__setattr__(self, "_a", a)
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        m, n = self._a.shape
        return (int(m), int(n))

    @property
    def array(self) -> Any:
        """The entries as a JAX array (float64)."""
        return self._a

    def _rows(self) -> list[list[float]]:
        rows: list[list[float]] = np.asarray(self._a).tolist()
        return rows


def _broadcast(a: Any, m: int, n: int) -> Any:
    return jnp.broadcast_to(a, (m, n))


#: op name → the JAX function on raw arrays, ``f(*arrays, *params)``: one per registry op.
FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "add": jnp.add,
    "sub": jnp.subtract,
    "neg": jnp.negative,
    "hadamard": jnp.multiply,
    "scale": lambda a, c: c * a,
    "add_scalar": lambda a, c: a + c,
    "div": jnp.divide,
    "matmul": jnp.matmul,
    "transpose": jnp.transpose,
    "broadcast": _broadcast,
    "add_row": jnp.add,
    "concat_cols": lambda a, b: jnp.concatenate((a, b), axis=1),
    "slice_cols": lambda a, j1, j2: a[:, j1 - 1 : j2],
    "sum": lambda a: jnp.sum(a).reshape(1, 1),
    "sum_rows": lambda a: jnp.sum(a, axis=0, keepdims=True),
    "sum_cols": lambda a: jnp.sum(a, axis=1, keepdims=True),
    "mean": lambda a: jnp.mean(a).reshape(1, 1),
    "exp": jnp.exp,
    "log": jnp.log,
    "sqrt": jnp.sqrt,
    "pow": jnp.power,
    "square": jnp.square,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "step": lambda a: jnp.heaviside(a, 0.0),
    "relu": jax.nn.relu,
    "leaky_relu": lambda a, s: jax.nn.leaky_relu(a, s),
    "clip": lambda a, lo, hi: jnp.clip(a, lo, hi),
    "softmax_rows": lambda a: jax.nn.softmax(a, axis=1),
    "log_softmax_rows": lambda a: jax.nn.log_softmax(a, axis=1),
}


def _kernel(f: Callable[..., Any]) -> Callable[..., JaxMatrix]:
    def kernel(*args: Any) -> JaxMatrix:
        return JaxMatrix._wrap(f(*(a._a if isinstance(a, JaxMatrix) else a for a in args)))

    return kernel


def _vjp(f: Callable[..., Any]) -> Callable[..., tuple[JaxMatrix, ...]]:
    # One jitted pullback per op (and parameter values): as in a jitted training step, XLA
    # compiles the whole VJP once per shape instead of each of its primitives eagerly.
    @functools.partial(jax.jit, static_argnums=(0,))
    def pullback(params: tuple[Any, ...], g: Any, *xs: Any) -> Any:
        _, back = jax.vjp(lambda *a: f(*a, *params), *xs)
        return back(g)

    def vjp(
        g: JaxMatrix, y: JaxMatrix, inputs: tuple[JaxMatrix, ...], params: tuple[Any, ...]
    ) -> tuple[JaxMatrix, ...]:
        cts = pullback(tuple(params), g._a, *(x._a for x in inputs))
        return tuple(JaxMatrix._wrap(c) for c in cts)

    return vjp


class JaxBackend:
    """The JAX backend: values are :class:`JaxMatrix` (float64), kernels are JAX's
    functions, ``vjps`` JAX's own derivatives."""

    array_type: type = JaxMatrix

    def __init__(
        self,
        name: str = "jax",
        device: Any = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.name = name
        self.device = device if device is not None else jax.devices("cpu")[0]
        fs = dict(FUNCTIONS if functions is None else functions)
        self.kernels: Mapping[str, Callable[..., Any]] = {k: _kernel(f) for k, f in fs.items()}
        self.vjps: Mapping[str, Callable[..., Any]] = {k: _vjp(f) for k, f in fs.items()}

    def from_matrix(self, A: Matrix[Any]) -> JaxMatrix:
        """A reference matrix as a float64 :class:`JaxMatrix` on this backend's device."""
        m, n = A.shape
        # built on the host with NumPy: a jnp reshape would compile an XLA program per shape
        data = np.asarray([float(x) for x in A.data], dtype=np.float64).reshape(m, n)
        return JaxMatrix._wrap(jax.device_put(data, self.device))

    def to_matrix(self, a: Any) -> Matrix[float]:
        """A :class:`JaxMatrix` as a float reference :class:`~refnn.Matrix`."""
        if not isinstance(a, JaxMatrix):
            raise TypeError(f"expected a JaxMatrix, got {type(a).__name__}")
        m, n = a.shape
        return Matrix.from_flat(m, n, np.asarray(a._a, dtype=np.float64).ravel().tolist())

    def __repr__(self) -> str:
        return f"<refnn backend {self.name}>"


#: The JAX backend instance (``refnn.backends.load("jax")``).
backend = JaxBackend()
