"""Optimisers and learning-rate schedules: pure functions of parameters and state.

An optimiser has ``init(params) -> state`` and
``update(grads, state, params) -> (new_params, new_state)``; nothing is mutated, so a
training run is a fold over steps. Every update rule is written with :mod:`refnn.ops`
(``scale``, ``add``, ``sub``, ``square``, ``sqrt``, ``add_scalar``, ``div``), each op on
every parameter matrix (Adam does each op on all of them in one call, through a backend's
list kernels where it has them), so it runs on every backend and on SymPy symbols (the
tests check one symbolic step against each published formula).

Notation: θ parameters, g gradient, η learning rate at this step, t the number of the
update being made (1 for the first). Update rules (the conventions of PyTorch):

* ``SGD(lr)``: θ ← θ − η·g.
* ``SGD(lr, momentum=μ)``: v ← μ·v + g; θ ← θ − η·v (v starts at 0).
* ``SGD(lr, momentum=μ, nesterov=True)``: v ← μ·v + g; θ ← θ − η·(g + μ·v).
* ``Adam(lr, b1, b2, eps)`` (Kingma & Ba, 2015): m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
  m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); θ ← θ − η·m̂/(√v̂ + ε).
* ``AdamW(lr, b1, b2, eps, weight_decay=λ)`` (Loshchilov & Hutter, 2019), decoupled
  decay: θ ← θ − η·λ·θ − η·m̂/(√v̂ + ε) (the moments see only the gradient g).

A learning rate is a float or a *schedule*, a function from the step index ``k`` (the
number of updates already made: 0 for the first update) to a float: :func:`constant`,
:func:`step_decay`, :func:`cosine`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from refnn import ops
from refnn.nn.tree import PyTree, TreeDef, tree_flatten, tree_unflatten

__all__ = [
    "SGD",
    "Adam",
    "AdamState",
    "AdamW",
    "LearningRate",
    "Momentum",
    "Optimizer",
    "SGDState",
    "Schedule",
    "constant",
    "cosine",
    "learning_rate_at",
    "step_decay",
]

#: A schedule maps the step index k (0 for the first update) to a learning rate.
Schedule = Callable[[int], Any]
#: A learning rate: a constant number or a :data:`Schedule`.
LearningRate = Any


# ----------------------------------------------------------------------- schedules
def constant(lr: float) -> Schedule:
    """The schedule k ↦ lr."""

    def schedule(k: int) -> float:
        return lr

    return schedule


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """k ↦ lr·γ^⌊k/step_size⌋: the rate is multiplied by γ every ``step_size`` updates."""
    if step_size < 1:
        raise ValueError(f"step_size must be at least 1, got {step_size}")

    def schedule(k: int) -> float:
        return lr * gamma ** (k // step_size)

    return schedule


def cosine(lr: float, total_steps: int, final_lr: float = 0.0) -> Schedule:
    """Cosine decay (Loshchilov & Hutter, 2017, without restarts):
    k ↦ final + (lr − final)·(1 + cos(π·min(k, T)/T))/2 with T = ``total_steps``; it starts
    at ``lr`` and stays at ``final_lr`` from step T on."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")

    def schedule(k: int) -> float:
        frac = min(k, total_steps) / total_steps
        return final_lr + (lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))

    return schedule


def learning_rate_at(lr: LearningRate, k: int) -> Any:
    """The learning rate for the update with index k (0-based): ``lr(k)`` or ``lr``."""
    return lr(k) if callable(lr) else lr


# ----------------------------------------------------------------------- protocol
@runtime_checkable
class Optimizer(Protocol):
    """``init(params) -> state``; ``update(grads, state, params) -> (params, state)``."""

    def init(self, params: PyTree) -> Any:
        """The state before the first update."""
        ...

    def update(self, grads: PyTree, state: Any, params: PyTree) -> tuple[PyTree, Any]:
        """New parameters and state after one update (nothing is mutated)."""
        ...


