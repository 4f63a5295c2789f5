"""``refnn.ops``: the op registry, the single source of truth for differentiable ops.

Every op is one :class:`OpSpec` in :data:`registry` (``name in ops.registry``,
``ops.registry["tanh"]``), holding its shape rule, reference forward kernel, VJP (written in
registry ops, so gradients of gradients work), SymPy specification, test input domain,
error bound and the cases it is proven on. ``refnn.ops.<name>`` is the public function of
each entry. Autodiff, the tests, the proofs, the conformance harness and the vector exporter
all iterate the registry; nothing lists the ops a second time.

Conventions: matrix first, parameters after (``pow(A, p)``, ``leaky_relu(A, slope)``,
``clip(A, lo, hi)``, ``add_row(A, b)``, ``broadcast(A, m, n)``, ``slice_cols(A, j1, j2)``),
except ``scale(c, A)``, read as c·A. ``sum_rows(A)`` adds the rows together (1×n column
totals) and ``sum_cols(A)`` adds the columns together (m×1 row totals). Parameters are
constants (not differentiated), converted to the matrix's scalar domain.

Ops: ``add sub neg hadamard scale add_scalar div matmul transpose broadcast add_row
concat_cols slice_cols sum sum_rows sum_cols mean exp log sqrt pow square tanh sigmoid
softplus sin cos step relu leaky_relu clip softmax_rows log_softmax_rows`` (the registry is
authoritative: ``sorted(refnn.ops.registry)``).
"""

from refnn.matrix import Matrix
from refnn.ops._core import (
    ErrorBound,
    InputDomain,
    OpSpec,
    Value,
    apply,
    kernels_for,
    list_kernels_for,
    register_kernels,
    register_list_kernels,
    register_vjp_kernels,
    registry,
    vjp_kernels_for,
)
from refnn.ops._defs import *  # noqa: F403  (one public function per registry entry)
from refnn.ops._defs import concrete, const

register_kernels(Matrix, {name: spec.forward for name, spec in registry.items()})

__all__ = [
    "ErrorBound",
    "InputDomain",
    "OpSpec",
    "Value",
    "apply",
    "concrete",
    "const",
    "kernels_for",
    "list_kernels_for",
    "register_kernels",
    "register_list_kernels",
    "register_vjp_kernels",
    "registry",
    "vjp_kernels_for",
    *registry,
]
