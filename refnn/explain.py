"""``refnn.explain(f, *args)``: watch backpropagation happen, node by node.

It runs ``f`` once on the given arguments while recording every ``refnn.ops`` call (the
same one-node-per-op tape that :mod:`refnn.autodiff` differentiates), then prints:

1. **the forward pass**: each node, the op and its formula, the input shapes and the
   output shape, and the values of small matrices;
2. **the backward pass** in reverse order: each node with its VJP rule *as the registry
   states it* (``ops.registry["tanh"].rule`` is ``g ⊙ (1 − y²)``), the cotangent ``g``
   that reached it and the cotangent(s) it produced for its inputs;
3. **the layers**, where the tape has the article's shape ``zₖ = aₖ₋₁Wₖ (+ bₖ)``,
   ``aₖ = f(zₖ)``: each layer's δₖ = ∂L/∂zₖ and the recursion
   δₖ = (δₖ₊₁ Wₖ₊₁ᵀ) ⊙ f′(zₖ). On symbolic runs (``Matrix.symbols``) δₖ is also printed in
   the article's entry form, with δₖ₊₁, aₖ and zₖ as symbols, instead of expanded
   scalar soup;
4. **the gradients** of the loss with respect to every input matrix (the same values
   :func:`refnn.grad` returns).

``explain(f, *args, dot=True)`` prints the tape as Graphviz DOT text instead (no
dependency: pipe it into ``dot -Tsvg``). ``refnn explain`` on the command line runs it on
a built-in 2→2→1 network (:func:`main`).

The backward pass here calls each op's VJP from the registry on concrete values, exactly
as :func:`refnn.grad` does, and its gradients are tested to equal ``refnn.grad``'s.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TextIO

from refnn import scalars
from refnn.errors import DomainError, RefnnError, ShapeError
from refnn.matrix import Matrix, fmt_shape
from refnn.ops import _defs as ops
from refnn.ops._core import OpSpec, apply
from refnn.ops.operators import RecordedValue
from refnn.tree import tree_flatten, tree_unflatten

__all__ = ["Explanation", "Node", "explain", "main", "record"]

#: Matrices with at most this many entries have their values printed.
SMALL = 16


class _Tape:
    """The nodes recorded so far, and the constants met (named ``c1``, ``c2``, …)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.constants: dict[int, Node] = {}

    def constant(self, x: Any) -> Node:
        node = self.constants.get(id(x))
        if node is None:
            node = Node(0, f"c{len(self.constants) + 1}", None, (), (), (), x, constant=True)
            self.constants[id(x)] = node
        return node


class _Recorded(RecordedValue):
    """A value on the explain tape: the wrapped value and the node that made it."""

    __slots__ = ("_node", "_tape")

    def __init__(self, value: Any, tape: _Tape, node: Node) -> None:
        self._value = value
        self._tape = tape
        self._node = node

    @classmethod
    def __refnn_dispatch__(
        cls, spec: OpSpec, inputs: tuple[Any, ...], params: tuple[Any, ...]
    ) -> _Recorded:
        tape = next(a._tape for a in inputs if isinstance(a, _Recorded))
        parents = tuple(a._node if isinstance(a, _Recorded) else tape.constant(a) for a in inputs)
        values = tuple(a._value if isinstance(a, _Recorded) else a for a in inputs)
        out = apply(spec, values, params)
        k = len(tape.nodes) + 1
        node = Node(k, f"v{k}", spec, values, params, parents, out)
        tape.nodes.append(node)
        return _Recorded(out, tape, node)

    def __repr__(self) -> str:
        return f"<{self._node.name} = {self._node.call()}: {fmt_shape(self.shape)}>"


@dataclass(eq=False)
class Node:
    """One entry of the tape: an input (``spec is None``) or one op call."""

    index: int
    name: str
    spec: OpSpec | None
    inputs: tuple[Any, ...]
    params: tuple[Any, ...]
    parents: tuple[Node, ...]
    value: Any
    #: an input that is not differentiated (data, or a matrix met inside ``f``)
    constant: bool = False
    #: filled by the backward pass: ∂L/∂(this node's value)
    cotangent: Any = None
    consumers: list[Node] = field(default_factory=list)

    def call(self) -> str:
        """``tanh(v3)``, ``matmul(X, W1)``, ``scale(2, v4)``: the op applied to its inputs."""
        if self.spec is None:
            return "input"
        args = [p.name for p in self.parents]
        ps = [_scalar_text(p) for p in self.params]
        if self.spec.scalar_first:
            return f"{self.spec.name}({', '.join([*ps, *args])})"
        return f"{self.spec.name}({', '.join([*args, *ps])})"


