"""Pytrees of parameters (see :mod:`refnn.tree`, where they live so that
:func:`refnn.grad` can differentiate with respect to a whole tree; this module re-exports
them for ``refnn.nn`` users)."""

from refnn.tree import (
    PyTree,
    TreeDef,
    n_params,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

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
