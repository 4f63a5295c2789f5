"""The machinery of the op registry: ``OpSpec``, dispatch and the ``defop`` decorator.

An op call flows ``ops.tanh(x)`` → :func:`apply` → either the ``__refnn_dispatch__`` hook of a
traced argument (autodiff records the call and recurses on the values), or the forward
kernel of the backend that owns the concrete arguments (for :class:`~refnn.Matrix` the
reference kernel written beside the op in :mod:`refnn.ops._defs`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from refnn.errors import ShapeError
from refnn.matrix import Matrix, equal_shapes_message

__all__ = [
    "ErrorBound",
    "InputDomain",
    "OpSpec",
    "Shape",
    "Value",
    "Vjp",
    "apply",
    "defop",
    "kernels_for",
    "list_kernels_for",
    "register_kernels",
    "register_list_kernels",
    "register_vjp_kernels",
    "registry",
    "vjp_kernels_for",
]

Shape = tuple[int, int]
#: A value an op accepts: a Matrix, a traced value inside ``grad``, or a backend's array.
#: Every such value has ``.shape``. This is the one definition; other modules import it.
Value = Any
#: ``(input shapes, params)``: one case an op is proven and tested on.
Case = tuple[tuple[Shape, ...], tuple[Any, ...]]
#: ``vjp(g, y, inputs, params) -> cotangents``: one cotangent per matrix input.
Vjp = Callable[[Value, Value, tuple[Value, ...], tuple[Any, ...]], tuple[Value, ...]]


@dataclass(frozen=True)
class InputDomain:
    """Where valid float inputs of one argument lie (used to generate test inputs).

    Entries are drawn from ``[lo, hi]``, keeping at least ``margin`` away from each point
    in ``avoid`` (kinks such as ReLU's 0, where the derivative is a convention).
    """

    lo: float = -3.0
    hi: float = 3.0
    avoid: tuple[float, ...] = ()
    margin: float = 1e-3

    def contains(self, x: float) -> bool:
        """Whether ``x`` is a valid test input for this argument."""
        return self.lo <= x <= self.hi and all(abs(x - a) >= self.margin for a in self.avoid)


@dataclass(frozen=True)
class ErrorBound:
    """The accuracy class of an op's float forward (and of its VJP, built from ops).

    * ``ulps``: each output entry is within ``ulps`` units in the last place of the exact
      value of the *computed function at the float inputs* (element-wise ops; 0.5 means
      correctly rounded, as IEEE ``+ − × ÷ √`` are).
    * ``reduction``: additionally, entries that are sums of ``n`` terms carry the
      recursive-summation bound ``γₙ · Σ|termᵢ|`` (matmul, sums, means, softmax's
      normaliser), so tests judge them against the sum of absolute terms.
    * ``log_of_sum``: see the attribute below.
    * ``vjp_ulps``: the same allowance for each entry of the VJP, judged relative to the
      magnitude of the terms that make it (VJPs are compositions of a few ops).
    """

    ulps: float
    reduction: bool = False
    vjp_ulps: float = 8.0
    #: The entries pass an internal n-term sum through a logarithm (log_softmax's
    #: log Σ e^x): a relative error γₙ in that sum shifts every entry by up to ≈ γₙ in
    #: absolute terms, which tests add to the allowance.
    log_of_sum: bool = False


@dataclass(frozen=True, eq=False)
class OpSpec:
    """One differentiable op: everything autodiff, tests, proofs, the conformance harness
    and the vector exporter need to know about it.

    Calling convention of ``forward`` (the reference kernel, on Matrices), and of every
    backend kernel: ``forward(*inputs, *params)``. ``vjp(g, y, inputs, params, needs=None)``
    returns
    one cotangent per matrix input, written with ``refnn.ops`` calls only, so it runs on
    any backend and can itself be differentiated. ``spec(*sympy_matrices, *params)`` is
    the op's meaning as a SymPy formula, written independently of ``forward``.
    """

    name: str
    arity: int
    params: tuple[str, ...]
    shape: Callable[..., Shape]
    forward: Callable[..., Any]
    vjp: Vjp
    spec: Callable[..., Any]
    domains: tuple[InputDomain, ...]
    bound: ErrorBound
    cases: Callable[[int], Iterator[Case]]
    smooth: bool = True
    scalar_first: bool = False
    doc: str = field(default="", repr=False)
    #: Names of the parameters of integer kind (``broadcast``'s m, n; ``slice_cols``'s j1,
    #: j2): a backend kernel receives them as ``int``. Every other parameter is of real kind
    #: and reaches a backend kernel as a ``float`` (the nearest double), never as a
    #: ``Fraction``: see :meth:`backend_params`.
    int_params: tuple[str, ...] = ()
    #: Whether ``vjp`` accepts ``needs`` (a tuple of bools, one per input) and may return
    #: ``None`` for inputs that are not needed, skipping their work (``matmul`` does: the
    #: cotangent of a data matrix X in ``X @ W`` is never computed during training).
    vjp_selective: bool = False
    #: Whether ``vjp`` reads the op's inputs (``xs``) and its output (``y``). Autodiff keeps
    #: on its tape only what the VJP reads, so a matrix no VJP needs is freed as soon as the
    #: forward pass is done with it; a VJP whose flag is ``False`` gets ``xs = ()`` or
    #: ``y = None`` (``tests/test_ops_meta.py`` checks that it computes the same without).
    vjp_reads_inputs: bool = True
    vjp_reads_output: bool = True
    #: The forward formula in the article's notation, inputs named A, B, parameters by
    #: their names: ``"A ⊙ B"``, ``"tanh A"``, ``"AB"``.
    formula: str = ""
    #: The VJP rule as text, the cotangent(s) it returns from the output's cotangent ``g``
    #: and the output ``y``: ``"g ⊙ (1 − y²)"`` (tanh), ``"(g Bᵀ, Aᵀ g)"`` (matmul, one per
    #: input). ``refnn.explain`` prints it beside every node of the backward pass.
    rule: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _public[self.name](*args, **kwargs)

    def __repr__(self) -> str:
        b = self.bound
        acc = f"≤ {b.ulps:g} ulp{'s' if b.ulps != 1 else ''}"
        if b.reduction:
            acc += " + γₙ·Σ|terms|"
        params = f"; parameters {', '.join(self.params)}" if self.params else ""
        return (
            f"<op {self.name}: y = {self.formula}{params} | VJP: {self.rule} | "
            f"float bound: {acc}, VJP ≤ {b.vjp_ulps:g} ulps>"
        )

    def cotangents(
        self,
        g: Value,
        y: Value,
        inputs: tuple[Value, ...],
        params: tuple[Any, ...],
        needs: tuple[bool, ...],
    ) -> tuple[Value | None, ...]:
        """The VJP with one signature for every op: the cotangent of each input, where
        ``needs`` marks the inputs whose cotangent is wanted. A selective VJP (``matmul``)
        skips the others and returns ``None`` for them; every other VJP computes all."""
        vjp: Callable[..., tuple[Value | None, ...]] = self.vjp
        if self.vjp_selective:
            return vjp(g, y, inputs, params, needs)
        return vjp(g, y, inputs, params)

    def param_kind(self, name: str) -> str:
        """``"int"`` or ``"real"``: the kind of the parameter ``name`` (not of a value)."""
        if name not in self.params:
            raise KeyError(f"op {self.name!r} has no parameter {name!r}")
        return "int" if name in self.int_params else "real"

    def backend_params(self, params: tuple[Any, ...]) -> tuple[Any, ...]:
        """The parameters as every backend kernel receives them: ``int`` for a parameter of
        integer kind, the nearest ``float`` for one of real kind (a ``Fraction(1, 3)`` becomes
        ``0.333…``, an ``int`` 2 given for a real parameter becomes ``2.0``)."""
        if not self.params:
            return params
        if not self.int_params and len(params) == 1 and type(params[0]) is float:
            return params  # the common case (scale, add_scalar by a double): nothing to convert
        return tuple(
            _as_int(self, n, p) if n in self.int_params else float(p)
            for n, p in zip(self.params, params, strict=True)
        )


def _as_int(spec: OpSpec, name: str, p: Any) -> int:
    if isinstance(p, bool) or int(p) != p:
        raise TypeError(f"{spec.name}'s parameter {name} is an integer; got {p!r}")
    return int(p)


_registry: dict[str, OpSpec] = {}
_public: dict[str, Callable[..., Any]] = {}
#: The single source of truth: op name → :class:`OpSpec` (read-only).
registry: Mapping[str, OpSpec] = MappingProxyType(_registry)

_kernels: dict[type, Mapping[str, Callable[..., Any]]] = {}


def register_kernels(value_type: type, kernels: Mapping[str, Callable[..., Any]]) -> None:
    """Make ``kernels`` (op name → forward kernel) the ones used for values of ``value_type``.

    Backends call this; the reference kernels are registered for :class:`Matrix`.
    """
    _kernels[value_type] = kernels


#: value type → op name → a backend's fused VJP, ``vjp(g, y, inputs, params, needs)``.
_vjp_kernels: dict[type, Mapping[str, Callable[..., Any]]] = {}


def register_vjp_kernels(value_type: type, vjps: Mapping[str, Callable[..., Any]]) -> None:
    """Make ``vjps`` (op name → fused VJP) the ones :func:`refnn.grad` uses on values of
    ``value_type``, in place of the registry's VJPs written in ops.

    A fused VJP has the signature of :meth:`OpSpec.cotangents`:
    ``vjp(g, y, inputs, params, needs)`` returns one cotangent per input (``None`` where
    ``needs`` is false, if it likes), and it may read only what the op's VJP reads
    (``y`` is ``None`` unless :attr:`OpSpec.vjp_reads_output`, ``inputs`` is ``()`` unless
    :attr:`OpSpec.vjp_reads_inputs`). It runs only where ``g`` and every value the tape kept
    are of ``value_type``: a backward pass being recorded (gradients of gradients) uses the
    registry's VJPs. It computes the same derivative with fewer kernel calls (PyTorch's
    ``tanh_backward``, a matrix product read through a transposed view), so its last bits
    may differ from the registry VJP's; the backend's conformance run holds each fused VJP
    to the op's bound like any kernel (see :mod:`refnn.backends`).
    """
    _vjp_kernels[value_type] = vjps


def vjp_kernels_for(value_type: type) -> Mapping[str, Callable[..., Any]] | None:
    """The fused VJPs registered for ``value_type`` (see :func:`register_vjp_kernels`)."""
    return _vjp_kernels.get(value_type)


#: value type → op name → a backend's list kernel, ``kernel(*lists, *params) -> list``.
_list_kernels: dict[type, Mapping[str, Callable[..., Any]]] = {}


def register_list_kernels(value_type: type, kernels: Mapping[str, Callable[..., Any]]) -> None:
    """Make ``kernels`` (op name → list kernel) the ones an optimiser uses to update every
    parameter matrix of ``value_type`` in one call per op (PyTorch's ``torch._foreach_*``).

    A list kernel takes one list per input of the op, then the op's parameters, and
    returns the list of results: ``kernel([A₁, A₂], [B₁, B₂]) == [kernel₁(A₁, B₁),
    kernel₁(A₂, B₂)]`` entry for entry and bit for bit, where ``kernel₁`` is the backend's
    ordinary kernel, domain checks included (``tests/test_list_kernels.py`` holds every
    built-in backend to this). It only saves the per-matrix calls.
    """
    _list_kernels[value_type] = kernels


def list_kernels_for(value_type: type) -> Mapping[str, Callable[..., Any]] | None:
    """The list kernels registered for ``value_type`` (see :func:`register_list_kernels`)."""
    return _list_kernels.get(value_type)


def kernels_for(inputs: tuple[Value, ...]) -> Mapping[str, Callable[..., Any]]:
    """The kernel table of the backend that owns ``inputs`` (all must share one backend)."""
    t = type(inputs[0])
    for a in inputs[1:]:
        if type(a) is not t:
            raise TypeError(
                f"an op's matrix arguments must come from one backend; got "
                f"{t.__name__} and {type(a).__name__}"
            )
    try:
        return _kernels[t]
    except KeyError:
        raise TypeError(
            f"refnn ops take Matrix values (or a registered backend's arrays); got {t.__name__}"
        ) from None


#: value type → its ``__refnn_dispatch__`` hook, or ``None``: looked up once per type, as
#: :func:`apply` asks it of every argument of every op call.
_hooks: dict[type, Any] = {}
_UNSEEN: Any = object()


def _hook_of(t: type) -> Any:
    hook = _hooks[t] = getattr(t, "__refnn_dispatch__", None)
    return hook


def apply(spec: OpSpec, inputs: tuple[Value, ...], params: tuple[Any, ...]) -> Value:
    """Run one op: a traced argument takes over, otherwise the owning backend's kernel.

    The order of the checks is the contract (a traced argument, then one registered
    backend for all arguments, then the shape rule, then the kernel); the code is written
    for the common cases of one or two arguments of one type, as every op call of a
    training step goes through here.
    """
    hooks = _hooks
    for a in inputs:
        hook = hooks.get(type(a), _UNSEEN)
        if hook is _UNSEEN:
            hook = _hook_of(type(a))
        if hook is not None:
            return hook(spec, inputs, params)
    t = type(inputs[0])
    table = _kernels.get(t)
    if table is None or (len(inputs) > 1 and _mixed(t, inputs)):
        table = kernels_for(inputs)  # raises the TypeError that says what is wrong
    rule = spec.shape
    if rule is not unary_shape:  # unary_shape checks nothing: a unary op's shape is its input's
        if len(inputs) == 1:
            rule(inputs[0].shape, *params)
        else:
            rule(*(a.shape for a in inputs), *params)
    kernel = table.get(spec.name)
    if kernel is None:
        raise NotImplementedError(f"the backend of {t.__name__} has no kernel for op {spec.name!r}")
    if params and t is not Matrix:
        # another backend's kernel sees ints and doubles only (OpSpec.backend_params)
        return kernel(*inputs, *spec.backend_params(params))
    return kernel(*inputs, *params)


def _mixed(t: type, inputs: tuple[Value, ...]) -> bool:
    for a in inputs:
        if type(a) is not t:
            return True
    return False


def defop(
    *,
    arity: int,
    vjp: Vjp,
    spec: Callable[..., Any],
    bound: ErrorBound,
    shape: Callable[..., Shape] | None = None,
    cases: Callable[[int], Iterator[Case]] | None = None,
    domains: tuple[InputDomain, ...] | None = None,
    params: tuple[str, ...] = (),
    int_params: tuple[str, ...] = (),
    smooth: bool = True,
    scalar_first: bool = False,
    vjp_selective: bool = False,
    vjp_reads: tuple[str, ...] = ("inputs", "output"),
    formula: str = "",
    rule: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated reference kernel as an op and return its public function.

    The decorated function is the forward kernel on Matrices (``inputs..., params...``);
    the returned function has the public signature (with ``scalar_first`` the single
    parameter comes first: ``scale(c, A)``), reported by :func:`inspect.signature` and
    used to bind keyword arguments (``pow(A=M, p=2)``), and dispatches through :func:`apply`.

    ``vjp_reads`` names what the VJP reads besides ``g`` and the parameters: ``"inputs"``,
    ``"output"``, both (the default) or neither (``add``'s ``(g, g)``).

    A unary op (``arity=1``) may leave out ``shape`` (default :func:`unary_shape`: the
    input's shape) and, if it has no parameters, ``cases`` (default :func:`unary_cases`:
    every shape up to k×k). Other ops must give both.
    """

    def wrap(forward: Callable[..., Any]) -> Callable[..., Any]:
        name = forward.__name__
        if name in _registry:
            raise ValueError(f"op {name!r} is registered twice")
        if not set(int_params) <= set(params):
            raise ValueError(f"op {name!r}: int_params {int_params} must name parameters")
        if not set(vjp_reads) <= {"inputs", "output"}:
            raise ValueError(f"op {name!r}: vjp_reads {vjp_reads} may name 'inputs', 'output'")
        op = OpSpec(
            name=name,
            arity=arity,
            params=params,
            shape=_default(name, "shape", shape, unary_shape if arity == 1 else None),
            forward=forward,
            vjp=vjp,
            spec=spec,
            domains=domains if domains is not None else (InputDomain(),) * arity,
            bound=bound,
            cases=_default(
                name, "cases", cases, unary_cases() if arity == 1 and not params else None
            ),
            smooth=smooth,
            scalar_first=scalar_first,
            doc=forward.__doc__ or "",
            vjp_selective=vjp_selective,
            vjp_reads_inputs="inputs" in vjp_reads,
            vjp_reads_output="output" in vjp_reads,
            int_params=int_params,
            formula=formula,
            rule=rule,
        )
        public = _public_function(op, forward)
        _registry[name] = op
        _public[name] = public
        return public

    return wrap


def _default(name: str, what: str, given: Any, default: Any) -> Any:
    if given is not None:
        return given
    if default is None:
        whose = "unary ops without parameters" if what == "cases" else "unary ops"
        raise ValueError(f"op {name!r} needs {what}= (only {whose} have a default {what})")
    return default


def _public_signature(op: OpSpec, forward: Callable[..., Any]) -> inspect.Signature:
    """The call signature of the public function: the kernel's parameter names, with the
    single parameter first for a ``scalar_first`` op (``scale(c, A)``)."""
    names = list(inspect.signature(forward).parameters)
    if len(names) != op.arity + len(op.params) or tuple(names[op.arity :]) != op.params:
        raise ValueError(
            f"op {op.name!r}: the kernel's arguments {names} must be {op.arity} input(s) "
            f"followed by the parameters {list(op.params)}"
        )
    if op.scalar_first:
        names = [*names[op.arity :], *names[: op.arity]]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter(n, kind) for n in names])