def _leaves(params: PyTree, grads: PyTree) -> tuple[list[Any], list[Any], TreeDef]:
    p_leaves, p_def = tree_flatten(params)
    g_leaves, g_def = tree_flatten(grads)
    if p_def != g_def:
        raise ValueError(
            f"gradients must have the structure of the parameters: {p_def} and {g_def}"
        )
    return p_leaves, g_leaves, p_def


_UPDATE_OPS = ("scale", "add", "sub", "div", "sqrt", "square", "add_scalar")


def _kernel_table(*groups: Any) -> Any:
    """The kernel table of the backend that owns every leaf, when an update may call the
    kernels directly; ``None`` otherwise. ``groups`` are parallel sequences of leaves
    (parameters, gradients, moments): the i-th leaves of all groups must share a shape.

    An update makes a dozen element-wise ops per parameter matrix on values whose shapes
    are checked here, so the dispatch of each op (tracer hook, backend lookup, shape rule)
    is pure overhead: on small networks it costs as much as the arithmetic. The kernels
    are the ones :func:`refnn.ops.apply` would pick, called with the same arguments, so
    the result is the same. Traced values (an update inside ``grad``), values of two
    backends or of unequal shapes take the ordinary ``ops`` path, which records, converts
    or raises as usual.
    """
    if not groups or not groups[0]:
        return None
    t = type(groups[0][0])
    if getattr(t, "__refnn_dispatch__", None) is not None:
        return None
    for leaves in zip(*groups, strict=True):
        shape = leaves[0].shape if type(leaves[0]) is t else None
        for x in leaves:
            if type(x) is not t or x.shape != shape:
                return None
    try:
        table = ops.kernels_for((groups[0][0],))
    except TypeError:
        return None
    return table if all(name in table for name in _UPDATE_OPS) else None


#: One of the update's ops on lists of leaves: ``f(As, *params)`` or ``f(As, Bs)``, the
#: kernel calling convention (``scale``'s factor comes after the matrices).
ListOp = Callable[..., list[Any]]


def _mapped(f: Callable[..., Any], arity: int) -> ListOp:
    if arity == 1:
        return lambda xs, *p: [f(x, *p) for x in xs]
    return lambda xs, ys: [f(x, y) for x, y in zip(xs, ys, strict=True)]


def _list_ops(*groups: Any) -> dict[str, ListOp]:
    """The update's ops (:data:`_UPDATE_OPS`) on lists of leaves, one call per op for all
    parameter matrices: the backend's list kernels where it has them
    (:func:`refnn.ops.register_list_kernels`: PyTorch's ``torch._foreach_*``, bit for bit
    the per-matrix kernels), else its kernels called matrix by matrix when
    :func:`_kernel_table` allows it, else the ``ops`` functions (which record, convert or
    raise as usual)."""
    table = _kernel_table(*groups)
    if table is None:
        return {
            "scale": lambda xs, c: [ops.scale(c, x) for x in xs],
            **{n: _mapped(getattr(ops, n), ops.registry[n].arity) for n in _UPDATE_OPS[1:]},
        }
    lists = ops.list_kernels_for(type(groups[0][0])) or {}
    return {
        n: lists[n] if n in lists else _mapped(table[n], ops.registry[n].arity) for n in _UPDATE_OPS
    }


def _zeros_like(leaves: list[Any]) -> list[Any]:
    return [ops.scale(0, x) for x in leaves]


