"""refnn: a symbolic-checked reference implementation of a small neural-network library.

``from refnn import Matrix`` gives the article's matrix (1-based, immutable); see the
README for the tour, ``docs/tutorial.md`` for the article chapter by chapter,
``refnn.explain(f, *args)`` to watch a backward pass, and ``refnn.scalars`` for the scalar
domains.
"""

from refnn import ops
from refnn.autodiff import grad, value_and_grad, vjp
from refnn.errors import DomainError, RefnnError, ShapeError, TrainingDiverged
from refnn.explain import explain
from refnn.matrix import Matrix

__version__ = "0.1.0"

__all__ = [
    "DomainError",
    "Matrix",
    "RefnnError",
    "ShapeError",
    "TrainingDiverged",
    "__version__",
    "explain",
    "grad",
    "ops",
    "value_and_grad",
    "vjp",
]