def _scalar_text(p: Any) -> str:
    return str(p) if isinstance(p, Fraction) else repr(p)


#: Entries longer than this (symbolic runs) are not printed.
WIDTH = 100


def _block(value: Any, indent: str, limit: int) -> list[str]:
    """The bracketed matrix, indented, if it is small enough to print."""
    c = ops.concrete(value)
    if not isinstance(c, Matrix):
        return []
    if c.size > limit:
        return [f"{indent}({fmt_shape(c.shape)}: {c.size} entries, not printed)"]
    if c.domain is scalars.SYMPY:
        longest = max(len(str(x)) for x in c.data)
        if longest > WIDTH:
            return [
                f"{indent}({fmt_shape(c.shape)}: formulas of up to {longest} characters, "
                f"not printed)"
            ]
    return [indent + line for line in str(c).split("\n")]


# --------------------------------------------------------------------------- names
def _leaf_paths(tree: Any, prefix: str) -> Iterator[str]:
    """Readable names of the leaves of ``tree`` in :func:`refnn.tree.tree_flatten` order."""
    if tree is None:
        return
    if isinstance(tree, tuple | list):
        for k, c in enumerate(tree):
            yield from _leaf_paths(c, f"{prefix}[{k}]")
        return
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from _leaf_paths(tree[k], f"{prefix}[{k!r}]")
        return
    yield prefix


def _arg_names(f: Callable[..., Any], n: int) -> list[str]:
    try:
        ps = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        ps = []
    names = [p.name for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[k] if k < len(names) else f"arg{k}" for k in range(n)]


# --------------------------------------------------------------------------- recording
@dataclass
class Explanation:
    """The recorded tape of one call and its backward pass (what :func:`explain` prints).

    ``inputs`` are the input nodes (one per matrix, pytree leaves named by their path),
    ``nodes`` the op nodes in forward order, ``output`` the node of the loss, ``grads`` the
    gradient with respect to each argument, in that argument's structure.
    """

    inputs: list[Node]
    nodes: list[Node]
    output: Node
    grads: tuple[Any, ...]
    backward: list[tuple[Node, tuple[Any, ...]]]
    #: the matrices met inside ``f`` that are not its arguments (named c1, c2, …)
    constants: list[Node] = field(default_factory=list)

    def text(
        self,
        limit: int = SMALL,
        sections: Sequence[str] = ("forward", "backward", "layers", "gradients"),
    ) -> str:
        """The forward pass, the backward pass, the layers and the gradients as text (or
        only the ``sections`` named)."""
        return "\n".join(_text(self, limit, sections))

    def dot(self) -> str:
        """The tape as Graphviz DOT text (forward edges; each op labelled with its rule)."""
        return _dot(self)


def _wrap_arguments(
    f: Callable[..., Any],
    args: tuple[Any, ...],
    argnums: int | Sequence[int] | None,
    tape: _Tape,
) -> tuple[list[Node], list[Any], list[Any]]:
    """The arguments as recorded values: (input nodes, wrapped arguments, the trees of the
    differentiated ones with their nodes)."""
    inputs: list[Node] = []
    wrapped: list[Any] = []
    trees = []
    chosen = (
        range(len(args))
        if argnums is None
        else ((argnums,) if isinstance(argnums, int) else tuple(argnums))
    )
    nums = [k % len(args) for k in chosen] if args else []
    for k, (name, a) in enumerate(zip(_arg_names(f, len(args)), args, strict=True)):
        leaves, treedef = tree_flatten(a)
        is_matrices = bool(leaves) and all(hasattr(ops.concrete(x), "shape") for x in leaves)
        if k not in nums and not is_matrices:
            wrapped.append(a)
            continue
        if not is_matrices:
            raise TypeError(
                f"explain differentiates matrices (or pytrees of matrices); argument {k} "
                f"({name}) is {type(a).__name__} {a!r}"
            )
        paths = [name] if treedef.kind == "leaf" else list(_leaf_paths(a, name))
        nodes = [
            Node(0, p, None, (), (), (), x, constant=k not in nums)
            for p, x in zip(paths, leaves, strict=True)
        ]
        inputs.extend(nodes)
        if k in nums:
            trees.append((treedef, nodes))
        wrapped.append(
            tree_unflatten(
                treedef, [_Recorded(x, tape, nd) for x, nd in zip(leaves, nodes, strict=True)]
            )
        )
    return inputs, wrapped, trees


