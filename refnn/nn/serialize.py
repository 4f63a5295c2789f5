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
from pathlib import Path
from typing import Any

from refnn import ops
from refnn.atomic import NotARegularFile, atomic_write_text, read_regular_file
from refnn.errors import RefnnError
from refnn.matrix import Matrix, fmt_shape

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
    if tree is None:
        return {"type": "none"}
    if isinstance(tree, tuple):
        return {"type": "tuple", "items": [_encode(c, f"{where}[{k}]") for k, c in enumerate(tree)]}
    if isinstance(tree, list):
        return {"type": "list", "items": [_encode(c, f"{where}[{k}]") for k, c in enumerate(tree)]}
    if isinstance(tree, dict):
        items: dict[str, Any] = {}
        for key in sorted(tree, key=str):
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict keys must be str to be saved, got {key!r}")
            items[key] = _encode(tree[key], f"{where}[{key!r}]")
        return {"type": "dict", "items": items}
    leaf = ops.concrete(tree)
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
    if want is None or got is None:
        if want is not got:
            raise _fail(where, f"expected {_kind(want)}, the file has {_kind(got)}")
        return got
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or isinstance(got, tuple) != isinstance(want, tuple):
            raise _fail(where, f"expected {_kind(want)}, the file has {_kind(got)}")
        if len(got) != len(want):
            raise _fail(where, f"expected {len(want)} items, the file has {len(got)}")
        items = [
            _match_like(g, w, f"{where}[{k}]")
            for k, (g, w) in enumerate(zip(got, want, strict=True))
        ]
        if isinstance(want, list):
            return items
        return type(want)(*items) if hasattr(type(want), "_fields") else tuple(items)
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise _fail(where, f"expected a dict, the file has {_kind(got)}")
        if sorted(got) != sorted(want):
            raise _fail(where, f"expected the keys {sorted(want)}, the file has {sorted(got)}")
        return {k: _match_like(got[k], want[k], f"{where}[{k!r}]") for k in sorted(want)}
    if not isinstance(got, Matrix):
        raise _fail(where, f"expected a matrix, the file has {_kind(got)}")
    w_shape = tuple(want.shape)
    if got.shape != w_shape:
        raise _fail(
            where,
            f"expected a {fmt_shape((int(w_shape[0]), int(w_shape[1])))} matrix, the file "
            f"has {fmt_shape(got.shape)}",
        )
    return got


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
