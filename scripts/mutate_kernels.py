"""Sampled mutation testing of the ``@defop`` reference kernels in ``refnn/ops/_defs.py``.

mutmut (``[tool.mutmut]`` in ``pyproject.toml``) does not mutate decorated functions, and
every op kernel is decorated with ``@defop``. This script fills that gap: it lists every
small change ("mutant") of a kernel body — an arithmetic operator swapped (``+``/``−``,
``×``/``÷``, ``**``→``×``, ``//``→``/``), a comparison flipped (``<``/``≤``, ``==``/``≠``,
``is``/``is not``, ``in``/``not in``), ``and``/``or`` swapped, a unary minus or ``not``
dropped, a number changed by one, a string garbled, ``True``/``False`` swapped — draws a
random sample of them, and for each one runs the op tests on a copy of the repository
holding that mutant. A mutant is *killed* when a test fails (or the run exceeds its time
limit); one that survives is printed with its line so a person can judge whether it is
*equivalent* (the same function, such as ``x * 1`` for ``x / 1``) or a missing test.

    python scripts/mutate_kernels.py --list                 # every mutant, numbered
    python scripts/mutate_kernels.py --sample 40 --seed 1   # run 40 of them
    python scripts/mutate_kernels.py --only 17 42           # run chosen ones

The score printed at the end is killed / run. The tests run are ``TESTS`` below (the op
meta-tests, the properties against SymPy specifications, the SymPy proofs, and the
mutation-killing tests), with ``-x`` so a killed mutant stops at its first failure.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path("refnn/ops/_defs.py")
TESTS = [
    "tests/test_ops_meta.py",
    "tests/test_ops_properties.py",
    "tests/test_mutants.py",
    "proofs/prove_ops.py",
]
COPY = ["refnn", "tests", "proofs", "conftest.py", "pyproject.toml", "README.md", "docs"]

_BINOP: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_CMPOP: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BOOLOP: dict[type, type] = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    """One change: the ``site``-th mutable spot of the file (in walk order)."""

    site: int
    kernel: str
    line: int
    change: str


def _is_kernel(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "defop"
        for d in node.decorator_list
    )


def _describe(node: ast.AST) -> str | None:
    """The change made at ``node``, or None if it is no mutation site."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
        return f"{type(node.op).__name__} → {_BINOP[type(node.op)].__name__}"
    if isinstance(node, ast.Compare) and type(node.ops[0]) in _CMPOP:
        return f"{type(node.ops[0]).__name__} → {_CMPOP[type(node.ops[0])].__name__}"
    if isinstance(node, ast.BoolOp):
        return f"{type(node.op).__name__} → {_BOOLOP[type(node.op)].__name__}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        return f"drop {type(node.op).__name__}"
    if isinstance(node, ast.Constant) and not isinstance(node.value, type(None)):
        v = node.value
        if isinstance(v, bool):
            return f"{v} → {not v}"
        if isinstance(v, (int, float)):
            return f"{v!r} → {v + 1!r}"
        if isinstance(v, str) and node.col_offset >= 0:
            return f"{v!r} → 'XX{v}XX'"
    return None


def _sites(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef, ast.AST]]:
    for fn in tree.body:
        if not _is_kernel(fn):
            continue
        assert isinstance(fn, ast.FunctionDef)
        body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
        for stmt in body:
            for node in ast.walk(stmt):
                if _describe(node) is not None:
                    yield fn, node


def list_mutants(source: str) -> list[Mutant]:
    """Every mutant of the kernels in ``source``, numbered from 0."""
    return [
        Mutant(k, fn.name, getattr(node, "lineno", fn.lineno), _describe(node) or "")
        for k, (fn, node) in enumerate(_sites(ast.parse(source)))
    ]


