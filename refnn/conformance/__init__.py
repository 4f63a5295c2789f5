"""``refnn.conformance``: hold a backend against the reference, and export golden vectors.

* :func:`conform` — per op, Hypothesis-generated inputs in the op's domain, the backend's
  forward and VJP compared with the reference at 60 digits under the op's stated bound;
  a failure comes with a minimal (shrunk) counterexample. Returns a :class:`Report`.
* :func:`export_vectors` — JSON golden vectors for every op (``docs/vectors.md``).
* Command line: ``python -m refnn.conformance conform BACKEND`` and
  ``python -m refnn.conformance vectors export DIR`` (:mod:`refnn.conformance.cli`).
* pytest: ``pytest --refnn-backend=package.module:object`` runs one test per op
  (:mod:`refnn.conformance.pytest_plugin`).

Needs the ``test`` extra (Hypothesis, mpmath).
"""

from refnn.conformance._harness import Counterexample, OpResult, Report, conform

__all__ = ["Counterexample", "OpResult", "Report", "conform", "export_vectors"]


def __getattr__(name: str) -> object:
    if name == "export_vectors":
        from refnn.conformance.vectors import export_vectors

        return export_vectors
    raise AttributeError(name)
