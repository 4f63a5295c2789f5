"""Saving and loading parameter trees as JSON, exactly, atomically, without pickle.

File format (``"format": "refnn.nn.params"``, ``"version": 1``)::

    {"format": "refnn.nn.params", "version": 1,
     "params": NODE}

    NODE = {"type": "matrix", "shape": [m, n], "hex": [...], "values": [...]}
         | {"type": "tuple", "items": [NODE, ...]}
         | {"type": "list",  "items": [NODE, ...]}
         | {"type": "dict",  "items": {"key": NODE, ...}}
         | {"type": "none"}

Each matrix's ``m·n`` entries are stored row-major twice: ``hex`` (``float.hex``, the
exact bits; this is what is read back) and ``values`` (the shortest round-tripping
decimal ``repr`` as a JSON number, or the string ``"nan"``, ``"inf"``, ``"-inf"``), for
people and other tools. On load both must agree bit for bit (NaN payloads aside), so a
hand-edited or damaged file is caught. Entries must be floats (``int`` entries are saved as
the equal float when that is exact); Fraction or SymPy entries are refused with a
``TypeError``. Named tuples are saved as tuples; loading with ``like=`` (a tree of the
expected structure) gives them back as ``like``'s named tuples.

Every problem in a file — not JSON, wrong format or version, a malformed node, a shape
that does not match the entries, a structure or shape different from the ``like`` tree —
raises :class:`ParamsFormatError` saying where. Writes go to a temporary file in the same
directory, flushed and ``fsync``-ed, then :func:`os.replace`-d over the target: a reader
sees the old file or the complete new one, and a failed save leaves no partial file.

**Strict JSON.** A file is read as UTF-8 JSON as RFC 8259 defines it: the non-standard
literals ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's ``json`` accepts by
default) are refused with :class:`ParamsFormatError`. :func:`save_params` never writes
them — a non-finite entry is stored exactly in ``hex`` and as the *string* ``"nan"``,
``"inf"`` or ``"-inf"`` in ``values`` — so accepting them would only let a hand-edited
file through that other JSON readers reject. Bytes that are not UTF-8, a number too long
for Python to parse (more than 4300 digits), nesting too deep to parse and a path that is
not a regular file (a FIFO, a device) are :class:`ParamsFormatError`\\ s too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from refnn import ops
from refnn.atomic import NotARegularFile, atomic_write_text, read_regular_file
from refnn.errors import RefnnError
from refnn.matrix import Matrix, fmt_shape
from refnn.tree import TreeDef, tree_flatten, tree_unflatten

__all__ = [
    "FORMAT",
    "VERSION",
    "ParamsFormatError",
    "decode_tree",
    "encode_tree",
    "load_params",
    "params_json",
    "save_params",
    "strict_json",
]

FORMAT = "refnn.nn.params"
VERSION = 1

_NONFINITE = {"nan", "inf", "-inf"}


class ParamsFormatError(RefnnError, ValueError):
    """A parameter file is malformed, of an unknown format or version, or does not match the
    expected structure and shapes; the message says where."""


# ----------------------------------------------------------------------- saving
def _entry(x: Any, where: str) -> float:
    if type(x) is float:
        return x
    if type(x) is int:
        f = float(x)
        if int(f) != x:
            raise TypeError(f"{where}: the int entry {x} has no exact float form")
        return f
    raise TypeError(
        f"{where}: only float parameters can be saved, got an entry of type {type(x).__name__} "
        f"(convert with A.map(float))"
    )


def _number(x: float) -> Any:
    return x if math.isfinite(x) else repr(x)


def _encode(tree: Any, where: str) -> dict[str, Any]:
    """The JSON node of ``tree``: its structure comes from :func:`refnn.tree.tree_flatten`
    (the one place that takes containers apart), the leaves from :func:`_encode_leaf`."""
    leaves, treedef = tree_flatten(tree)
    return _encode_def(treedef, iter(leaves), where)


def _encode_def(td: TreeDef, leaves: Iterator[Any], where: str) -> dict[str, Any]:
    if td.kind == "leaf":
        return _encode_leaf(next(leaves), where)
    if td.kind == "none":
        return {"type": "none"}
    if td.kind == "dict":
        items = {
            k: _encode_def(c, leaves, f"{where}[{k!r}]")
            for k, c in zip(td.keys, td.children, strict=True)
        }
        return {"type": "dict", "items": items}
    kind = "list" if td.kind == "list" else "tuple"  # a named tuple is saved as a tuple
    return {
        "type": kind,
        "items": [_encode_def(c, leaves, f"{where}[{k}]") for k, c in enumerate(td.children)],
    }


def _encode_leaf(leaf: Any, where: str) -> dict[str, Any]:
    leaf = ops.concrete(leaf)
    if not isinstance(leaf, Matrix):
        raise TypeError(
            f"{where}: parameter leaves must be reference Matrices to be saved, got "
            f"{type(leaf).__name__}"
        )
    entries = [_entry(x, where) for x in leaf.data]
    return {
        "type": "matrix",
        "shape": list(leaf.shape),
        "hex": [x.hex() for x in entries],
        "values": [_number(x) for x in entries],
    }


def params_json(params: Any) -> str:
    """The text :func:`save_params` writes for ``params`` (to write it yourself, e.g. as
    part of a set of files). Unsupported leaves or entries raise ``TypeError``."""
    doc = {"format": FORMAT, "version": VERSION, "params": _encode(params, "params")}
    return json.dumps(doc, allow_nan=False, indent=1) + "\n"


def save_params(path: str | os.PathLike[str], params: Any) -> None:
    """Write the parameter tree ``params`` to ``path`` as JSON (exact; atomic; see the
    module docstring for the format). Unsupported leaves or entries raise ``TypeError``
    before anything is written."""
    atomic_write_text(Path(path), params_json(params))


# ----------------------------------------------------------------------- loading
def _fail(where: str, why: str) -> ParamsFormatError:
    return ParamsFormatError(f"{where}: {why}")


def _decode_matrix(node: dict[str, Any], where: str) -> Matrix[float]:
    shape = node.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(type(s) is int and s >= 1 for s in shape)
    ):
        raise _fail(where, f"'shape' must be [m, n] with positive ints, got {shape!r}")
    m, n = shape
    hexes, values = node.get("hex"), node.get("values")
    if not isinstance(hexes, list) or not isinstance(values, list):
        raise _fail(where, "a matrix needs the lists 'hex' and 'values'")
    if len(hexes) != m * n or len(values) != m * n:
        raise _fail(
            where,
            f"the shape {m}×{n} needs {m * n} entries, got {len(hexes)} hex and "
            f"{len(values)} values",
        )
    data: list[float] = []
    for k, (h, v) in enumerate(zip(hexes, values, strict=True), start=1):
        if not isinstance(h, str):
            raise _fail(where, f"hex entry {k} is not a string: {h!r}")
        try:
            x = float.fromhex(h)
        except (ValueError, OverflowError):
            raise _fail(where, f"hex entry {k} is not a float in hex form: {h!r}") from None
        if isinstance(v, bool) or not (
            isinstance(v, (int, float)) or (isinstance(v, str) and v in _NONFINITE)
        ):
            raise _fail(where, f"value entry {k} is not a number: {v!r}")
        try:
            same = float(v).hex() == x.hex()
        except OverflowError:
            same = False
        if not same:
            raise _fail(where, f"entry {k} disagrees: hex {h} but value {v!r}")
        data.append(x)
    return Matrix.from_flat(m, n, data)


def _decode(node: Any, where: str) -> Any:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise _fail(where, "expected a node {'type': ..., ...}")
    kind = node["type"]
    if kind == "none":
        return None
    if kind == "matrix":
        return _decode_matrix(node, where)
    items = node.get("items")
    if kind in ("tuple", "list"):
        if not isinstance(items, list):
            raise _fail(where, f"a {kind} node needs a list 'items'")
        children = [_decode(c, f"{where}[{k}]") for k, c in enumerate(items)]
        return tuple(children) if kind == "tuple" else children
    if kind == "dict":
        if not isinstance(items, dict):
            raise _fail(where, "a dict node needs an object 'items'")
        return {k: _decode(c, f"{where}[{k!r}]") for k, c in sorted(items.items())}
    raise _fail(where, f"unknown node type {kind!r}")


def _decode_all(node: Any) -> Any:
    try:
        return _decode(node, "params")
    except RecursionError:  # nesting the JSON parser accepted, deeper than the stack
        raise ParamsFormatError("params: nested too deeply to decode") from None


def _match_like(got: Any, want: Any, where: str) -> Any:
    """``got`` (a decoded tree) checked against ``want``'s structure and shapes, and rebuilt
    with ``want``'s container types (so a named tuple comes back as that named tuple)."""
    got_leaves, got_def = tree_flatten(got)
    want_leaves, want_def = tree_flatten(want)
    pairs = iter(zip(got_leaves, want_leaves, strict=False))
    _match_defs(got_def, want_def, pairs, where)
    return tree_unflatten(want_def, got_leaves)


