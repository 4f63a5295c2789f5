"""The ``conform``, ``accuracy`` and ``vectors`` commands (wired into ``refnn`` by
:mod:`refnn.cli`, and runnable as ``python -m refnn.conformance conform …``).

``refnn conform BACKEND [options]`` prints the per-op table and exits 0 when every op passes
(known deviations included), 1 when an op fails, 2 on bad usage (one line on stderr).

``refnn accuracy BACKEND... [--markdown FILE] [--json FILE]`` prints each op's worst
observed forward and VJP error per backend, and the tightness of the stated bounds.

``refnn vectors export DIR [--seed S] [--cases K]`` writes one JSON file of golden vectors
per registry op into DIR (the format is ``docs/vectors.md``).

A ``package.module:object`` backend is imported with the current directory on the import
path (as ``python -m`` has it). Nothing is written except the files asked for.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["accuracy_main", "conform_main", "main", "vectors_main"]

_BACKEND_HELP = (
    "numpy, torch, jax, reference, or package.module:object (an object or "
    "zero-argument factory with name, array_type, kernels, from_matrix and "
    "to_matrix: docs/backends.md)"
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _fail(prog: str, err: BaseException | str) -> int:
    text = str(err).replace("\n", " ")
    print(f"{prog}: error: {text}", file=sys.stderr)
    return 2


def _import_path() -> None:
    # `refnn conform mymod:backend` finds ./mymod.py, as `python -m` would
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _ops(text: str | None) -> list[str] | None:
    return [o.strip() for o in text.split(",") if o.strip()] if text else None


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _writable(path: str | None) -> str | None:
    """Refuse an output file whose folder does not exist, before any work."""
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise OSError(f"cannot write {path!r}: the folder {folder!r} is not writable")
    return path


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--subnormals",
        choices=("strict", "flush"),
        default="strict",
        help="strict: subnormal numbers are numbers like any other; flush: "
        "model flush-to-zero hardware (XLA on CPU): subnormal inputs and "
        "results count as zero (default: strict)",
    )
    p.add_argument(
        "--signed-zero",
        choices=("strict", "ignore"),
        default="strict",
        help="strict: a zero of the wrong IEEE sign is a finding where IEEE 754 "
        "fixes it; ignore: -0 == +0 (default: strict)",
    )


def _conform_parser(prog: str = "refnn conform") -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Hold a backend against the reference, op by op and gradient by "
        "gradient: every example runs, and each op reports its worst error in "
        "ulps (with the input), the share of entries outside the bound and the "
        "simplest failing input. Exit 0 when every op passes or deviates only "
        "as declared with --expect, 1 when one fails, 2 on bad usage.",
    )
    p.add_argument("backend", help=_BACKEND_HELP)
    p.add_argument(
        "--ops",
        default=None,
        metavar="A,B",
        help="comma-separated op names (default: every registry op)",
    )
    p.add_argument(
        "--examples",
        type=_positive,
        default=10,
        metavar="N",
        help="examples per op, all run (default: 10)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the examples: the same in the CLI, the pytest plugin and "
        "conform() (default: 0)",
    )
    p.add_argument("--report", default=None, metavar="FILE", help="also write the report as JSON")
    p.add_argument(
        "--expect",
        default=None,
        metavar="FILE",
        help="known deviations (TOML or JSON: op → forward_ulps, vjp_ulps, "
        "reason); an op within its declaration passes as known",
    )
    p.add_argument(
        "--no-stress",
        action="store_true",
        help="draw only from each op's test domain (no large magnitudes)",
    )
    p.add_argument(
        "--no-special",
        action="store_true",
        help="skip the special-value class (±0, ±inf, NaN inputs)",
    )
    _policy_options(p)
    return p


def conform_main(argv: Sequence[str]) -> int:
    """``refnn conform``: returns the exit code."""
    prog = "refnn conform"
    try:
        args = _conform_parser(prog).parse_args(list(argv))
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return int(exit_.code or 0)
    _import_path()
    from refnn.backends import load
    from refnn.conformance._harness import conform
    from refnn.conformance.expect import load_expectations
    from refnn.conformance.policy import Policy
    from refnn.errors import RefnnError

    try:
        report_path = _writable(args.report)
        expect = load_expectations(args.expect) if args.expect else None
        policy = Policy(
            subnormals=args.subnormals,
            signed_zero=args.signed_zero,
            special_values=not args.no_special,
        )
        backend = load(args.backend)
        report = conform(
            backend,
            ops=_ops(args.ops),
            examples=args.examples,
            seed=args.seed,
            stress=not args.no_stress,
            policy=policy,
            expect=expect,
        )
    except (ValueError, ImportError, TypeError, OSError, RefnnError) as err:
        return _fail(prog, err)
    print(report.format())
    if report_path:
        try:
            report.write_json(report_path)
        except OSError as err:
            return _fail(prog, err)
    return 0 if report.passed else 1


def accuracy_main(argv: Sequence[str]) -> int:
    """``refnn accuracy``: returns the exit code (0 unless the usage is bad)."""
    prog = "refnn accuracy"
    p = _Parser(
        prog=prog,
        description="Each op's worst observed forward and VJP error in "
        "ulps, per backend, on one fixed seeded input set (wide ranges, values "
        "beside kinks, tiny magnitudes), and how tight the stated bounds are.",
    )
    p.add_argument("backends", nargs="+", metavar="BACKEND", help=_BACKEND_HELP)
    p.add_argument("--ops", default=None, metavar="A,B", help="comma-separated op names")
    p.add_argument(
        "--examples",
        type=_positive,
        default=60,
        metavar="N",
        help="examples per op and backend (default: 60)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the input set (default: 0)")
    p.add_argument(
        "--flush",
        default="",
        metavar="A,B",
        help="backends judged with subnormals flushed to zero (e.g. jax)",
    )
    p.add_argument("--markdown", default=None, metavar="FILE", help="write the Markdown table")
    p.add_argument("--json", default=None, metavar="FILE", help="write the table as JSON")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    _import_path()
    import json

    from refnn.atomic import atomic_write_text
    from refnn.conformance.accuracy import accuracy
    from refnn.conformance.policy import Policy
    from refnn.errors import RefnnError

    flush = set(_ops(args.flush) or [])
    try:
        md_path, json_path = _writable(args.markdown), _writable(args.json)
        table = accuracy(
            args.backends,
            ops=_ops(args.ops),
            examples=args.examples,
            seed=args.seed,
            policies={b: Policy(subnormals="flush") for b in flush},
        )
        text = table.markdown("refnn accuracy " + " ".join(argv))
        print(text, end="")
        print(
            f"\n{len(table.ops)} ops × {len(table.backends)} backends, {args.examples} "
            f"examples each, in {table.seconds:.1f} s"
        )
        if md_path:
            atomic_write_text(md_path, text)
        if json_path:
            atomic_write_text(json_path, json.dumps(table.to_json(), indent=2) + "\n")
    except (ValueError, ImportError, TypeError, OSError, RefnnError) as err:
        return _fail(prog, err)
    return 0


def vectors_main(argv: Sequence[str]) -> int:
    """``refnn vectors export DIR``: returns the exit code."""
    p = _Parser(prog="refnn vectors", description="Golden test vectors.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    e = sub.add_parser("export", help="write one JSON file of vectors per registry op")
    e.add_argument("dir", help="output directory (created if missing)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    e.add_argument("--cases", type=int, default=4, help="cases per op (default: 4)")
    e.add_argument("--ops", default=None, help="comma-separated op names (default: all)")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from refnn.conformance.vectors import export_vectors

    try:
        paths = export_vectors(args.dir, seed=args.seed, cases=args.cases, ops=_ops(args.ops))
    except (ValueError, OSError) as err:
        return _fail("refnn vectors", err)
    print(f"wrote {len(paths)} vector files to {args.dir}")
    return 0


COMMANDS: dict[str, Any] = {
    "conform": conform_main,
    "accuracy": accuracy_main,
    "vectors": vectors_main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m refnn.conformance {conform,accuracy,vectors} ...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        print("usage: python -m refnn.conformance {conform,accuracy,vectors} ...", file=sys.stderr)
        return 2
    try:
        return int(COMMANDS[args[0]](args[1:]))
    except SystemExit as exit_:  # argparse's --help (0) and usage errors (2)
        return int(exit_.code or 0)
