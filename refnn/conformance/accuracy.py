"""``refnn accuracy BACKEND...``: each op's worst observed error, per backend, side by side.

Where ``refnn conform`` asks *does the backend meet the stated bounds?*, this asks *how
accurate is it, and how tight are the bounds?* Every backend runs the same fixed, seeded
input set (:class:`~refnn.conformance._inputs.AccuracySource`: entries over [−20, 20]
— or 2⁻³⁰…2³⁰ for positive domains such as ``log``'s — values just beside each kink, and
tiny magnitudes, subnormals included) through the harness's comparison with the 60-digit
reference. For each op and backend the table gives the worst forward and VJP error in ulps
of the entry's scale (``|exact|``, or for a reduction the sum of its terms' magnitudes).

The **tightness** columns give, for the reference's own float kernels and for NumPy when
they are among the backends, the worst observed error as a share of the stated bound's
allowance (100 % would be an error exactly at the bound): a bound far above every
implementation's error would catch nothing.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from refnn.backends import load
from refnn.conformance._harness import _check_op, bound_text
from refnn.conformance._inputs import AccuracySource
from refnn.conformance.policy import Policy
from refnn.ops import registry

__all__ = ["AccuracyTable", "accuracy"]


@dataclass
class AccuracyTable:
    """Worst errors per op and backend (``cells[op][backend]``)."""

    backends: list[str]
    ops: list[str]
    examples: int
    seed: int
    policy: dict[str, Policy]
    #: op → backend → {"forward_ulps", "vjp_ulps", "forward_share", "vjp_share",
    #: "forward_input", "vjp_input", "errors"}
    cells: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return str(x)
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            return x

        out: dict[str, Any] = clean(
            {
                "backends": self.backends,
                "ops": self.ops,
                "examples": self.examples,
                "seed": self.seed,
                "versions": self.versions,
                "policy": {b: p.to_json() for b, p in self.policy.items()},
                "bounds": {op: bound_text(registry[op]) for op in self.ops},
                "cells": self.cells,
                "seconds": self.seconds,
            }
        )
        return out

    def markdown(self, command: str | None = None) -> str:
        """The table as Markdown, headed by the command that made it and the versions."""
        tight = [b for b in ("reference", "numpy") if b in self.backends]
        head = ["op", "bound (fwd; vjp)"]
        for b in self.backends:
            head += [f"{b} fwd", f"{b} vjp"]
        for b in tight:
            head += [f"{b} tightness fwd", f"{b} tightness vjp"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for op in self.ops:
            eb = registry[op].bound
            row = [f"`{op}`", f"{eb.ulps:g}{' +γₙΣ' if eb.reduction else ''}; {eb.vjp_ulps:g}"]
            for be in self.backends:
                c = self.cells[op][be]
                row += [_ulps(c["forward_ulps"], c["errors"]), _ulps(c["vjp_ulps"], c["errors"])]
            for be in tight:
                c = self.cells[op][be]
                row += [_share(c["forward_share"]), _share(c["vjp_share"])]
            lines.append("| " + " | ".join(row) + " |")
        vers = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        flushed = [b for b, p in self.policy.items() if p.flushes]
        head = [
            f"Worst observed error per op, in ulps of each entry's scale ({self.examples} "
            f"examples per op and backend, seed {self.seed}; subnormals flushed for "
            f"{', '.join(flushed) or 'none'}). Tightness: the worst error as a share of "
            f"the stated bound's allowance.",
            "",
            f"Versions: {vers}.",
            "",
        ]
        if command:
            head = [f"Made by `{command}`.", "", *head]
        return "\n".join(head + lines) + "\n"


def _ulps(x: float, errors: int) -> str:
    if errors:
        return "error"
    if not math.isfinite(x):
        return "∞"
    return f"{x:.3g}"


def _share(x: float) -> str:
    if not math.isfinite(x):
        return "∞"
    return f"{100 * x:.0f} %"


_DISTS = {"numpy": ("numpy",), "torch": ("torch",), "jax": ("jax", "jaxlib")}


def _versions(names: Sequence[str]) -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in ("refnn", "mpmath", *(d for n in names for d in _DISTS.get(n, ()))):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:  # pragma: no cover (an uninstalled checkout)
            out[dist] = "not installed"
    return out


def accuracy(
    backends: Sequence[Any],
    ops: Sequence[str] | None = None,
    examples: int = 60,
    seed: int = 0,
    policies: dict[str, Policy] | None = None,
) -> AccuracyTable:
    """Measure every backend on the same input set; ``policies`` maps a backend's name to
    its comparison policy (e.g. ``{"jax": Policy(subnormals="flush")}``)."""
    t0 = time.perf_counter()
    loaded = [load(b) for b in backends]
    names = [str(getattr(b, "name", b)) for b in loaded]
    op_names = list(registry) if ops is None else list(ops)
    unknown = [o for o in op_names if o not in registry]
    if unknown:
        raise ValueError(f"unknown op(s) {', '.join(unknown)}")
    pols = {n: (policies or {}).get(n, Policy(special_values=False)) for n in names}
    table = AccuracyTable(
        backends=names,
        ops=op_names,
        examples=examples,
        seed=seed,
        policy=pols,
        versions=_versions(names),
    )
    for op in op_names:
        spec = registry[op]
        table.cells[op] = {}
        for be, name in zip(loaded, names, strict=True):
            pol = Policy(
                subnormals=pols[name].subnormals,
                signed_zero=pols[name].signed_zero,
                special_values=False,
            )
            src = AccuracySource(spec, seed, True, examples)
            r = _check_op(be, spec, examples, seed, True, pol, None, source=src, shrink=False)
            errs = sum(
                p.kinds.get("error", 0) + p.kinds.get("shape", 0) for p in (r.forward, r.vjp)
            )
            table.cells[op][name] = {
                "forward_ulps": r.forward.worst_ulps,
                "vjp_ulps": r.vjp.worst_ulps,
                "forward_share": r.forward.worst_ratio,
                "vjp_share": r.vjp.worst_ratio,
                "forward_input": _input_of(r.forward.worst),
                "vjp_input": _input_of(r.vjp.worst),
                "errors": errs,
                "kinds": {"forward": r.forward.kinds, "vjp": r.vjp.kinds},
            }
    table.seconds = time.perf_counter() - t0
    return table


def _input_of(cx: Any) -> Any:
    if cx is None:
        return None
    return {
        "params": cx.params,
        "inputs": cx.inputs,
        "entry": cx.entry,
        "error_ulps": cx.error_ulps,
        "error_abs": cx.error_abs,
    }