def mutate(source: str, site: int) -> str:
    """``source`` with the ``site``-th change made (re-emitted by :func:`ast.unparse`)."""
    tree = ast.parse(source)
    for k, (_, node) in enumerate(_sites(tree)):
        if k != site:
            continue
        if isinstance(node, ast.BinOp):
            node.op = _BINOP[type(node.op)]()
        elif isinstance(node, ast.Compare):
            node.ops[0] = _CMPOP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = _BOOLOP[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):  # `-x` → `+x` (`not x` is _drop_not's)
            node.op = ast.UAdd()
        elif isinstance(node, ast.Constant):
            v = node.value
            node.value = (
                (not v)
                if isinstance(v, bool)
                else (v + 1 if isinstance(v, (int, float)) else f"XX{v}XX")
            )
        return ast.unparse(tree)
    raise IndexError(f"no mutation site {site}")


def _drop_not(source: str, site: int) -> str:
    """``not x`` → ``x`` (a Not site is replaced by its operand, not by ``+x``)."""
    tree = ast.parse(source)

    class Drop(ast.NodeTransformer):
        def __init__(self, target: ast.AST) -> None:
            self.target = target

        def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
            self.generic_visit(node)
            return node.operand if node is self.target else node

    for k, (_, node) in enumerate(_sites(tree)):
        if k == site:
            return ast.unparse(Drop(node).visit(tree))
    raise IndexError(f"no mutation site {site}")


def mutant_source(source: str, m: Mutant) -> str:
    """The whole file with mutant ``m`` applied."""
    return _drop_not(source, m.site) if m.change == "drop Not" else mutate(source, m.site)


def run_tests(workdir: Path, timeout: float) -> tuple[str, float]:
    """``("passed" | "failed" | "timeout", seconds)`` for the op tests in ``workdir``."""
    env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *TESTS]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    return ("passed" if done.returncode == 0 else "failed"), time.perf_counter() - t0


def _copy_repo(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--sample", type=int, default=30, help="how many mutants to run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample")
    parser.add_argument("--only", type=int, nargs="*", help="run these mutant numbers")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    args = parser.parse_args(argv)

    source = (ROOT / TARGET).read_text(encoding="utf-8")
    mutants = list_mutants(source)
    if args.list:
        for m in mutants:
            print(f"{m.site:4d}  {m.kernel:18s} line {m.line:4d}  {m.change}")
        print(f"{len(mutants)} mutants in the @defop kernels of {TARGET}")
        return 0
    chosen = (
        [mutants[k] for k in args.only]
        if args.only
        else sorted(
            random.Random(args.seed).sample(mutants, min(args.sample, len(mutants))),
            key=lambda m: m.site,
        )
    )
    with tempfile.TemporaryDirectory(prefix="refnn-mutants-") as tmp:
        work = Path(tmp)
        _copy_repo(work)
        target = work / TARGET
        target.write_text(ast.unparse(ast.parse(source)), encoding="utf-8")
        status, secs = run_tests(work, args.timeout)
        if status != "passed":
            print(f"the unmutated kernels fail the tests ({status}); nothing to measure")
            return 2
        print(f"baseline: the tests pass on the unmutated kernels ({secs:.0f} s)")
        killed, survivors = 0, []
        for m in chosen:
            target.write_text(mutant_source(source, m), encoding="utf-8")
            status, secs = run_tests(work, args.timeout)
            verdict = "survived" if status == "passed" else f"killed ({status})"
            killed += status != "passed"
            if status == "passed":
                survivors.append(m)
            print(
                f"{m.site:4d}  {m.kernel:18s} line {m.line:4d}  {m.change:28s} {verdict}"
                f"  {secs:.0f} s",
                flush=True,
            )
        target.write_text(source, encoding="utf-8")
    print(
        f"score: {killed}/{len(chosen)} killed ({100 * killed / len(chosen):.1f}%) "
        f"of a sample of {len(chosen)} from {len(mutants)} kernel mutants (seed {args.seed})"
    )
    for m in survivors:
        print(f"survivor: {m.kernel} line {m.line}: {m.change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