def record(
    f: Callable[..., Any], *args: Any, argnums: int | Sequence[int] | None = None
) -> Explanation:
    """Run ``f(*args)`` on the explain tape and its backward pass; ``f`` returns a 1×1
    matrix (a loss). Each argument is a matrix or a pytree of matrices; those named by
    ``argnums`` (default: all) are differentiated, the others are constants (data)."""
    tape = _Tape()
    inputs, wrapped, trees = _wrap_arguments(f, args, argnums, tape)
    out = f(*wrapped)
    if not isinstance(out, _Recorded) or out._node.spec is None:
        raise ValueError("f's result does not depend on its arguments: nothing to explain")
    if out.shape != (1, 1):
        raise ShapeError(
            f"explain needs f to return a 1×1 matrix (a loss), got {fmt_shape(out.shape)}"
        )
    for node in tape.nodes:
        for p in node.parents:
            p.consumers.append(node)
    backward = _backward(out._node, tape.nodes)
    grads = tuple(
        tree_unflatten(
            treedef,
            [nd.cotangent if nd.cotangent is not None else ops.scale(0, nd.value) for nd in nodes],
        )
        for treedef, nodes in trees
    )
    return Explanation(
        inputs, tape.nodes, out._node, grads, backward, list(tape.constants.values())
    )


def _backward(out: Node, tape: list[Node]) -> list[tuple[Node, tuple[Any, ...]]]:
    one = ops.concrete(out.value)
    seed: Any = 1.0 if isinstance(one, Matrix) and one.domain is scalars.FLOAT else 1
    if isinstance(one, Matrix) and one.domain is not scalars.FLOAT:
        out.cotangent = Matrix._new(1, 1, (seed,), one.domain)
    else:
        out.cotangent = ops.add_scalar(ops.scale(0, out.value), seed)
    steps: list[tuple[Node, tuple[Any, ...]]] = []
    for node in reversed(tape[: tape.index(out) + 1]):
        g = node.cotangent
        if g is None or node.spec is None:
            continue
        spec = node.spec
        needs = tuple(not p.constant for p in node.parents)
        cts = spec.cotangents(g, node.value, node.inputs, node.params, needs)
        cts = tuple(ct if need else None for need, ct in zip(needs, cts, strict=True))
        steps.append((node, cts))
        for p, ct in zip(node.parents, cts, strict=True):
            if ct is not None:
                p.cotangent = ct if p.cotangent is None else ops.add(p.cotangent, ct)
    return steps


# --------------------------------------------------------------------------- layers
@dataclass
class _Layer:
    k: int
    matmul: Node
    a_prev: Node
    W: Node
    bias: Node | None
    z: Node
    act: Node | None  # the activation node, aₖ = f(zₖ)


def _layers(ex: Explanation) -> list[_Layer]:
    """The article's layers found on the tape: matmul by an input matrix W, an optional
    add_row of an input row b, an optional element-wise activation."""
    found: list[_Layer] = []
    for node in ex.nodes:
        if node.spec is None or node.spec.name != "matmul":
            continue
        a_prev, W = node.parents
        if W.spec is not None or W.constant:
            continue
        z, bias = node, None
        if (
            len(node.consumers) == 1
            and node.consumers[0].spec is not None
            and node.consumers[0].spec.name == "add_row"
        ):
            cand = node.consumers[0]
            b = cand.parents[1]
            if cand.parents[0] is node and b.spec is None and not b.constant:
                z, bias = cand, b
        act = None
        if len(z.consumers) == 1:
            c = z.consumers[0]
            if c.spec is not None and c.spec.name in _ACTIVATIONS and c.parents[0] is z:
                act = c
        found.append(_Layer(len(found) + 1, node, a_prev, W, bias, z, act))
    return found


