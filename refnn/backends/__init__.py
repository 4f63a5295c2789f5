"""Backends: other array libraries that run ``refnn.ops`` (and so ``grad``, ``nn``, …).

A backend is any object with the attributes of :class:`Backend`: a ``name``, the
``array_type`` its values have, ``from_matrix``/``to_matrix`` conversions, and ``kernels``, a
mapping from every registry op name to a forward kernel with the reference calling
convention ``kernel(*inputs, *params)`` (``scale``'s kernel takes ``(A, c)``). It may also
have ``vjps``, op name → ``vjp(g, y, inputs, params)`` computed by the backend itself (the
conformance harness checks those too). ``refnn.grad`` uses the registry's VJPs, which are
written in ops and so run on any backend with no extra code, except where the backend also
has ``fused_vjps``: op name → ``vjp(g, y, inputs, params, needs)``, a VJP in fewer kernel
calls that ``refnn.grad`` then uses on the backend's values (see
:func:`refnn.ops.register_vjp_kernels`). Every fused VJP must also be the backend's entry in
``vjps`` (called with every ``needs`` true), so that ``refnn conform`` holds it to the op's
bound; :func:`register` checks this. A backend may also have ``list_kernels``: op name →
a kernel over lists of matrices, which the optimisers use to update all parameter
matrices in one call per op (see :func:`refnn.ops.register_list_kernels`).

:func:`load` takes ``"numpy"``, ``"torch"``, ``"jax"``, ``"reference"`` or
``"package.module:object"``
(an object with those attributes, or a zero-argument callable returning one), registers
its kernels with :func:`refnn.ops.register_kernels` and returns it::

    from refnn import Matrix, ops, backends
    np_backend = backends.load("numpy")
    x = np_backend.from_matrix(Matrix([[1.0, 2.0]]))    # a NumpyMatrix
    y = ops.tanh(x)                                      # runs NumPy's kernel
    back = np_backend.to_matrix(y)                       # a reference Matrix again

A backend that lacks kernels for some ops can still be loaded (its ops that exist work);
:func:`missing_ops` lists the names of those it lacks and :func:`require_complete` raises
:class:`MissingOps` naming them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from refnn.errors import RefnnError
from refnn.matrix import Matrix
from refnn.ops import (
    register_kernels,
    register_list_kernels,
    register_vjp_kernels,
    registry,
)

__all__ = [
    "BUILTIN",
    "Backend",
    "BackendLoadError",
    "MissingOps",
    "ReferenceBackend",
    "load",
    "missing_ops",
    "register",
    "require_complete",
]


@runtime_checkable
class Backend(Protocol):
    """What a backend provides (``vjps``, op name → ``vjp(g, y, inputs, params)``, is
    optional and read with ``getattr(backend, "vjps", None)``)."""

    name: str
    #: The Python type of the backend's values: op dispatch picks kernels by it.
    array_type: type
    #: op name → forward kernel ``kernel(*inputs, *params)`` for every registry op.
    kernels: Mapping[str, Callable[..., Any]]

    def from_matrix(self, A: Matrix[Any]) -> Any:
        """A float reference ``Matrix`` as one of this backend's values."""
        ...

    def to_matrix(self, a: Any) -> Matrix[Any]:
        """One of this backend's values as a float reference ``Matrix``."""
        ...


class MissingOps(RefnnError, LookupError):
    """A backend lacks kernels for some registry ops; ``.ops`` lists their names."""

    def __init__(self, backend_name: str, ops: list[str]) -> None:
        self.backend_name = backend_name
        self.ops = ops
        super().__init__(
            f"backend {backend_name!r} has no kernel for {len(ops)} registry op(s): "
            f"{', '.join(ops)}"
        )


def missing_ops(backend: Any) -> list[str]:
    """The registry ops (sorted names) that ``backend.kernels`` does not provide."""
    kernels = getattr(backend, "kernels", {}) or {}
    return sorted(name for name in registry if name not in kernels)


def require_complete(backend: Any) -> None:
    """Raise :class:`MissingOps` unless the backend has a kernel for every registry op."""
    missing = missing_ops(backend)
    if missing:
        raise MissingOps(str(getattr(backend, "name", backend)), missing)