# ----------------------------------------------------------------------- SGD
@dataclass(frozen=True)
class SGDState:
    """SGD's state: the number of updates made and the velocity leaves (``None`` without
    momentum)."""

    step: int
    velocity: tuple[Any, ...] | None


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent, optionally with (Nesterov) momentum; see the module
    docstring for the rules."""

    lr: LearningRate
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        if self.nesterov and not self.momentum:
            raise ValueError("Nesterov momentum needs momentum > 0")

    def init(self, params: PyTree) -> SGDState:
        """Step 0; zero velocity (with momentum)."""
        if not self.momentum:
            return SGDState(0, None)
        return SGDState(0, tuple(_zeros_like(tree_flatten(params)[0])))

    def update(self, grads: PyTree, state: SGDState, params: PyTree) -> tuple[PyTree, SGDState]:
        """One SGD step."""
        ps, gs, treedef = _leaves(params, grads)
        lr = learning_rate_at(self.lr, state.step)
        scale, sub, add = ops.scale, ops.sub, ops.add
        if state.velocity is None:
            new = [sub(p, scale(lr, g)) for p, g in zip(ps, gs, strict=True)]
            return tree_unflatten(treedef, new), SGDState(state.step + 1, None)
        mu = self.momentum
        vs = [add(scale(mu, v), g) for v, g in zip(state.velocity, gs, strict=True)]
        if self.nesterov:
            new = [
                sub(p, scale(lr, add(g, scale(mu, v)))) for p, g, v in zip(ps, gs, vs, strict=True)
            ]
        else:
            new = [sub(p, scale(lr, v)) for p, v in zip(ps, vs, strict=True)]
        return tree_unflatten(treedef, new), SGDState(state.step + 1, tuple(vs))


@dataclass(frozen=True)
class Momentum(SGD):
    """:class:`SGD` with momentum μ = 0.9 by default (the name some texts use): the same
    update rule, ``Momentum(lr, momentum, nesterov)``."""

    momentum: float = 0.9


# ----------------------------------------------------------------------- Adam
@dataclass(frozen=True)
class AdamState:
    """Adam's state: updates made so far, first and second moment leaves."""

    step: int
    m: tuple[Any, ...]
    v: tuple[Any, ...]


@dataclass(frozen=True)
class Adam:
    """Adam with bias correction (Kingma & Ba, 2015); see the module docstring.

    ``weight_decay`` (λ) makes it :class:`AdamW`'s decoupled decay; 0 (the default) is
    plain Adam. Per parameter matrix one update costs 11 element-wise ops (12 with decay).
    """

    lr: LearningRate = 1e-3
    b1: Any = 0.9
    b2: Any = 0.999
    eps: Any = 1e-8
    weight_decay: Any = 0.0

    def init(self, params: PyTree) -> AdamState:
        """Step 0; both moments zero."""
        zeros = tuple(_zeros_like(tree_flatten(params)[0]))
        return AdamState(0, zeros, zeros)

    def update(self, grads: PyTree, state: AdamState, params: PyTree) -> tuple[PyTree, AdamState]:
        """One Adam (or AdamW) step."""
        ps, gs, treedef = _leaves(params, grads)
        t = state.step + 1
        lr = learning_rate_at(self.lr, state.step)
        b1, b2, eps = self.b1, self.b2, self.eps
        c1, c2 = 1 - b1, 1 - b2
        step_size = lr / (1 - b1**t)  # η/(1 − β₁ᵗ): η·m̂ = step_size·m
        v_corr = 1 / (1 - b2**t)  # v̂ = v_corr·v
        decay = 1 - lr * self.weight_decay if self.weight_decay else None
        f = _list_ops(ps, gs, state.m, state.v)  # each op on all the matrices at once
        scale, add, sub, div, sqrt = f["scale"], f["add"], f["sub"], f["div"], f["sqrt"]
        ms = add(scale(state.m, b1), scale(gs, c1))
        vs = add(scale(state.v, b2), scale(f["square"](gs), c2))
        delta = div(scale(ms, step_size), f["add_scalar"](sqrt(scale(vs, v_corr)), eps))
        if decay is not None:
            ps = scale(ps, decay)
        new = sub(ps, delta)
        return tree_unflatten(treedef, new), AdamState(t, tuple(ms), tuple(vs))


@dataclass(frozen=True)
class AdamW(Adam):
    """Adam with decoupled weight decay λ (Loshchilov & Hutter, 2019):
    θ ← (1 − η·λ)·θ − η·m̂/(√v̂ + ε). The same update as :class:`Adam` with
    ``weight_decay``; only the default differs: λ = 0.01 (PyTorch's)."""

    weight_decay: Any = 1e-2
