"""``refnn.conformance``: hold a backend against the reference, and export golden vectors.

* :func:`conform` — per op, seeded examples in the op's domain (plus tiny, zero, large and
  special values), the backend's forward and VJP compared with the reference at 60 digits
  under the op's stated bound, with full statistics per op (``docs/backends.md``).
  Returns a :class:`Report`.
* :class:`Policy` — the declared comparison policies (subnormals, signed zeros, special
  values); :func:`load_expectations` — known deviations (``--expect FILE``).
* :func:`accuracy` — the worst observed error of each op per backend, as a table.
* :func:`export_vectors` — JSON golden vectors for every op (``docs/vectors.md``).
* Command line: ``refnn conform BACKEND``, ``refnn accuracy BACKEND...``, ``refnn vectors
  export DIR`` (:mod:`refnn.conformance.cli`).
* pytest: ``pytest --refnn-backend=package.module:object`` runs one test per op
  (:mod:`refnn.conformance.pytest_plugin`).

Needs mpmath (the ``conform`` extra, also in ``test``). Importing this package imports
nothing heavy: each name loads its module on first use, so the pytest plugin stays inert
until ``--refnn-backend`` is given.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Counterexample",
    "Expectation",
    "OpResult",
    "PartStats",
    "Policy",
    "Report",
    "accuracy",
    "conform",
    "export_vectors",
    "load_expectations",
]

_WHERE = {
    "Counterexample": "_harness",
    "OpResult": "_harness",
    "PartStats": "_harness",
    "Report": "_harness",
    "conform": "_harness",
    "Policy": "policy",
    "Expectation": "expect",
    "load_expectations": "expect",
    "accuracy": "accuracy",
    "export_vectors": "vectors",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'refnn.conformance' has no attribute {name!r}")
    return getattr(importlib.import_module(f"refnn.conformance.{mod}"), name)
