"""Reverse-mode automatic differentiation over the op registry (JAX-style API).

``grad(f, argnums=0)(*args)``, ``value_and_grad(f, argnums=0)(*args)`` and
``vjp(f, *args) -> (out, back)``.

How it works: the differentiated arguments are wrapped in :class:`Tracer` values. Every
``refnn.ops`` call that sees a tracer is recorded (one tape node per op on whole
matrices, never per element) and computed on the wrapped values. The backward pass walks
the tape in reverse and calls each op's VJP from the registry; VJPs are themselves
compositions of registry ops, so when the values are tracers of an enclosing ``grad`` the
backward pass is recorded too — gradients of gradients work, to any order, on every
backend and every scalar domain (gradients of SymPy-symbol matrices are SymPy
expressions). :func:`refnn.explain` prints that tape and the backward pass node by node.

Conventions:

* ``grad`` needs ``f`` to return a 1×1 matrix (or a plain number, which is a constant);
  any other shape raises :class:`~refnn.ShapeError` pointing to :func:`vjp`.
* A differentiated argument is a matrix (a ``Matrix``, a backend array, or a tracer) or a
  *pytree* of them, as in JAX: nested tuples, named tuples, lists and dicts with ``str``
  keys (see :mod:`refnn.tree`). Its gradient has the same structure, so
  ``grad(loss)(params)`` works on a whole ``refnn.nn`` parameter tree. Anything else
  raises ``TypeError``; a tree without any matrix raises ``ValueError``. Parameters such
  as ``p`` in ``ops.pow(A, p)`` are constants.
* The gradient with respect to a matrix ``f`` does not use is a matrix of zeros of that
  matrix's shape (not an error).
* Inside ``f`` the operators ``+ - @ .T .hadamard``, scalar ``*`` and ``/ c`` act on
  tracers as on matrices (each is one registry op), so ``x @ w + c`` differentiates when
  ``c`` has the shape of ``x @ w``. A 1×n bias added to every row is
  ``ops.add_row(x @ w, b)``: ``+`` needs equal shapes and says so. ``*`` between two
  matrices is refused (``A.hadamard(B)`` or ``A @ B``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from refnn import scalars
from refnn.errors import ShapeError
from refnn.matrix import Matrix, fmt_shape
from refnn.ops import _defs as ops
from refnn.ops._core import OpSpec, apply, vjp_kernels_for
from refnn.ops.operators import RecordedValue
from refnn.tree import TreeDef, tree_flatten, tree_unflatten

__all__ = ["Tracer", "grad", "value_and_grad", "vjp"]

_levels = itertools.count(1)


class _Trace:
    """One active differentiation: its nesting level and its node counter."""

    __slots__ = ("counter", "level")

    def __init__(self) -> None:
        self.level = next(_levels)
        self.counter = itertools.count()


class _Node:
    """One entry of the tape: how a traced value was made.

    ``idx`` orders the tape (the counter of the trace); ``spec`` is the op, ``None`` for an
    argument of ``f`` (a leaf); ``parents`` holds, per input, the node of this trace it came
    from (``None`` for a constant); ``params`` are the op's parameters. The op's input
    values (``inputs``) and its output (``value``) are kept only if its VJP reads them
    (:attr:`OpSpec.vjp_reads_inputs`, :attr:`OpSpec.vjp_reads_output`), and a node refers
    to its parents' nodes, never to their tracers: so the tape does not keep alive a matrix
    no VJP needs, such as the ``X @ W`` under ``+ b`` or the pre-activation under ``tanh``.
    """

    __slots__ = ("idx", "inputs", "params", "parents", "spec", "value")

    def __init__(
        self,
        idx: int,
        spec: OpSpec | None,
        inputs: tuple[Any, ...],
        params: tuple[Any, ...],
        parents: tuple[_Node | None, ...],
        value: Any,
    ) -> None:
        self.idx = idx
        self.spec = spec
        self.inputs = inputs
        self.params = params
        self.parents = parents
        self.value = value


def _leaf_node(trace: _Trace) -> _Node:
    return _Node(next(trace.counter), None, (), (), (), None)


class Tracer(RecordedValue):
    """A value being differentiated: the wrapped value plus the op that made it.

    Supports the same operators as :class:`~refnn.Matrix`, and ``.shape``. Users see tracers
    only inside functions passed to :func:`grad`, :func:`value_and_grad` or :func:`vjp`.
    """

    __slots__ = ("_node", "_trace")

    def __init__(self, value: Any, trace: _Trace, node: _Node) -> None:
        self._value = value
        self._trace = trace
        self._node = node

    @classmethod
    def __refnn_dispatch__(
        cls, spec: OpSpec, inputs: tuple[Any, ...], params: tuple[Any, ...]
    ) -> Tracer:
        trace: _Trace | None = None
        for a in inputs:  # the innermost trace among the inputs records the op
            if isinstance(a, Tracer) and (trace is None or a._trace.level > trace.level):
                trace = a._trace
        assert trace is not None  # dispatch only happens when an input is a tracer
        ours = [isinstance(a, Tracer) and a._trace is trace for a in inputs]
        values = tuple([a._value if mine else a for a, mine in zip(inputs, ours, strict=True)])
        out = apply(spec, values, params)
        node = _Node(
            next(trace.counter),
            spec,
            values if spec.vjp_reads_inputs else (),
            params,
            tuple([a._node if mine else None for a, mine in zip(inputs, ours, strict=True)]),
            out if spec.vjp_reads_output else None,
        )
        return Tracer(out, trace, node)

    def __bool__(self) -> NoReturn:
        raise TypeError("the truth value of a traced matrix is ambiguous")

    @property
    def op(self) -> str:
        """The name of the op that made this value (``"input"`` for an argument of ``f``)."""
        spec = self._node.spec
        return "input" if spec is None else spec.name

    def __repr__(self) -> str:
        return (
            f"Tracer(op={self.op}, shape={fmt_shape(self.shape)}, "
            f"level={self._trace.level}, value={self._value!r})"
        )


# ----------------------------------------------------------------------- helpers
def _check_differentiable(x: Any, position: int) -> None:
    if isinstance(x, Tracer) or hasattr(ops.concrete(x), "shape"):
        return
    raise TypeError(
        f"can only differentiate with respect to matrices; argument {position} is "
        f"{type(x).__name__} {x!r} (wrap numbers as Matrix([[x]]))"
    )


def _filled_like(x: Any, value: int) -> Any:
    """A constant matrix of ``value`` with x's shape and domain (on x's backend)."""
    c = ops.concrete(x)
    if isinstance(c, Matrix):
        # Built in x's own domain, so that constants met later in the backward pass (the
        # 1/mn of mean, a Fraction scale) stay exact for Fraction and SymPy values.
        m, n = c.shape
        v: Any = float(value) if c.domain is scalars.FLOAT else value
        return Matrix._new(m, n, (v,) * (m * n), c.domain)
    zero = ops.scale(0, c)
    return zero if value == 0 else ops.add_scalar(zero, value)


def _fused_vjp(g: Any, node: _Node) -> Any:
    """The backend's fused VJP for ``node`` (:func:`refnn.ops.register_vjp_kernels`), or
    ``None``: then the registry's VJP, written in ops, runs. A fused VJP is used only when
    the cotangent and every value the tape kept are of the backend's own type, so a
    backward pass that is itself being recorded (values of an enclosing trace) never
    takes it."""
    t = type(g)
    table = vjp_kernels_for(t)
    if table is None:
        return None
    fused = table.get(node.spec.name) if node.spec is not None else None
    if fused is None or (node.value is not None and type(node.value) is not t):
        return None
    for x in node.inputs:
        if type(x) is not t:
            return None
    return fused


def _backward(out: Tracer, seed: Any) -> dict[int, Any]:
    """Cotangents of every leaf node reached from ``out`` (keyed by the node's ``idx``)."""
    reached: dict[int, _Node] = {}
    stack = [out._node]
    pop, push = stack.pop, stack.append
    while stack:
        n = pop()
        if n.idx in reached:
            continue
        reached[n.idx] = n
        for p in n.parents:
            if p is not None:
                push(p)
    cot: dict[int, Any] = {out._node.idx: seed}
    leaves: dict[int, Any] = {}
    add = ops.add
    # Newest first: a node's cotangent is complete once every node made from it is done.
    for idx in sorted(reached, reverse=True):
        g = cot.pop(idx, None)
        if g is None:
            continue
        node = reached[idx]
        spec = node.spec
        if spec is None:
            leaves[idx] = g
            continue
        parents = node.parents
        needs = tuple([p is not None for p in parents])
        fused = _fused_vjp(g, node)
        if fused is not None:
            cts = fused(g, node.value, node.inputs, node.params, needs)
        else:
            cts = spec.cotangents(g, node.value, node.inputs, node.params, needs)
        for parent, ct in zip(parents, cts, strict=True):
            if parent is None:
                continue
            key = parent.idx
            prev = cot.get(key)
            cot[key] = ct if prev is None else add(prev, ct)
    return leaves


def _argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for k in nums:
        if not isinstance(k, int) or not -nargs <= k < nargs:
            raise ValueError(f"argnums {argnums!r} does not fit a call with {nargs} argument(s)")
    return tuple(k % nargs for k in nums)


# ----------------------------------------------------------------------- pytrees
def _trace_tree(x: Any, trace: _Trace, position: int) -> tuple[Any, list[Tracer], TreeDef]:
    """``x`` (a matrix or a pytree of them) with every leaf wrapped in a tracer."""
    leaves, treedef = tree_flatten(x)
    if treedef.kind in ("leaf", "none"):
        _check_differentiable(x, position)
    elif not leaves:
        raise ValueError(
            f"can only differentiate with respect to matrices; argument {position} is "
            f"{x!r}, a tree with no matrix in it (value_and_grad needs parameters with at "
            f"least one matrix)"
        )
    else:
        for k, leaf in enumerate(leaves):
            if not (isinstance(leaf, Tracer) or hasattr(ops.concrete(leaf), "shape")):
                raise TypeError(
                    f"can only differentiate with respect to matrices; leaf {k} of argument "
                    f"{position} (a tree of structure {treedef}) is {type(leaf).__name__} "
                    f"{leaf!r} (wrap numbers as Matrix([[x]]))"
                )
    tracers = [Tracer(leaf, trace, _leaf_node(trace)) for leaf in leaves]
    return tree_unflatten(treedef, tracers), tracers, treedef


def _gradient_tree(leaves: dict[int, Any], tracers: list[Tracer], treedef: TreeDef) -> Any:
    """The cotangents of ``tracers`` rebuilt into their tree's structure (zeros, of the
    traced leaf's shape and domain, where unused)."""
    return tree_unflatten(
        treedef,
        [
            leaves[t._node.idx] if t._node.idx in leaves else _filled_like(t._value, 0)
            for t in tracers
        ],
    )


# ----------------------------------------------------------------------- public API
def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0
) -> Callable[..., tuple[Any, Any]]:
    """``f``'s value and its gradient(s) with respect to the arguments named by ``argnums``.

    ``f`` must return a 1×1 matrix (or a plain number). Each differentiated argument is a
    matrix or a pytree of matrices (tuples, named tuples, lists, dicts), and its gradient
    has the same structure. With an int ``argnums`` the result is that one gradient; with a
    tuple, a tuple of them. ``refnn.nn.value_and_grad`` is this same function:
    ``value_and_grad(loss)(params, X, Y)`` differentiates a whole parameter tree.
    """

    def wrapped(*args: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args))
        trace = _Trace()
        targs = list(args)
        traced: dict[int, tuple[list[Tracer], TreeDef]] = {}
        for k in nums:
            if k in traced:
                continue
            targs[k], tracers, treedef = _trace_tree(args[k], trace, k)
            traced[k] = (tracers, treedef)
        out = f(*targs)
        value = out._value if isinstance(out, Tracer) and out._trace is trace else out
        if hasattr(ops.concrete(value), "shape"):
            shape = ops.concrete(value).shape
            if shape != (1, 1):
                raise ShapeError(
                    f"grad needs a function returning a 1×1 matrix (a scalar loss), got "
                    f"{fmt_shape(shape)}; use refnn.vjp for non-scalar outputs"
                )
        if isinstance(out, Tracer) and out._trace is trace:
            leaves = _backward(out, _filled_like(value, 1))
        else:
            leaves = {}
        grads = tuple(_gradient_tree(leaves, *traced[k]) for k in nums)
        return value, (grads[0] if isinstance(argnums, int) else grads)

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``f`` (see :func:`value_and_grad`); for a pytree
    argument, a pytree of the same structure."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]

    return wrapped


def vjp(f: Callable[..., Any], *args: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """``(out, back)``: ``f(*args)`` and the function taking an output cotangent ``v`` (same
    shape as ``out``, a matrix) to the tuple of input cotangents vᵀ·∂out/∂argᵢ, one per
    argument, each with its argument's structure (arguments may be pytrees of matrices)."""
    trace = _Trace()
    traced_args = [_trace_tree(a, trace, k) for k, a in enumerate(args)]
    out = f(*(t[0] for t in traced_args))
    traced = isinstance(out, Tracer) and out._trace is trace
    value = out._value if traced else out

    def back(v: Any) -> tuple[Any, ...]:
        vs, os = ops.concrete(v).shape, ops.concrete(value).shape
        if vs != os:
            raise ShapeError(
                f"the cotangent must have the output's shape: {fmt_shape(vs)} and {fmt_shape(os)}"
            )
        leaves = _backward(out, v) if traced else {}
        return tuple(
            _gradient_tree(leaves, tracers, treedef) for _, tracers, treedef in traced_args
        )

    return value, back
