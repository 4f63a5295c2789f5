"""Known deviations: ``refnn conform BACKEND --expect FILE``.

A backend may deviate from an op's stated bound for a reason its authors accept (an
approximate ``tanh``, a reciprocal-based division). Declaring the deviation keeps the op
under test: within what is declared it passes as *known*; beyond it, it fails. The file is
TOML or JSON, one table per op::

    # jax-expect.toml
    [tanh]
    forward_ulps = 8          # the largest forward error accepted, in ulps
    reason = "XLA's tanh is a rational approximation: 3.4 ulp at x ≈ 2.9"

    [div]
    forward_ulps = 1
    vjp_ulps = 6
    signed_zero = true        # also accept zeros of the other sign
    special = true            # also accept special-value mismatches
    reason = "division as a·(1/b)"

Keys: ``reason`` (required), ``forward_ulps``, ``vjp_ulps`` (errors up to these many ulps
of the entry's scale are accepted in that part, whatever the finding's kind: outside the
bound, or involving a subnormal), ``signed_zero``, ``special``, ``subnormal``, ``nonfinite``
(accept those kinds of finding whatever their size: ``nonfinite`` accepts inf or NaN where
the exact value is finite). Errors and wrong shapes are never accepted; absolute errors
where the exact value is 0 are not accepted by ulps.

In pytest (``--refnn-expect FILE``) a declared op becomes ``xfail(strict=True)`` carrying
the reason: a deviation within the declaration is an expected failure, one beyond it a
failure, and an op that no longer deviates an unexpected pass that fails the run, so a
stale declaration is noticed.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ExpectFileError", "Expectation", "load_expectations"]

_KEYS = {"reason", "forward_ulps", "vjp_ulps", "signed_zero", "special", "subnormal", "nonfinite"}


class ExpectFileError(ValueError):
    """The known-deviations file cannot be read or has a malformed entry."""


@dataclass(frozen=True)
class Expectation:
    """One op's declared deviation."""

    reason: str
    forward_ulps: float | None = None
    vjp_ulps: float | None = None
    signed_zero: bool = False
    special: bool = False
    subnormal: bool = False
    nonfinite: bool = False

    def _part(
        self, name: str, kinds: dict[str, int], fail_ulps: float, ulps: float | None
    ) -> list[str]:
        out: list[str] = []
        accepted = {"signed-zero"} if self.signed_zero else set()
        if self.subnormal:
            accepted.add("subnormal")
        if self.nonfinite:
            accepted.add("nonfinite")
        sized = {k for k in kinds if k in ("bound", "subnormal")} - accepted
        other = set(kinds) - accepted - {"bound", "subnormal"}
        if other:
            out.append(f"{name} has {', '.join(sorted(other))} findings")
        if sized:
            if ulps is None:
                out.append(f"{name} is outside its bound and no {name}_ulps is declared")
            elif not fail_ulps <= ulps:
                err = (
                    "an absolute or non-finite" if math.isinf(fail_ulps) else f"{fail_ulps:.3g} ulp"
                )
                out.append(f"{name} error {err} exceeds the declared {ulps:g} ulp")
        return out

    def excess(
        self,
        fwd_kinds: dict[str, int],
        fwd_ulps: float,
        vjp_kinds: dict[str, int],
        vjp_ulps: float,
        special_kinds: dict[str, int],
    ) -> list[str]:
        """What the observed findings exceed of this declaration (empty: all known)."""
        out = self._part("forward", fwd_kinds, fwd_ulps, self.forward_ulps)
        out += self._part("vjp", vjp_kinds, vjp_ulps, self.vjp_ulps)
        left = {
            k: n
            for k, n in special_kinds.items()
            if not (k == "signed-zero" and self.signed_zero)
            and not (k == "subnormal" and self.subnormal)
        }
        if left and not self.special:
            out.append(
                f"{sum(left.values())} special-value case(s) fail "
                f"({', '.join(sorted(left))}) and special is not declared"
            )
        return out


def _entry(op: str, raw: Any, where: str) -> Expectation:
    if not isinstance(raw, dict):
        raise ExpectFileError(f"{where}: the entry for {op!r} must be a table of keys")
    extra = set(raw) - _KEYS
    if extra:
        raise ExpectFileError(
            f"{where}: {op!r} has unknown key(s) {', '.join(sorted(extra))}"
            f"; allowed: {', '.join(sorted(_KEYS))}"
        )
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ExpectFileError(f"{where}: {op!r} needs a non-empty reason")
    kw: dict[str, Any] = {"reason": reason.strip()}
    for key in ("forward_ulps", "vjp_ulps"):
        if key in raw:
            v = raw[key]
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not v >= 0
                or not math.isfinite(v)
            ):
                raise ExpectFileError(
                    f"{where}: {op!r}.{key} must be a finite number ≥ 0, got {v!r}"
                )
            kw[key] = float(v)
    for key in ("signed_zero", "special", "subnormal", "nonfinite"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ExpectFileError(f"{where}: {op!r}.{key} must be true or false")
            kw[key] = raw[key]
    return Expectation(**kw)


def load_expectations(path: str | Path) -> dict[str, Expectation]:
    """Read a known-deviations file (``.toml`` or ``.json``): op name → :class:`Expectation`.

    Raises :class:`ExpectFileError` naming the file and the entry at fault.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ExpectFileError(f"cannot read the expect file {str(p)!r}: {err}") from None
    try:
        data: Any = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise ExpectFileError(
            f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {err}"
        ) from None
    if not isinstance(data, dict):
        raise ExpectFileError(f"{p}: the file must map op names to tables")
    from refnn.ops import registry

    unknown = [op for op in data if op not in registry]
    if unknown:
        raise ExpectFileError(f"{p}: unknown op(s) {', '.join(unknown)}")
    return {op: _entry(op, raw, str(p)) for op, raw in data.items()}