def _check_shape(backend: Any) -> None:
    for attr in ("name", "array_type", "kernels", "from_matrix", "to_matrix"):
        if not hasattr(backend, attr):
            raise TypeError(
                f"{backend!r} is not a refnn backend: it has no attribute {attr!r} "
                f"(a backend needs name, array_type, kernels, from_matrix and to_matrix)"
            )


def register(backend: Any) -> Any:
    """Register the backend's kernels for its ``array_type`` and return the backend."""
    _check_shape(backend)
    if backend.array_type is not Matrix:
        register_kernels(backend.array_type, dict(backend.kernels))
        fused = dict(getattr(backend, "fused_vjps", None) or {})
        unchecked = sorted(set(fused) - set(getattr(backend, "vjps", None) or {}))
        if unchecked:
            raise TypeError(
                f"backend {backend.name!r} has fused VJPs that are not in its vjps, so "
                f"conform would not check them: {', '.join(unchecked)}"
            )
        if fused:
            register_vjp_kernels(backend.array_type, fused)
        lists = getattr(backend, "list_kernels", None)
        if lists:
            register_list_kernels(backend.array_type, dict(lists))
    return backend


class ReferenceBackend:
    """The reference itself as a backend (values are float :class:`~refnn.Matrix`)."""

    name = "reference"
    array_type: type = Matrix

    def __init__(self) -> None:
        self.kernels: Mapping[str, Callable[..., Any]] = {
            name: spec.forward for name, spec in registry.items()
        }

    def from_matrix(self, A: Matrix[Any]) -> Matrix[Any]:
        return A

    def to_matrix(self, a: Any) -> Matrix[Any]:
        if not isinstance(a, Matrix):
            raise TypeError(f"the reference backend holds Matrix values, got {type(a).__name__}")
        return a


def _builtin(name: str) -> Any:
    if name == "reference":
        return ReferenceBackend()
    if name == "numpy":
        from refnn.backends.numpy import NumpyBackend

        return NumpyBackend()
    if name == "torch":
        from refnn.backends.torch import TorchBackend

        return TorchBackend()
    if name == "jax":
        from refnn.backends.jax import JaxBackend

        return JaxBackend()
    raise AssertionError(name)


#: The backends built into refnn, by name (each needs its extra: ``numpy``, ``torch``,
#: ``jax``).
BUILTIN = ("reference", "numpy", "torch", "jax")


class BackendLoadError(RefnnError, ImportError):
    """A backend could not be loaded: its module does not import, or is not a backend."""


def load(spec: str | Any) -> Any:
    """The backend named by ``spec``, with its kernels registered.

    ``spec`` is ``"numpy"``, ``"torch"``, ``"reference"``, ``"package.module:object"``
    (the object is a backend, or a zero-argument callable such as a class returning one),
    or already a backend object.
    """
    if not isinstance(spec, str):
        return register(spec)
    if spec in BUILTIN:
        try:
            return register(_builtin(spec))
        except ImportError as err:
            raise BackendLoadError(
                f"the {spec} backend needs {err.name or spec}: pip install 'refnn[{spec}]' "
                f"({type(err).__name__}: {err})",
                name=err.name,
            ) from None
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"unknown backend {spec!r}: use {', '.join(BUILTIN)} or package.module:object"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # an adapter's own bug must not become a traceback here
        missing = err.name if isinstance(err, ImportError) and err.name else module_name
        raise BackendLoadError(
            f"cannot import the backend module {module_name!r}: {type(err).__name__}: {err}",
            name=missing,
        ) from err
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not hasattr(obj, "kernels") and callable(obj):
        try:
            obj = obj()
        except TypeError as err:
            raise TypeError(
                f"{spec!r} is not a refnn backend nor a zero-argument factory of one: {err}"
            ) from None
        except Exception as err:  # the adapter's own failure: one line, not a traceback
            raise BackendLoadError(
                f"the backend factory {spec!r} raised {type(err).__name__}: {err}"
            ) from err
    return register(obj)
