"""The PyTorch backend (extra ``torch``): float64 tensors wrapped in :class:`TorchMatrix`.

``TorchBackend(device="cpu")`` keeps its values on a PyTorch device: ``"cpu"`` (the
default), ``"cuda"`` (or ``"cuda:N"``) or ``"mps"``. Values built by ``from_matrix`` live
there, every kernel keeps its result on its inputs' device, and ``to_matrix`` copies back
to a reference matrix. The values are float64 (``dtype="float64"``, what the conformance
harness checks); Apple's MPS has no float64, so ``device="mps"`` needs
``dtype="float32"``, which is faster on GPUs too but no longer agrees with the reference
to float64 accuracy.

Forward kernels use PyTorch's own functions (``torch.sigmoid``, ``torch.softmax``,
``torch.log_softmax``, BLAS matmul, …) with the reference's domain checks
(:class:`~refnn.DomainError` for ``log``/``sqrt``/``div``/``pow`` outside their domain,
``OverflowError`` for an overflowing ``exp``). ``vjps`` holds PyTorch's *own* gradients:
``vjps[name](g, y, inputs, params)`` re-runs the forward under autograd and calls
``torch.autograd.grad``, so the conformance harness checks PyTorch's derivative formulas,
not refnn's.

Training runs at the speed of plain PyTorch (``benchmarks/backend_overhead.py``) through
two fast paths. ``refnn.grad`` on TorchMatrix values runs :data:`FUSED_VJPS` where an op has
one: what ``loss.backward()`` runs for it, called directly (``tanh_backward``, a matrix
product's cotangents read through transposed views), instead of the registry's VJP written
in ops; those are this backend's ``vjps`` for those ops, so ``refnn conform`` checks them.
The optimisers update every parameter matrix at once through :data:`LIST_KERNELS`
(``torch._foreach_*``, bit for bit the per-matrix kernels). Both are only used with this
module's own kernels: a backend built with its own ``kernels=`` gets neither, and one with
its own ``vjps=`` no fused VJPs.

Documented differences from PyTorch's defaults, chosen so the backend conforms:
``softplus`` is ``torch.logaddexp(x, 0)`` (``torch.nn.functional.softplus`` switches to ``x``
above its ``threshold=20``, which is off by up to e⁻²⁰ ≈ 2e-9);
``step`` and ``relu`` take derivative 0 at 0; ``clip``'s derivative at ``lo``/``hi`` is 1 in
PyTorch and 0 in refnn (the harness avoids those kinks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from refnn.backends._value import ArrayValue
from refnn.errors import DomainError
from refnn.matrix import Matrix
from refnn.ops import const
from refnn.rules import check_array

__all__ = [
    "FUSED_VJPS",
    "KERNELS",
    "LIST_KERNELS",
    "VJPS",
    "TorchBackend",
    "TorchMatrix",
    "backend",
]

_np: Any
try:
    import numpy as _np
except ImportError:  # pragma: no cover - NumPy is optional; sqrt then uses complex128
    _np = None

_F64 = torch.float64


class TorchMatrix(ArrayValue):
    """An immutable matrix held by PyTorch (the tensor is never mutated): float64 on the CPU
    unless built from a tensor elsewhere or given ``device``/``dtype``."""

    __slots__ = ("_t",)

    _t: Any

    def __init__(self, data: Any, *, device: Any = None, dtype: Any = None) -> None:
        if isinstance(data, torch.Tensor):
            t = data.to(device=device or data.device, dtype=dtype or _F64)
        else:
            t = torch.as_tensor(data, dtype=dtype or _F64, device=device or "cpu")
        self._check_shape(t.shape)
        object.__setattr__(self, "_t", t)

    @classmethod
    def _wrap(cls, t: Any) -> TorchMatrix:
        self = object.__new__(cls)
        _set_t(self, t)
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return tuple(self._t.shape)  # torch.Size of 2 ints

    @property
    def tensor(self) -> Any:
        """The tensor (a detached clone: mutating it changes nothing here)."""
        return self._t.detach().clone()

    @property
    def device(self) -> Any:
        """The ``torch.device`` the values live on."""
        return self._t.device

    def _rows(self) -> list[list[float]]:
        rows: list[list[float]] = self._t.detach().cpu().tolist()
        return rows


_set_t = TorchMatrix.__dict__["_t"].__set__  # the slot's own setter (immutable class)
_new = object.__new__


def _t(x: TorchMatrix) -> Any:
    return x._t


def _w(t: Any) -> TorchMatrix:
    """A fresh tensor as a :class:`TorchMatrix` (``TorchMatrix._wrap``, inlined: every
    kernel ends here)."""
    self = _new(TorchMatrix)
    _set_t(self, t)
    return self


def _num(p: Any) -> Any:
    """A parameter as a float backend sees it (ints stay ints, the rest the nearest double):
    the registry's own conversion for the float domain (a float is already that)."""
    return p if type(p) is float else const(p, None)