_NAMES = {
    "none": "None",
    "leaf": "a matrix",
    "tuple": "a tuple",
    "namedtuple": "a tuple",
    "list": "a list",
    "dict": "a dict",
}


def _match_defs(got: TreeDef, want: TreeDef, pairs: Iterator[tuple[Any, Any]], where: str) -> None:
    """Walk two structures side by side; at each leaf compare the matrix shapes."""
    seq = ("tuple", "namedtuple")
    if got.kind != want.kind and not (got.kind in seq and want.kind in seq):
        raise _fail(where, f"expected {_NAMES[want.kind]}, the file has {_NAMES[got.kind]}")
    if want.kind == "leaf":
        g, w = next(pairs)
        if not isinstance(g, Matrix):  # pragma: no cover (decoded leaves are matrices)
            raise _fail(where, f"expected a matrix, the file has {_kind(g)}")
        w_shape = tuple(w.shape)
        if g.shape != w_shape:
            raise _fail(
                where,
                f"expected a {fmt_shape((int(w_shape[0]), int(w_shape[1])))} matrix, the file "
                f"has {fmt_shape(g.shape)}",
            )
        return
    if want.kind == "dict":
        if got.keys != want.keys:
            raise _fail(
                where, f"expected the keys {list(want.keys)}, the file has {list(got.keys)}"
            )
        for key, gc, wc in zip(want.keys, got.children, want.children, strict=True):
            _match_defs(gc, wc, pairs, f"{where}[{key!r}]")
        return
    if len(got.children) != len(want.children):
        raise _fail(where, f"expected {len(want.children)} items, the file has {len(got.children)}")
    for k, (gc, wc) in enumerate(zip(got.children, want.children, strict=True)):
        _match_defs(gc, wc, pairs, f"{where}[{k}]")


