"""The PyTorch backend (extra ``torch``): float64 CPU tensors wrapped in :class:`TorchMatrix`.

Forward kernels use PyTorch's own functions (``torch.sigmoid``, ``torch.softmax``,
``torch.log_softmax``, BLAS matmul, …) with the reference's domain checks
(:class:`~refnn.DomainError` for ``log``/``sqrt``/``div``/``pow`` outside their domain,
``OverflowError`` for an overflowing ``exp``). ``vjps`` holds PyTorch's *own* gradients:
``vjps[name](g, y, inputs, params)`` re-runs the forward under autograd and calls
``torch.autograd.grad``, so the conformance harness checks PyTorch's derivative formulas,
not refnn's. (``refnn.grad`` on TorchMatrix values uses the registry's VJPs, like on every
backend.)

Documented differences from PyTorch's defaults, chosen so the backend conforms:
``softplus`` is ``torch.logaddexp(x, 0)`` (``torch.nn.functional.softplus`` switches to ``x``
above its ``threshold=20``, which is off by up to e⁻²⁰ ≈ 2e-9);
``step`` and ``relu`` take derivative 0 at 0; ``clip``'s derivative at ``lo``/``hi`` is 1 in
PyTorch and 0 in refnn (the harness avoids those kinks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from refnn.errors import DomainError
from refnn.matrix import Matrix
from refnn.ops import const
from refnn.ops.operators import OpsOperators

__all__ = ["KERNELS", "VJPS", "TorchBackend", "TorchMatrix", "backend"]

_F64 = torch.float64


class TorchMatrix(OpsOperators):
    """An immutable float64 CPU matrix held by PyTorch (the tensor is never mutated)."""

    __slots__ = ("_t",)

    _t: Any

    def __init__(self, data: Any) -> None:
        t = torch.as_tensor(data, dtype=_F64, device="cpu")
        if t.dim() != 2 or t.shape[0] < 1 or t.shape[1] < 1:
            raise ValueError(f"a TorchMatrix is 2-D with m, n ≥ 1, got shape {tuple(t.shape)}")
        object.__setattr__(self, "_t", t)

    @classmethod
    def _wrap(cls, t: Any) -> TorchMatrix:
        self = object.__new__(cls)
        object.__setattr__(self, "_t", t)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"TorchMatrix is immutable: cannot set attribute {name!r}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return (int(self._t.shape[0]), int(self._t.shape[1]))

    @property
    def tensor(self) -> Any:
        """The float64 tensor (a detached clone: mutating it changes nothing here)."""
        return self._t.detach().clone()

    def __repr__(self) -> str:
        return f"TorchMatrix({self._t.tolist()!r})"


def _t(x: TorchMatrix) -> Any:
    return x._t


def _w(t: Any) -> TorchMatrix:
    return TorchMatrix._wrap(t)


def _num(p: Any) -> Any:
    """A parameter as a float backend sees it (ints stay ints, the rest the nearest double):
    the registry's own conversion for the float domain."""
    return const(p, None)


