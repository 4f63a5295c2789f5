"""Build refnn's API reference from its docstrings with pdoc, and fail on broken references.

    python scripts/build_api_docs.py --out build/api

documents every public module of ``refnn`` (no ``_private`` part) as HTML in ``--out``.
Modules whose optional dependency is not installed (``refnn.backends.torch`` without
PyTorch, ``refnn.backends.jax`` without JAX) are skipped, saying so. It exits with status 1,
listing each problem, if pdoc warns (a module that does not import, an annotation it cannot
read) or if a docstring's cross-reference (``:func:`refnn.grad```, ``:class:`~refnn.Matrix```,
``:mod:`refnn.nn.tree```, a relative ``:func:`apply```) names nothing that exists.
``tests/test_api_docs.py`` runs it, so ``pytest`` holds the reference to the code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

#: A Sphinx-style cross-reference: :func:`name`, :class:`~refnn.Matrix`, ...
ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj):`~?([A-Za-z_][\w.]*)(?:\(\))?`")

#: Optional dependency of each module that may be skipped when it is missing.
OPTIONAL = {"refnn.backends.torch": "torch", "refnn.backends.jax": "jax"}


def public_modules() -> tuple[list[str], list[str]]:
    """(modules to document, notes on the ones skipped)."""
    import refnn

    names = ["refnn"] + [
        m.name
        for m in pkgutil.walk_packages(refnn.__path__, "refnn.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]
    skipped = []
    for name, dep in OPTIONAL.items():
        if name in names and importlib.util.find_spec(dep) is None:
            names.remove(name)
            skipped.append(f"skipped {name}: {dep} is not installed")
    return names, skipped


def _resolve_dotted(target: str) -> bool:
    """Whether ``target`` is ``module[.attr...]`` for an importable module."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        try:
            for attr in parts[k:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def _lazy_export_resolves(message: str) -> bool:
    """pdoc cannot see names a package exports lazily (a module ``__getattr__``, as
    ``refnn.conformance`` and ``refnn.testing`` do); such a warning is no problem if the
    name does resolve at run time."""
    m = re.match(r"Found '(\w+)' in ([\w.]+)\.__all__, but it does not resolve", message)
    return m is not None and _resolve_dotted(f"{m[2]}.{m[1]}")


def _resolve_in(scope: Any, target: str) -> bool:
    obj = scope
    try:
        for attr in target.split("."):
            obj = getattr(obj, attr)
    except AttributeError:
        return False
    return True


def resolves(target: str, module: ModuleType, owner: Any) -> bool:
    """Whether a reference written in ``module`` (inside the class ``owner``, if any)
    names something: absolutely, relative to the class, the module or its package."""
    if _resolve_dotted(target):
        return True
    import builtins

    scopes: list[Any] = [owner, module, builtins]
    package = module.__name__.rpartition(".")[0]
    while package:
        scopes.append(importlib.import_module(package))
        package = package.rpartition(".")[0]
    return any(s is not None and _resolve_in(s, target) for s in scopes)


def _docstrings(module: ModuleType) -> Iterator[tuple[str, Any, str]]:
    """(where, owning class or None, docstring) for the module and what it defines."""
    yield module.__name__, None, module.__doc__ or ""
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__ or name.startswith("__"):
            continue
        owner = obj if inspect.isclass(obj) else None
        yield f"{module.__name__}.{name}", owner, inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for mname, member in vars(obj).items():
                if mname.startswith("__") and mname != "__init__":
                    continue
                doc = (
                    inspect.getdoc(member) if not isinstance(member, property) else (member.__doc__)
                )
                if doc and doc != inspect.getdoc(object):
                    here = member if inspect.isclass(member) else obj
                    yield f"{module.__name__}.{name}.{mname}", here, doc


def broken_references(modules: list[str]) -> list[str]:
    """Every cross-reference in the modules' docstrings that names nothing."""
    problems = []
    for name in modules:
        module = importlib.import_module(name)
        for where, owner, doc in _docstrings(module):
            for target in ROLE.findall(doc):
                if not resolves(target, module, owner):
                    problems.append(f"{where}: the reference `{target}` names nothing")
    return problems


def build(out: Path) -> list[str]:
    """Write the HTML reference into ``out``; return every problem found (empty: fine)."""
    import pdoc
    import pdoc.render

    modules, skipped = public_modules()
    for note in skipped:
        print(note, file=sys.stderr)
    pdoc.render.configure(docformat="restructuredtext", search=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=out)
    problems = [
        f"pdoc: {w.message}"
        for w in caught
        if "has already been added" not in str(w.message)  # a submodule also in __all__
        and not _lazy_export_resolves(str(w.message))
    ]
    problems += broken_references(modules)
    missing = [m for m in modules if not (out / (m.replace(".", "/") + ".html")).is_file()]
    problems += [f"pdoc wrote no page for {m}" for m in missing]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/api"), help="output folder")
    args = parser.parse_args(argv)
    problems = build(args.out)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"API reference: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"API reference written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