#: Element-wise activations and f′ as the article writes it (zₖ, aₖ = f(zₖ)).
_ACTIVATIONS = {
    "tanh": "1 − aₖ²",
    "sigmoid": "aₖ ⊙ (1 − aₖ)",
    "relu": "step(zₖ)",
    "softplus": "σ(zₖ)",
    "sin": "cos zₖ",
}


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _layer_lines(ex: Explanation, limit: int) -> list[str]:
    layers = _layers(ex)
    if not layers:
        return []
    lines = ["", "layers (the article's form: zₖ = aₖ₋₁Wₖ + bₖ, aₖ = f(zₖ), δₖ = ∂L/∂zₖ)"]
    symbolic = _is_symbolic(ex)
    for layer in reversed(layers):
        k = _sub(layer.k)
        before = layers[layer.k - 2] if layer.k > 1 else None
        prev = (
            f"a{_sub(layer.k - 1)}"
            if before is not None and before.act is layer.a_prev
            else layer.a_prev.name
        )
        z_txt = f"z{k} = {prev}W{k}" + (f" + b{k}" if layer.bias is not None else "")
        names = f"W{k} = {layer.W.name}" + (f", b{k} = {layer.bias.name}" if layer.bias else "")
        act = layer.act
        f_txt = f", a{k} = {act.spec.name}(z{k})" if act is not None and act.spec else ""
        lines.append(f"  layer {layer.k}: {z_txt}{f_txt}   ({names}; z{k} is {layer.z.name})")
        nxt = layers[layer.k] if layer.k < len(layers) else None
        chained = (
            nxt is not None and act is not None and nxt.a_prev is act and len(act.consumers) == 1
        )
        if chained and act is not None and act.spec is not None and nxt is not None:
            kn = _sub(nxt.k)
            fprime = _ACTIVATIONS.get(act.spec.name, "f′(zₖ)").replace("ₖ", k)
            lines.append(f"    δ{k} = (δ{kn} W{kn}ᵀ) ⊙ f′(z{k}),  f′(z{k}) = {fprime}")
            lines.append(
                f"      ({act.spec.name}'s rule in the registry, {act.spec.rule}, with "
                f"g = δ{kn} W{kn}ᵀ and y = a{k})"
            )
            if symbolic:
                lines.extend(_symbolic_delta(layer, nxt, act, limit))
        elif nxt is None:
            lines.append(f"    δ{k} = ∂L/∂z{k}, from the loss")
        else:
            lines.append(f"    δ{k} = ∂L/∂z{k} (the tape between layers is not a plain chain)")
        if layer.z.cotangent is not None:
            lines.append(f"    δ{k} =")
            lines.extend(_block(layer.z.cotangent, "      ", limit))
        lines.append(
            f"    ∂L/∂W{k} = {prev}ᵀ δ{k}"
            + (f",  ∂L/∂b{k} = sum_rows(δ{k})" if layer.bias is not None else "")
        )
    return lines


def _is_symbolic(ex: Explanation) -> bool:
    c = ops.concrete(ex.output.value)
    return isinstance(c, Matrix) and c.domain is scalars.SYMPY


def _symbolic_delta(layer: _Layer, nxt: _Layer, act: Node, limit: int) -> list[str]:
    """δₖ entry by entry with δₖ₊₁, aₖ and zₖ as symbols: the article's form."""
    import sympy

    assert act.spec is not None
    k, kn = layer.k, nxt.k
    m, n = ops.concrete(act.value).shape
    _, n_next = ops.concrete(nxt.z.value).shape
    D = Matrix.symbols(f"δ{kn}", m, n_next)
    A = Matrix.symbols(f"a{k}", m, n)
    Z = Matrix.symbols(f"z{k}", m, n)
    W = ops.concrete(nxt.W.value)
    back = ops.matmul(D, ops.transpose(W))
    (delta,) = act.spec.vjp(back, A, (Z,), act.params)
    entries = [sympy.factor_terms(e) for e in ops.concrete(delta).data]
    out = [f"    δ{_sub(k)} entry by entry (δ{_sub(kn)}, a{_sub(k)}, z{_sub(k)} as symbols):"]
    shown = Matrix._new(m, n, tuple(entries), scalars.SYMPY)
    out.extend(_block(shown, "      ", limit))
    return out