def _exp(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    y = torch.exp(a)
    if bool(torch.isinf(y).any()) and not bool(torch.isinf(a[torch.isinf(y)]).all()):
        raise OverflowError("exp overflows for an entry above ~709.78")
    return _w(y)


def _check(rule: str, a: Any, p: Any = None) -> None:
    """:func:`~refnn.rules.check_array` on a tensor: on NumPy's view of a CPU tensor where it
    can (the same rule, the same message, a third of the time of torch's ``any``)."""
    if _np is not None and a.device.type == "cpu" and not a.requires_grad:
        check_array(rule, a.numpy(), p)
    else:
        check_array(rule, a, p)


def _log(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    _check("log", a)
    return _w(torch.log(a))


def _sqrt(A: TorchMatrix) -> TorchMatrix:
    a = _t(A)
    _check("sqrt", a)
    exact = _correctly_rounded_sqrt(a.detach())
    if exact is None:
        return _w(torch.sqrt(a))
    if a.requires_grad:  # the autograd VJP: PyTorch's derivative, the exact value
        r = torch.sqrt(a)
        return _w(r + (exact - r.detach()))  # neighbouring doubles: the difference is exact
    return _w(exact)


def _correctly_rounded_sqrt(a: Any) -> Any:
    """√a correctly rounded, as IEEE (and the reference) require, or ``None`` where
    ``torch.sqrt`` is used as it is.

    On torch 2.13's CPU build the float64 ``torch.sqrt`` is not correctly rounded
    (``sqrt(0.5)`` and ``sqrt(2)`` come out one ulp low; 79 of 10,000 random inputs), so
    float64 CPU tensors take NumPy's square root (the hardware's, correctly rounded) when
    NumPy is installed, else PyTorch's complex square root, whose real part for x > 0 is
    the C library's correctly rounded sqrt. Other devices and dtypes keep ``torch.sqrt``.
    """
    if a.dtype != torch.float64 or a.device.type != "cpu":
        return None
    if _np is not None:
        return torch.from_numpy(_np.sqrt(a.numpy()))
    exact = a.to(torch.complex128).sqrt().real
    return torch.where((a > 0) & (a < float("inf")), exact, torch.sqrt(a))


def _div(A: TorchMatrix, B: TorchMatrix) -> TorchMatrix:
    b = _t(B)
    _check("div", b)
    return _w(_t(A) / b)


def _pow(A: TorchMatrix, p: Any) -> TorchMatrix:
    a, q = _t(A), _num(p)
    _check("pow_neg", a, q)
    _check("pow_zero", a, q)
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
    "add": lambda A, B: _w(A._t + B._t),
    "sub": lambda A, B: _w(A._t - B._t),
    "neg": lambda A: _w(-A._t),
    "hadamard": lambda A, B: _w(A._t * B._t),
    "scale": lambda A, c: _w((c if type(c) is float else float(_num(c))) * A._t),
    "add_scalar": lambda A, c: _w(A._t + float(_num(c))),
    "div": _div,
    "matmul": lambda A, B: _w(A._t @ B._t),
    "transpose": lambda A: _w(A._t.t().contiguous()),  # a copy: see the NumPy backend
    "broadcast": _broadcast,
    "add_row": lambda A, b: _w(A._t + b._t),
    "concat_cols": lambda A, B: _w(torch.cat((A._t, B._t), dim=1)),
    "slice_cols": lambda A, j1, j2: _w(A._t[:, j1 - 1 : j2].clone()),
    "sum": lambda A: _w(torch.sum(A._t).reshape(1, 1)),
    "sum_rows": lambda A: _w(torch.sum(A._t, dim=0, keepdim=True)),
    "sum_cols": lambda A: _w(torch.sum(A._t, dim=1, keepdim=True)),
    "mean": lambda A: _w(torch.mean(A._t).reshape(1, 1)),
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "pow": _pow,
    "square": lambda A: _w(A._t * A._t),
    "tanh": lambda A: _w(torch.tanh(A._t)),
    "sigmoid": lambda A: _w(torch.sigmoid(A._t)),
    "softplus": _softplus,
    "sin": lambda A: _w(torch.sin(A._t)),
    "cos": lambda A: _w(torch.cos(A._t)),
    "step": lambda A: _w(torch.where(A._t != A._t, A._t, (A._t > 0).to(A._t.dtype))),
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "clip": _clip,
    "softmax_rows": lambda A: _w(torch.softmax(A._t, dim=1)),
    "log_softmax_rows": lambda A: _w(torch.log_softmax(A._t, dim=1)),
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


# ------------------------------------------------------------------ fused VJPs
# What ``loss.backward()`` runs for these ops, called directly: one kernel where the
# registry's VJP makes two or three (tanh's g ⊙ (1 − y²) is ``tanh_backward``), and a matrix
# product's cotangents read through transposed views, as PyTorch's ``mm`` backward does,
# instead of transposed copies. Each reads only what its op's VJP reads (y for tanh and
# sigmoid, the inputs for the rest, nothing for add_row and sub).
_aten = torch.ops.aten


def _matmul_fused(g: Any, y: Any, xs: Any, ps: Any, needs: Any) -> tuple[Any, ...]:
    a, b, gt = xs[0]._t, xs[1]._t, g._t
    return (
        _w(gt @ b.t()) if needs[0] else None,
        _w(a.t() @ gt) if needs[1] else None,
    )


def _mean_fused(g: Any, y: Any, xs: Any, ps: Any, needs: Any) -> tuple[Any, ...]:
    m, n = xs[0]._t.shape
    return (_w((g._t * (1.0 / (m * n))).expand(m, n).clone()),)  # as the broadcast kernel


FUSED_VJPS: Mapping[str, Callable[..., tuple[Any, ...]]] = {
    "matmul": _matmul_fused,
    "add_row": lambda g, y, xs, ps, needs: (g, _w(g._t.sum(dim=0, keepdim=True))),
    "tanh": lambda g, y, xs, ps, needs: (_w(_aten.tanh_backward(g._t, y._t)),),
    "sigmoid": lambda g, y, xs, ps, needs: (_w(_aten.sigmoid_backward(g._t, y._t)),),
    "sin": lambda g, y, xs, ps, needs: (_w(g._t * torch.cos(xs[0]._t)),),
    "softplus": lambda g, y, xs, ps, needs: (_w(g._t * torch.sigmoid(xs[0]._t)),),
    "square": lambda g, y, xs, ps, needs: (_w(g._t * (2.0 * xs[0]._t)),),
    "hadamard": lambda g, y, xs, ps, needs: (
        _w(g._t * xs[1]._t) if needs[0] else None,
        _w(g._t * xs[0]._t) if needs[1] else None,
    ),
    "sub": lambda g, y, xs, ps, needs: (g, _w(-g._t) if needs[1] else None),
    "mean": _mean_fused,
}


# ------------------------------------------------------------------ list kernels
# An optimiser's update on all parameter matrices at once: ``torch._foreach_*`` runs the
# same kernel on each tensor (so the same bits) in one call. ``sqrt`` and ``div`` keep
# their per-matrix kernels' domain checks; ``sqrt`` also its correctly rounded values.
def _ts(As: list[TorchMatrix]) -> list[Any]:
    return [A._t for A in As]


def _ws(ts: Sequence[Any]) -> list[TorchMatrix]:
    return [_w(t) for t in ts]


def _square_list(As: list[TorchMatrix]) -> list[TorchMatrix]:
    ts = _ts(As)
    return _ws(torch._foreach_mul(ts, ts))


def _flat(ts: list[Any]) -> Any:
    """The entries of every tensor, one after another (checked by one rule call)."""
    return torch.cat([t.reshape(-1) for t in ts]) if len(ts) > 1 else ts[0]


def _div_list(As: list[TorchMatrix], Bs: list[TorchMatrix]) -> list[TorchMatrix]:
    bs = _ts(Bs)
    if bs:
        _check("div", _flat(bs))
    return _ws(torch._foreach_div(_ts(As), bs))


LIST_KERNELS: Mapping[str, Callable[..., list[TorchMatrix]]] = {
    "scale": lambda As, c: _ws(
        torch._foreach_mul(_ts(As), c if type(c) is float else float(_num(c)))
    ),
    "add": lambda As, Bs: _ws(torch._foreach_add(_ts(As), _ts(Bs))),
    "sub": lambda As, Bs: _ws(torch._foreach_sub(_ts(As), _ts(Bs))),
    "square": _square_list,
    "add_scalar": lambda As, c: _ws(torch._foreach_add(_ts(As), float(_num(c)))),
    "div": _div_list,
    "sqrt": lambda As: [_sqrt(A) for A in As],
}


def _all_needed(fused: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
    def vjp(g: Any, y: Any, xs: tuple[Any, ...], ps: tuple[Any, ...]) -> tuple[Any, ...]:
        return fused(g, y, xs, ps, (True,) * len(xs))

    return vjp


#: op name → the VJP ``vjp(g, y, inputs, params)`` that ``refnn conform`` checks: the fused
#: VJP that ``refnn.grad`` runs where there is one, else PyTorch autograd re-running the
#: forward kernel (so PyTorch's own derivative formulas are what is checked).
VJPS: Mapping[str, Callable[..., tuple[TorchMatrix, ...]]] = {
    name: _all_needed(FUSED_VJPS[name]) if name in FUSED_VJPS else _autograd_vjp(name)
    for name in KERNELS
}


_DEVICE_KINDS = ("cpu", "cuda", "mps")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _check_device(device: str, dtype: str) -> Any:
    """The ``torch.device`` for a backend, or a clear error naming what is missing."""
    kind = str(device).partition(":")[0]
    if kind not in _DEVICE_KINDS:
        raise ValueError(f"unknown torch device {device!r}; choose cpu, cuda (or cuda:N) or mps")
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose float64 or float32")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device!r}: this PyTorch has no usable CUDA device "
            f"(torch {torch.__version__}; torch.cuda.is_available() is False)"
        )
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError(f"device {device!r}: this PyTorch has no usable MPS device")
        if dtype == "float64":
            raise ValueError("the MPS device has no float64: use dtype='float32'")
    return torch.device(device)


class TorchBackend:
    """The PyTorch backend: values are :class:`TorchMatrix` on ``device`` (float64 unless
    ``dtype="float32"``); see the module docstring."""

    array_type: type = TorchMatrix

    def __init__(
        self,
        name: str = "torch",
        kernels: Mapping[str, Callable[..., Any]] | None = None,
        vjps: Mapping[str, Callable[..., Any]] | None = None,
        *,
        device: str = "cpu",
        dtype: str = "float64",
    ) -> None:
        self.name = name
        self.device = _check_device(device, dtype)
        self.dtype = _DTYPES[dtype]
        self.kernels: Mapping[str, Callable[..., Any]] = dict(
            KERNELS if kernels is None else kernels
        )
        self.vjps: Mapping[str, Callable[..., Any]] = dict(VJPS if vjps is None else vjps)
        #: The VJPs ``refnn.grad`` runs on this backend's values (each is in ``vjps`` too)
        #: and the optimisers' list kernels: only with this module's own kernels.
        self.fused_vjps: Mapping[str, Callable[..., Any]] = dict(
            FUSED_VJPS if vjps is None and kernels is None else {}
        )
        self.list_kernels: Mapping[str, Callable[..., Any]] = dict(
            LIST_KERNELS if kernels is None else {}
        )

    def from_matrix(self, A: Matrix[Any]) -> TorchMatrix:
        """A reference matrix as a :class:`TorchMatrix` on this backend's device."""
        m, n = A.shape
        flat = torch.tensor([float(x) for x in A.data], dtype=self.dtype)
        return TorchMatrix._wrap(flat.reshape(m, n).to(self.device))

    def to_matrix(self, a: Any) -> Matrix[float]:
        """A :class:`TorchMatrix` (on any device) as a float reference :class:`~refnn.Matrix`."""
        if not isinstance(a, TorchMatrix):
            raise TypeError(f"expected a TorchMatrix, got {type(a).__name__}")
        m, n = a.shape
        return Matrix.from_flat(m, n, [float(x) for x in _t(a).detach().reshape(-1).tolist()])

    def __repr__(self) -> str:
        return f"<refnn backend {self.name} on {self.device}>"


#: The PyTorch backend instance (``refnn.backends.load("refnn.backends.torch:backend")``).
backend = TorchBackend()