def _public_function(op: OpSpec, forward: Callable[..., Any]) -> Callable[..., Any]:
    """``ops.<name>``: bind the arguments, split inputs from parameters, :func:`apply`."""
    name, arity, params = op.name, op.arity, op.params
    sig = _public_signature(op, forward)
    n_args = arity + len(params)

    @functools.wraps(forward)
    def public(*args: Any, **kwargs: Any) -> Any:
        if not kwargs and len(args) == n_args:  # the common call: positional, complete
            if not params:
                return apply(op, args, ())
            if op.scalar_first:
                return apply(op, args[len(params) :], args[: len(params)])
            return apply(op, args[:arity], args[arity:])
        if kwargs:
            unknown = sorted(set(kwargs) - set(sig.parameters))
            if unknown:
                raise TypeError(f"{name}{sig} got unexpected argument(s) {unknown}")
            try:
                args = sig.bind(*args, **kwargs).args
            except TypeError as exc:
                raise TypeError(f"{name}{sig}: {exc}") from None
        if len(args) != n_args:
            raise TypeError(
                f"{name}() takes {arity} matrix argument(s)"
                + (f" and the parameter(s) {', '.join(params)}" if params else "")
                + f"; got {len(args)} argument(s)"
            )
        if op.scalar_first:
            return apply(op, args[len(params) :], args[: len(params)])
        return apply(op, args[:arity], args[arity:])

    public.__name__ = name
    public.__qualname__ = name
    public.__signature__ = sig  # type: ignore[attr-defined]
    return public


# ----------------------------------------------------------------- shape rules
def same_shape(rule: str) -> Callable[..., Shape]:
    """The shape rule of element-wise binary ops: equal shapes in, the same shape out."""

    def check(a: Shape, b: Shape, *_: Any) -> Shape:
        if a != b:
            raise ShapeError(equal_shapes_message(rule, a, b))
        return a

    return check


def unary_shape(a: Shape, *_: Any) -> Shape:
    """The shape rule of element-wise unary ops."""
    return a


def unary_cases(params: tuple[tuple[Any, ...], ...] = ((),)) -> Callable[[int], Iterator[Case]]:
    """Every shape up to ``k×k``, once per parameter value class."""

    def gen(k: int) -> Iterator[Case]:
        for m in range(1, k + 1):
            for n in range(1, k + 1):
                for p in params:
                    yield ((m, n),), p

    return gen


def binary_cases(k: int) -> Iterator[Case]:
    """Every pair of equal shapes up to ``k×k``."""
    for m in range(1, k + 1):
        for n in range(1, k + 1):
            yield ((m, n), (m, n)), ()