# --------------------------------------------------------------------------- text
#: The parts of the text, in order.
SECTIONS = ("forward", "backward", "layers", "gradients")


def _text(ex: Explanation, limit: int, sections: Sequence[str] = SECTIONS) -> Iterator[str]:
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    parts = {
        "forward": _forward_lines,
        "backward": _backward_lines,
        "layers": _layer_lines,
        "gradients": _gradient_lines,
    }
    first = True
    for name in SECTIONS:
        if name in sections:
            lines = list(parts[name](ex, limit))
            if lines and lines[0] == "":
                lines = lines[1:]
            if lines and not first:
                yield ""
            first = first and not lines
            yield from lines


def _forward_lines(ex: Explanation, limit: int) -> Iterator[str]:
    yield "forward pass (the tape: one node per op on whole matrices)"
    for nd in [*ex.inputs, *ex.constants]:
        c = ops.concrete(nd.value)
        what = "constant" if nd.constant else "input (differentiated)"
        yield f"  {nd.name}: {what}, {fmt_shape(c.shape)}"
        yield from _block(nd.value, "      ", limit)
    for nd in ex.nodes:
        assert nd.spec is not None
        shapes = ", ".join(fmt_shape(ops.concrete(x).shape) for x in nd.inputs)
        c = ops.concrete(nd.value)
        mark = "   ← the loss L" if nd is ex.output else ""
        yield (
            f"  {nd.name} = {nd.call()}   [{nd.spec.formula}]   {shapes} → "
            f"{fmt_shape(c.shape)}{mark}"
        )
        yield from _block(nd.value, "      ", limit)


def _backward_lines(ex: Explanation, limit: int) -> Iterator[str]:
    yield (
        "backward pass (reverse order; g = ∂L/∂y reaches each node y, its rule gives the "
        "cotangents of its inputs)"
    )
    for nd, cts in ex.backward:
        assert nd.spec is not None
        yield f"  {nd.name} = {nd.call()}   rule  {nd.spec.name}: {nd.spec.rule}"
        if nd is ex.output:
            yield "      g = ∂L/∂L ="
            yield from _block(nd.cotangent, "        ", limit)
        elif len(nd.consumers) > 1:
            users = ", ".join(dict.fromkeys(c.name for c in nd.consumers))
            yield f"      g = the sum of what {users} gave it ="
            yield from _block(nd.cotangent, "        ", limit)
        for p, ct in zip(nd.parents, cts, strict=True):
            if ct is None:
                continue
            shared = "  (one of several terms, added up)" if len(p.consumers) > 1 else ""
            yield f"      → ∂L/∂{p.name} gets{shared}"
            yield from _block(ct, "        ", limit)