def _kind(x: Any) -> str:
    if x is None:
        return "None"
    if isinstance(x, (tuple, list, dict)):
        return f"a {type(x).__name__}"
    return "a matrix"


def load_params(path: str | os.PathLike[str], like: Any = None) -> Any:
    """The parameter tree saved in ``path`` by :func:`save_params` (floats bit-exact).

    With ``like`` (e.g. ``model.init(rng)``), the file's structure and every matrix shape
    must match it, and the result takes ``like``'s container types (named tuples included).
    Any problem with the file raises :class:`ParamsFormatError` (strict JSON: see the module
    docstring); an ``OSError`` other than a non-regular file (e.g. a missing file)
    propagates unchanged.
    """
    try:
        doc = strict_json(read_regular_file(path, "parameter file"))
    except NotARegularFile as exc:
        raise ParamsFormatError(str(exc)) from None
    except ValueError as exc:
        raise ParamsFormatError(f"{os.fspath(path)}: not a JSON parameter file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ParamsFormatError(
            f'{os.fspath(path)}: not a refnn parameter file (expected "format": {FORMAT!r})'
        )
    version = doc.get("version")
    if version != VERSION:
        raise ParamsFormatError(
            f"{os.fspath(path)}: format version {version!r} is not supported (this refnn "
            f"reads version {VERSION})"
        )
    if "params" not in doc:
        raise ParamsFormatError(f"{os.fspath(path)}: no 'params' entry")
    params = _decode_all(doc["params"])
    return params if like is None else _match_like(params, like, "params")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259); write non-finite values as strings")


def strict_json(data: bytes | str) -> Any:
    """``data`` parsed as strict JSON: UTF-8, no ``NaN``/``Infinity`` literals. Every
    failure — bad UTF-8, bad syntax, a non-standard literal, a number too long to parse,
    nesting too deep — is a ``ValueError`` with a one-line message."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte {exc.start} is {data[exc.start : exc.start + 1]!r})"
        ) from None
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
    except ValueError as exc:  # JSONDecodeError, a too-long number
        raise ValueError(str(exc).splitlines()[0]) from None


def encode_tree(tree: Any) -> dict[str, Any]:
    """The JSON-ready form of a parameter tree, exactly as ``save_params`` stores it under
    ``"params"`` (for embedding parameters in other files, such as checkpoints)."""
    return _encode(tree, "params")


def decode_tree(node: Any, like: Any = None) -> Any:
    """Inverse of :func:`encode_tree` (floats bit-exact); with ``like``, structure and shapes
    must match it and named tuples come back as ``like``'s. Problems raise
    :class:`ParamsFormatError`."""
    tree = _decode_all(node)
    return tree if like is None else _match_like(tree, like, "params")
