"""Pytrees of parameters: nested tuples, lists and dicts whose leaves are matrices.

This module sits below :mod:`refnn.autodiff` (which differentiates with respect to whole
trees, as JAX does) and is re-exported as :mod:`refnn.nn.tree`.

A model's parameters are one *pytree*: ``Dense.init`` returns ``{"W": W, "b": b}``,
``Sequential.init`` the tuple of its layers' trees, a parameter-free layer the empty tuple
``()``. Containers are:

* ``tuple`` (including named tuples, rebuilt with their own type) and ``list``;
* ``dict`` with ``str`` keys, visited in **sorted key order** (so the order of leaves, and
  hence of gradients and of saved files, never depends on how a dict was built);
* ``None``, an empty subtree (no leaves).

Everything else is a leaf: a :class:`~refnn.Matrix`, an autodiff tracer, or a backend's
array. :func:`tree_flatten` returns the leaves in a fixed depth-first order plus a
:class:`TreeDef` that :func:`tree_unflatten` uses to rebuild the same structure around new
leaves. Functions here never look inside a leaf except :func:`n_params`, which reads
``.shape`` of the concrete value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from refnn.ops import concrete

__all__ = [
    "PyTree",
    "TreeDef",
    "n_params",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]

#: A nested structure of tuples, lists and dicts (str keys) with matrix leaves.
PyTree = Any

_LEAF = "leaf"
_NONE = "none"
_TUPLE = "tuple"
_NAMEDTUPLE = "namedtuple"
_LIST = "list"
_DICT = "dict"


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree without its leaves (hashable, comparable with ``==``).

    ``kind`` is one of ``"leaf"``, ``"none"``, ``"tuple"``, ``"namedtuple"``, ``"list"``,
    ``"dict"``; ``keys`` are a dict's sorted keys; ``children`` the subtrees' definitions;
    ``node_type`` the named-tuple class (``None`` otherwise).
    """

    kind: str
    children: tuple[TreeDef, ...] = ()
    keys: tuple[str, ...] = ()
    node_type: type | None = None

    @functools.cached_property
    def num_leaves(self) -> int:
        """How many leaves a tree of this structure has."""
        if self.kind == _LEAF:
            return 1
        return sum(c.num_leaves for c in self.children)

    def __str__(self) -> str:
        if self.kind == _LEAF:
            return "*"
        if self.kind == _NONE:
            return "None"
        if self.kind == _DICT:
            inner = ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, self.children, strict=True))
            return "{" + inner + "}"
        inner = ", ".join(str(c) for c in self.children)
        if self.kind == _LIST:
            return f"[{inner}]"
        if self.kind == _NAMEDTUPLE and self.node_type is not None:
            return f"{self.node_type.__name__}({inner})"
        return f"({inner}{',' if len(self.children) == 1 else ''})"


def _is_namedtuple(x: object) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


_LEAF_DEF = TreeDef(_LEAF)
_NONE_DEF = TreeDef(_NONE)
#: Every structure :func:`tree_flatten` has built, by its kind, its children (by identity:
#: they are interned too, and kept alive by their parent here), keys and named-tuple type.
#: A training step flattens trees of the same few structures again and again; handing back
#: the same ``TreeDef`` saves building it, and makes ``==`` between two of them immediate.
_interned: dict[tuple[Any, ...], TreeDef] = {}
#: Past this many structures the table starts afresh (a program that makes ever new ones).
_INTERN_LIMIT = 10_000


def _treedef(
    kind: str, children: tuple[TreeDef, ...], keys: tuple[str, ...] = (), node_type: Any = None
) -> TreeDef:
    key = (kind, tuple(map(id, children)), keys, node_type)
    found = _interned.get(key)
    if found is None:
        if len(_interned) >= _INTERN_LIMIT:
            _interned.clear()
        found = _interned[key] = TreeDef(kind, children, keys, node_type)
    return found


def _flatten(tree: PyTree, leaves: list[Any]) -> TreeDef:
    if tree is None:
        return _NONE_DEF
    if isinstance(tree, tuple):
        children = tuple([_flatten(c, leaves) for c in tree])
        if _is_namedtuple(tree):
            return _treedef(_NAMEDTUPLE, children, node_type=type(tree))
        return _treedef(_TUPLE, children)
    if isinstance(tree, list):
        return _treedef(_LIST, tuple([_flatten(c, leaves) for c in tree]))
    if isinstance(tree, dict):
        for k in tree:
            if type(k) is not str and not isinstance(k, str):
                raise TypeError(
                    f"pytree dict keys must be str (they are sorted and saved as JSON); "
                    f"got the key {k!r} of type {type(k).__name__}"
                )
        keys = tuple(sorted(tree))
        return _treedef(_DICT, tuple([_flatten(tree[k], leaves) for k in keys]), keys)
    leaves.append(tree)
    return _LEAF_DEF


def tree_flatten(tree: PyTree) -> tuple[list[Any], TreeDef]:
    """``(leaves, treedef)``: the leaves in depth-first order (dicts by sorted key)."""
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def tree_leaves(tree: PyTree) -> list[Any]:
    """The leaves of ``tree`` in the order of :func:`tree_flatten`."""
    return tree_flatten(tree)[0]


def tree_structure(tree: PyTree) -> TreeDef:
    """The :class:`TreeDef` of ``tree``."""
    return tree_flatten(tree)[1]


def _build(treedef: TreeDef, it: Any) -> PyTree:
    if treedef is _LEAF_DEF:
        return next(it)
    kind = treedef.kind
    if kind == _LEAF:
        return next(it)
    if kind == _NONE:
        return None
    children = [_build(c, it) for c in treedef.children]
    if kind == _TUPLE:
        return tuple(children)
    if kind == _NAMEDTUPLE:
        assert treedef.node_type is not None
        return treedef.node_type(*children)
    if kind == _LIST:
        return children
    return dict(zip(treedef.keys, children, strict=True))


def tree_unflatten(treedef: TreeDef, leaves: Sequence[Any]) -> PyTree:
    """The tree of structure ``treedef`` holding ``leaves`` (in :func:`tree_flatten` order)."""
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"the structure {treedef} has {treedef.num_leaves} leaves, got {len(leaves)}"
        )
    return _build(treedef, iter(leaves))


def tree_map(f: Callable[..., Any], tree: PyTree, *rest: PyTree) -> PyTree:
    """``f`` applied leaf by leaf: ``tree_map(f, a, b)`` calls ``f(leaf_a, leaf_b)``.

    All trees must share ``tree``'s structure (``ValueError`` naming both otherwise).
    """
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map needs trees of one structure: {treedef} and {r_def}")
        others.append(r_leaves)
    return _build(treedef, iter([f(*xs) for xs in zip(leaves, *others, strict=True)]))


def n_params(tree: PyTree) -> int:
    """The total number of scalar entries in the leaves of ``tree``."""
    total = 0
    for leaf in tree_leaves(tree):
        m, n = concrete(leaf).shape
        total += m * n
    return total