def _gradient_lines(ex: Explanation, limit: int) -> Iterator[str]:
    yield "gradients (what refnn.grad returns)"
    for nd in ex.inputs:
        if nd.constant:
            continue
        g = nd.cotangent if nd.cotangent is not None else ops.scale(0, nd.value)
        yield f"  ∂L/∂{nd.name} ="
        yield from _block(g, "      ", limit)


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _dot(ex: Explanation) -> str:
    lines = ["digraph refnn {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for nd in [*ex.inputs, *ex.constants]:
        shape = fmt_shape(ops.concrete(nd.value).shape)
        style = ", style=dashed" if nd.constant else ""
        lines.append(
            f'  "{_dot_escape(nd.name)}" [shape=box, label="{_dot_escape(nd.name)}'
            f'\\n{shape}"{style}];'
        )
    for nd in ex.nodes:
        assert nd.spec is not None
        shape = fmt_shape(ops.concrete(nd.value).shape)
        label = f"{nd.name} = {nd.spec.name}\\n{shape}\\nVJP: {_dot_escape(nd.spec.rule)}"
        style = ", peripheries=2" if nd is ex.output else ""
        lines.append(f'  "{nd.name}" [shape=ellipse, label="{label}"{style}];')
        for p in nd.parents:
            lines.append(f'  "{_dot_escape(p.name)}" -> "{nd.name}";')
    lines.append("}")
    return "\n".join(lines)


def explain(
    f: Callable[..., Any],
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    dot: bool = False,
    limit: int = SMALL,
    file: TextIO | None = None,
    sections: Sequence[str] = ("forward", "backward", "layers", "gradients"),
) -> Explanation:
    """Print the forward pass, the backward pass node by node (each with its registry
    rule and cotangents), the article's layer δs and the gradients of ``f(*args)``.

    ``f`` returns a 1×1 matrix (a loss); each argument is a matrix or a pytree of
    matrices. Those named by ``argnums`` (default: all) are differentiated; the others are
    data, shown as constants. Matrices of at most ``limit`` entries are printed.
    ``sections`` picks parts of the text (``"forward"``, ``"backward"``, ``"layers"``,
    ``"gradients"``). ``dot=True`` prints Graphviz DOT text instead. Returns the
    :class:`Explanation`.
    """
    ex = record(f, *args, argnums=argnums)
    text = ex.dot() if dot else ex.text(limit, sections)
    print(text, file=file if file is not None else sys.stdout)
    return ex


# --------------------------------------------------------------------------- command
def _demo(domain: str, activation: str) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The built-in demo: a 2→2→1 network on 3 samples, mean squared error."""
    X: Matrix[Any] = Matrix([[1, -2], [Fraction(1, 2), 3], [0, 1]])
    Y: Matrix[Any] = Matrix([[1], [0], [-1]])
    if domain == "sympy":
        params: tuple[Any, ...] = (
            Matrix.symbols("w", 2, 2),
            Matrix.symbols("b", 1, 2),
            Matrix.symbols("v", 2, 1),
            Matrix.symbols("c", 1, 1),
        )
    else:
        exact: list[Matrix[Any]] = [
            Matrix([[Fraction(1, 2), -1], [Fraction(1, 4), Fraction(3, 4)]]),
            Matrix([[0, Fraction(1, 10)]]),
            Matrix([[1], [-Fraction(1, 2)]]),
            Matrix([[Fraction(1, 5)]]),
        ]
        params = tuple(exact) if domain == "fraction" else tuple(p.map(float) for p in exact)
        if domain == "float":
            X, Y = X.map(float), Y.map(float)
    act = getattr(ops, activation)

    def loss(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
        a1 = act(ops.add_row(X @ W1, b1))
        out = ops.add_row(a1 @ W2, b2)
        return ops.mean(ops.square(ops.sub(out, Y)))

    return loss, (*params, X, Y)


def main(argv: Sequence[str] | None = None) -> int:
    """``refnn explain``: the forward and backward pass of a built-in 2-layer network."""
    parser = argparse.ArgumentParser(
        prog="refnn explain",
        description=(
            "Print the forward pass, the backward pass node by node (each op's VJP rule from "
            "the registry and the cotangents it produces), each layer's δ and the gradients "
            "of a built-in network: X (3×2) → add_row(X W1, b1) → activation → "
            "add_row(a1 W2, b2) → mean squared error against Y. The Python form is "
            "refnn.explain(loss, W1, b1, W2, b2, X, Y, argnums=(0, 1, 2, 3))."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--domain",
        choices=["float", "fraction", "sympy"],
        default="float",
        help="the scalar domain of the parameters: floats, exact Fractions "
        "(needs an exact activation such as relu), or SymPy symbols w_ij",
    )
    parser.add_argument(
        "--activation",
        choices=sorted(_ACTIVATIONS),
        default="tanh",
        help="the hidden layer's activation",
    )
    parser.add_argument(
        "--dot",
        action="store_true",
        help="print the tape as Graphviz DOT text (e.g. | dot -Tsvg > g.svg)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=SMALL,
        help="print the values of matrices with at most this many entries",
    )
    args = parser.parse_args(argv)
    try:
        loss, params = _demo(args.domain, args.activation)
        explain(loss, *params, argnums=(0, 1, 2, 3), dot=args.dot, limit=args.limit)
    except ModuleNotFoundError as exc:
        print(
            f"refnn explain: error: {exc.name} is needed for --domain {args.domain} "
            f'(pip install -e ".[learn]")',
            file=sys.stderr,
        )
        return 2
    except (DomainError, RefnnError) as exc:
        hint = ""
        if isinstance(exc, DomainError) and args.domain == "fraction":
            hint = " (on Fractions choose an exact activation: --activation relu)"
        print(f"refnn explain: error: {exc}{hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
