"""The ``conform`` and ``vectors`` commands (wired into ``refnn`` by :mod:`refnn.cli`, and
runnable as ``python -m refnn.conformance conform …`` / ``… vectors export DIR``).

``conform BACKEND [--ops a,b] [--examples N] [--seed S] [--report report.json]`` prints the
per-op table and exits 0 only when every op passes (1 on a failing op, 2 on bad usage).

``vectors export DIR [--seed S] [--cases K]`` writes one JSON file of golden vectors per
registry op into DIR (the format is ``docs/vectors.md``).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["conform_main", "main", "vectors_main"]


def _conform_parser(prog: str = "refnn conform") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Hold a backend against the reference, op by op and gradient by gradient.",
    )
    p.add_argument(
        "backend",
        help="numpy, torch, reference, or package.module:object (a backend object)",
    )
    p.add_argument("--ops", default=None, help="comma-separated op names (default: all)")
    p.add_argument("--examples", type=int, default=10, help="examples per op (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--report", default=None, metavar="FILE", help="also write the report as JSON")
    p.add_argument(
        "--no-stress", action="store_true",
        help="draw only from each op's test domain (no large-magnitude values)",
    )
    return p


def conform_main(argv: list[str]) -> int:
    """``refnn conform``: returns the exit code (0 only when every op passes)."""
    args = _conform_parser().parse_args(argv)
    from refnn.backends import load
    from refnn.conformance._harness import conform

    ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
    if args.examples < 1:
        print("refnn conform: --examples must be ≥ 1", file=sys.stderr)
        return 2
    try:
        backend = load(args.backend)
        report = conform(backend, ops=ops, examples=args.examples, seed=args.seed,
                         stress=not args.no_stress)
    except (ValueError, ImportError, TypeError) as err:
        print(f"refnn conform: {err}", file=sys.stderr)
        return 2
    print(report.format())
    if args.report:
        report.write_json(args.report)
    return 0 if report.passed else 1


def vectors_main(argv: list[str]) -> int:
    """``refnn vectors export DIR``: returns the exit code."""
    p = argparse.ArgumentParser(prog="refnn vectors", description="Golden test vectors.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write one JSON file of vectors per registry op")
    e.add_argument("dir", help="output directory (created if missing)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e.add_argument("--cases", type=int, default=4, help="cases per op (default 4)")
    e.add_argument("--ops", default=None, help="comma-separated op names (default: all)")
    args = p.parse_args(argv)
    from refnn.conformance.vectors import export_vectors

    ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
    try:
        paths = export_vectors(args.dir, seed=args.seed, cases=args.cases, ops=ops)
    except (ValueError, OSError) as err:
        print(f"refnn vectors: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} vector files to {args.dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m refnn.conformance {conform,vectors} ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("conform", "vectors"):
        print("usage: python -m refnn.conformance {conform,vectors} ...", file=sys.stderr)
        return 2
    if argv[0] == "conform":
        return conform_main(argv[1:])
    return vectors_main(argv[1:])