def _exp(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    y = torch.exp(a)
    if bool(torch.isinf(y).any()) and not bool(torch.isinf(a[torch.isinf(y)]).all()):
        raise OverflowError("exp overflows for an entry above ~709.78")
    return _w(y)


def _log(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    if bool((a <= 0).any()):
        raise DomainError("log needs positive entries")
    return _w(torch.log(a))


def _sqrt(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    if bool((a < 0).any()):
        raise DomainError("sqrt needs non-negative entries")
    return _w(torch.sqrt(a))


def _div(A: TorchMatrix, B: TorchMatrix) -> TorchMatrix:
    b = _t(B)
    if bool((b == 0).any()):
        raise DomainError("element-wise division by a zero entry")
    return _w(_t(A) / b)


def _pow(A: TorchMatrix, p: Any) -> TorchMatrix:
    a, q = _t(A), _num(p)
    if q != int(q) and bool((a < 0).any()):
        raise DomainError(f"pow of a negative entry to a non-integer power {p!r}")
    if q < 0 and bool((a == 0).any()):
        raise DomainError(f"pow of a zero entry to a negative power {p!r}")
    y = torch.pow(a, q)
    if q > 0 and not (q == int(q) and int(q) % 2 == 1):
        # C99: pow(±0, y) = +0 for y > 0 not an odd integer (torch.pow(−0, 0.5) is −0)
        y = torch.where(a == 0, torch.zeros_like(y), y)
    return _w(y)


def _clip(A: TorchMatrix, lo: Any, hi: Any) -> TorchMatrix:
    if not lo <= hi:
        raise DomainError(f"clip needs lo ≤ hi, got lo={lo!r}, hi={hi!r}")
    return _w(torch.clamp(_t(A), float(_num(lo)), float(_num(hi))))


def _softplus(A: TorchMatrix) -> TorchMatrix:
    # log(eˣ + e⁰), stable for any x, and its autograd derivative is σ(x) everywhere; the
    # form max(x, 0) + log1p(e^−|x|) has the right values but, through the kinks of max and
    # |x|, autograd gives 1 instead of 1/2 at x = 0 (refnn conform found it)
    a = _t(A)
    return _w(torch.logaddexp(a, torch.zeros_like(a)))


def _relu(A: TorchMatrix) -> TorchMatrix:
    return _w(torch.clamp(_t(A), min=0.0))  # NaN propagates


def _leaky_relu(A: TorchMatrix, slope: Any) -> TorchMatrix:
    a = _t(A)
    return _w(torch.where(a > 0, a, float(_num(slope)) * a))


def _broadcast(A: TorchMatrix, m: int, n: int) -> TorchMatrix:
    return _w(_t(A).expand(m, n).clone())


KERNELS: Mapping[str, Callable[..., Any]] = {
    "add": lambda A, B: _w(_t(A) + _t(B)),
    "sub": lambda A, B: _w(_t(A) - _t(B)),
    "neg": lambda A: _w(-_t(A)),
    "hadamard": lambda A, B: _w(_t(A) * _t(B)),
    "scale": lambda A, c: _w(float(_num(c)) * _t(A)),
    "add_scalar": lambda A, c: _w(_t(A) + float(_num(c))),
    "div": _div,
    "matmul": lambda A, B: _w(_t(A) @ _t(B)),
    "transpose": lambda A: _w(_t(A).t().contiguous()),
    "broadcast": _broadcast,
    "add_row": lambda A, b: _w(_t(A) + _t(b)),
    "concat_cols": lambda A, B: _w(torch.cat((_t(A), _t(B)), dim=1)),
    "slice_cols": lambda A, j1, j2: _w(_t(A)[:, j1 - 1 : j2].clone()),
    "sum": lambda A: _w(torch.sum(_t(A)).reshape(1, 1)),
    "sum_rows": lambda A: _w(torch.sum(_t(A), dim=0, keepdim=True)),
    "sum_cols": lambda A: _w(torch.sum(_t(A), dim=1, keepdim=True)),
    "mean": lambda A: _w(torch.mean(_t(A)).reshape(1, 1)),
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "pow": _pow,
    "square": lambda A: _w(_t(A) * _t(A)),
    "tanh": lambda A: _w(torch.tanh(_t(A))),
    "sigmoid": lambda A: _w(torch.sigmoid(_t(A))),
    "softplus": _softplus,
    "sin": lambda A: _w(torch.sin(_t(A))),
    "cos": lambda A: _w(torch.cos(_t(A))),
    "step": lambda A: _w(torch.where(_t(A) != _t(A), _t(A), (_t(A) > 0).to(_F64))),
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "clip": _clip,
    "softmax_rows": lambda A: _w(torch.softmax(_t(A), dim=1)),
    "log_softmax_rows": lambda A: _w(torch.log_softmax(_t(A), dim=1)),
}


def _autograd_vjp(name: str) -> Callable[..., tuple[TorchMatrix, ...]]:
    kernel = KERNELS[name]

    def vjp(
        g: TorchMatrix, y: TorchMatrix, inputs: tuple[TorchMatrix, ...], params: tuple[Any, ...]
    ) -> tuple[TorchMatrix, ...]:
        leaves = [_t(x).detach().clone().requires_grad_(True) for x in inputs]
        with torch.enable_grad():
            out = _t(kernel(*(_w(t) for t in leaves), *params))
            if not out.requires_grad:  # piecewise-constant ops (step): derivative 0
                return tuple(_w(torch.zeros_like(t)) for t in leaves)
            grads = torch.autograd.grad(out, leaves, _t(g), allow_unused=True)
        return tuple(
            _w(torch.zeros_like(t) if gr is None else gr.detach())
            for t, gr in zip(leaves, grads, strict=True)
        )

    return vjp


#: op name → PyTorch autograd VJP ``vjp(g, y, inputs, params)``.
VJPS: Mapping[str, Callable[..., tuple[TorchMatrix, ...]]] = {
    name: _autograd_vjp(name) for name in KERNELS
}


class TorchBackend:
    """The PyTorch backend: values are :class:`TorchMatrix` (float64, CPU)."""

    array_type: type = TorchMatrix

    def __init__(
        self,
        name: str = "torch",
        kernels: Mapping[str, Callable[..., Any]] | None = None,
        vjps: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.name = name
        self.kernels: Mapping[str, Callable[..., Any]] = dict(
            KERNELS if kernels is None else kernels
        )
        self.vjps: Mapping[str, Callable[..., Any]] = dict(VJPS if vjps is None else vjps)

    def from_matrix(self, A: Matrix[Any]) -> TorchMatrix:
        """A reference matrix as a float64 :class:`TorchMatrix`."""
        return TorchMatrix([[float(x) for x in row] for row in A.rows()])

    def to_matrix(self, a: Any) -> Matrix[float]:
        """A :class:`TorchMatrix` as a float reference :class:`~refnn.Matrix`."""
        if not isinstance(a, TorchMatrix):
            raise TypeError(f"expected a TorchMatrix, got {type(a).__name__}")
        m, n = a.shape
        return Matrix.from_flat(m, n, [float(x) for x in _t(a).detach().reshape(-1).tolist()])

    def __repr__(self) -> str:
        return f"<refnn backend {self.name}>"


#: The PyTorch backend instance (``refnn.backends.load("refnn.backends.torch:backend")``).
backend = TorchBackend()
