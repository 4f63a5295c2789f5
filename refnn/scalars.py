"""Scalar domains: what the entries of a :class:`~refnn.Matrix` are.

A matrix belongs to exactly one domain, chosen once when it is built:

========== ======================================= ==========================================
domain     entries                                 what it is for
========== ======================================= ==========================================
``float``  ``int`` and ``float`` (IEEE double)     the default; fast numbers
``fraction`` ``fractions.Fraction`` (and ``int``)  exact rational arithmetic (a reference)
``sympy``  SymPy expressions (and numbers)         symbols: the proofs run the real code
``mpmath`` ``mpmath.mpf`` (and ``int``/``float``)  high precision evaluation
========== ======================================= ==========================================

**Integers.** In the ``float`` domain, ``int`` entries are kept exactly as Python keeps them:
``int + int`` stays ``int``, and an ``int`` becomes a ``float`` only when an operation mixes
it with a float (or is inherently inexact, like ``exp``), exactly as in Python arithmetic.
So ``Matrix([[1, 2]]) + Matrix([[3, 4]])`` is ``Matrix([[4, 6]])``.

**Mixing domains** in one binary operation follows :func:`join`:

* the same domain gives that domain;
* ``float`` with ``sympy`` or ``mpmath`` gives the richer domain (a double converts exactly);
* a ``float``-domain matrix whose entries are all ``int`` joins any domain;
* otherwise (``Fraction`` with ``float``, ``Fraction`` with ``mpmath``, ``sympy`` with
  ``mpmath``) a :class:`~refnn.DomainError` is raised: a reference does not round
  silently. Convert explicitly with ``A.map(float)`` or ``A.map(Fraction)``.

**Elementary functions** (``exp``, ``log``, ``tanh``, ``sin``, …) are looked up by
:meth:`Domain.fn` once per matrix, never per element. In the ``fraction`` domain only the
functions with exact rational results exist (``relu``, ``abs``, ``max``, …); asking for
``exp`` raises :class:`~refnn.DomainError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from refnn.errors import DomainError
from refnn.rules import RULES, check, violation

# the domain rules' predicates (refnn.rules), bound once: they run per entry
_LOG, _SQRT, _DIV = RULES["log"].outside, RULES["sqrt"].outside, RULES["div"].outside
_POW_NEG, _POW_ZERO = RULES["pow_neg"].outside, RULES["pow_zero"].outside

__all__ = [
    "FLOAT",
    "FRACTION",
    "MPMATH",
    "SYMPY",
    "Domain",
    "detect",
    "domain_of_scalar",
    "join",
]

ScalarFn = Callable[..., Any]


@dataclass(frozen=True, eq=False)
class Domain:
    """One scalar domain and its table of elementary functions.

    ``fn(name)`` returns a callable on single scalars of this domain. Tables are built
    lazily (SymPy and mpmath are imported only when a matrix of theirs appears).
    """

    name: str
    _builder: Callable[[], dict[str, ScalarFn]] = field(repr=False)
    _table: dict[str, ScalarFn] = field(default_factory=dict, repr=False)

    def fn(self, name: str) -> ScalarFn:
        """The scalar function ``name`` of this domain (raises :class:`DomainError`)."""
        if not self._table:
            self._table.update(self._builder())
        try:
            return self._table[name]
        except KeyError:
            raise DomainError(
                f"{name} has no exact form in the {self.name} domain; convert the matrix "
                f"first, e.g. A.map(float)"
            ) from None

    def has(self, name: str) -> bool:
        """Whether this domain defines the scalar function ``name``."""
        if not self._table:
            self._table.update(self._builder())
        return name in self._table

    def __repr__(self) -> str:
        return f"<scalar domain {self.name}>"


# --------------------------------------------------------------------------- float
def _float_log(x: float) -> float:
    if _LOG(x):
        raise violation("log", x)
    return math.log(x)


def _float_sqrt(x: float) -> float:
    if _SQRT(x):
        raise violation("sqrt", x)
    return math.sqrt(x)


def _float_sigmoid(x: float) -> float:
    # Stable for large |x|: never evaluates exp of a large positive number.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _float_softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): no overflow, full accuracy for x << 0.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _float_pow(x: float, p: Any) -> Any:
    if _POW_NEG(x, p):
        raise violation("pow_neg", x, p)
    if _POW_ZERO(x, p):
        raise violation("pow_zero", x, p)
    return x**p


def _float_periodic(name: str, f: Callable[[float], float]) -> ScalarFn:
    def g(x: float) -> float:
        try:
            return f(x)
        except ValueError:  # only ±inf: sin and cos have no limit there
            raise DomainError(f"{name} is undefined at {x!r} (no limit at ±inf)") from None

    g.__name__ = name
    return g


def _float_step(x: Any) -> Any:
    # 1 where x > 0, 0 where x ≤ 0, and NaN stays NaN (a comparison with NaN is false both
    # ways, so NaN is neither and propagates, as it does through every other float op)
    return 1 if x > 0 else (0 if x <= 0 else x)


def _float_relu(x: Any) -> Any:
    if x > 0:
        return x
    if x == -math.inf:  # 0·(−inf) would be NaN; the limit is 0
        return 0.0
    return 0 * x  # an int stays int; NaN stays NaN


def _float_div(x: Any, y: Any) -> Any:
    if _DIV(y):
        raise violation("div", y)
    return x / y


def _exact_common() -> dict[str, ScalarFn]:
    """Functions with exact results for int, float and Fraction entries alike."""
    return {
        "relu": lambda x: x if x > 0 else 0 * x,
        "step": lambda x: 1 if x > 0 else 0,
        "abs": abs,
        "max": max,
        "min": min,
        "square": lambda x: x * x,
    }


#: Float-domain functions whose checked form in the table differs from the C function only
#: in turning its ``ValueError`` (sin and cos of ±inf) into a :class:`DomainError`: a kernel
#: maps the C function over a whole matrix and, if it raises ``ValueError``, maps the
#: checked one again to raise that error. The values are the same either way.
FLOAT_UNCHECKED: dict[str, ScalarFn] = {"sin": math.sin, "cos": math.cos}


def _build_float() -> dict[str, ScalarFn]:
    t = _exact_common()
    t.update(
        exp=math.exp,
        log=_float_log,
        sqrt=_float_sqrt,
        tanh=math.tanh,
        sin=_float_periodic("sin", math.sin),
        cos=_float_periodic("cos", math.cos),
        step=_float_step,
        relu=_float_relu,
        sigmoid=_float_sigmoid,
        softplus=_float_softplus,
        pow=_float_pow,
        div=_float_div,
        to_float=float,
    )
    return t


def _build_fraction() -> dict[str, ScalarFn]:
    t = _exact_common()

    def fpow(x: Fraction, p: Any) -> Any:
        if p != int(p):
            raise DomainError(f"pow to a non-integer power {p!r} is not exact for Fractions")
        if _POW_ZERO(x, p):
            raise violation("pow_zero", x, p)
        return Fraction(x) ** int(p)

    def fdiv(x: Any, y: Any) -> Any:
        if _DIV(y):
            raise violation("div", y)
        return Fraction(x) / Fraction(y)

    t.update(pow=fpow, div=fdiv, to_float=float)
    return t


def _build_sympy() -> dict[str, ScalarFn]:
    import sympy

    def spow(x: Any, p: Any) -> Any:
        return x ** sympy.nsimplify(p) if isinstance(p, float) else x**p

    return {
        "exp": sympy.exp,
        "log": sympy.log,
        "sqrt": sympy.sqrt,
        "tanh": sympy.tanh,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
        "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
        "relu": lambda x: sympy.Piecewise((x, x > 0), (0, True)),
        "step": lambda x: sympy.Piecewise((1, x > 0), (0, True)),
        "abs": sympy.Abs,
        "max": sympy.Max,
        "min": sympy.Min,
        "square": lambda x: x**2,
        "pow": spow,
        "div": lambda x, y: x / y,
        "to_float": lambda x: float(x),
    }


def _build_mpmath() -> dict[str, ScalarFn]:
    import mpmath

    def mlog(x: Any) -> Any:
        check("log", x)
        return mpmath.log(x)

    def msqrt(x: Any) -> Any:
        check("sqrt", x)
        return mpmath.sqrt(x)

    def mpow(x: Any, p: Any) -> Any:
        check("pow_neg", x, p)
        check("pow_zero", x, p)
        return mpmath.power(x, p)

    def mdiv(x: Any, y: Any) -> Any:
        check("div", y)
        return mpmath.mpf(x) / y

    t = _exact_common()
    t.update(
        exp=mpmath.exp,
        log=mlog,
        sqrt=msqrt,
        tanh=mpmath.tanh,
        sin=mpmath.sin,
        cos=mpmath.cos,
        sigmoid=lambda x: 1 / (1 + mpmath.exp(-x)),
        softplus=lambda x: mpmath.log1p(mpmath.exp(x)),
        pow=mpow,
        div=mdiv,
        to_float=float,
    )
    return t


FLOAT = Domain("float", _build_float)
FRACTION = Domain("fraction", _build_fraction)
SYMPY = Domain("sympy", _build_sympy)
MPMATH = Domain("mpmath", _build_mpmath)


def _module_root(tp: type) -> str:
    return tp.__module__.partition(".")[0]


def domain_of_scalar(x: object) -> Domain:
    """The domain a single scalar belongs to (``int`` and ``float`` → ``FLOAT``).

    Raises ``TypeError`` for anything that is not a number of a supported domain:
    ``bool``, ``str``, ``None``, ``complex``, containers, ….
    """
    tp = type(x)
    if tp is float or tp is int:
        return FLOAT
    if tp is Fraction:
        return FRACTION
    if tp is bool or isinstance(x, bool):
        raise TypeError("matrix entries must be numbers; got a bool (True/False)")
    root = _module_root(tp)
    if root == "sympy":
        return SYMPY
    if root == "mpmath":
        return MPMATH
    if isinstance(x, int):  # int subclasses (e.g. IntEnum) are taken as plain ints
        return FLOAT
    if isinstance(x, float):
        return FLOAT
    raise TypeError(
        f"matrix entries must be real numbers (int, float, Fraction, a SymPy expression or "
        f"an mpmath mpf); got {tp.__name__} {x!r}"
    )


def detect(entries: Iterable[object]) -> Domain:
    """The one domain of a collection of entries (validating every entry)."""
    kinds: set[str] = set()
    all_int = True
    for x in entries:
        d = domain_of_scalar(x)
        kinds.add(d.name)
        if d is FLOAT and type(x) is not int:
            all_int = False
    if kinds <= {"float"}:
        return FLOAT
    non_float = kinds - {"float"}
    if "sympy" in non_float and non_float - {"sympy", "fraction"}:
        raise DomainError(f"cannot mix entries of the domains {sorted(kinds)} in one matrix")
    if "sympy" in non_float:
        return SYMPY
    if len(non_float) > 1:
        raise DomainError(f"cannot mix entries of the domains {sorted(kinds)} in one matrix")
    (only,) = non_float
    if only == "fraction" and "float" in kinds and not all_int:
        raise DomainError(
            "cannot mix Fraction and float entries in one matrix (a reference does not "
            "round silently); convert with float(x) or Fraction(x)"
        )
    return {"fraction": FRACTION, "mpmath": MPMATH}[only]


def join(a: Domain, b: Domain, a_entries: Iterable[object], b_entries: Iterable[object]) -> Domain:
    """The domain of a binary operation's result (see the module docstring).

    The entry iterables are read only in the rare case of a ``float``-domain operand
    meeting a ``fraction`` one (allowed when that operand holds only ints).
    """
    if a is b:
        return a
    names = {a.name, b.name}
    if names == {"float", "sympy"} or names == {"fraction", "sympy"}:
        return SYMPY
    if names == {"float", "mpmath"}:
        return MPMATH
    if names == {"float", "fraction"}:
        flt = a_entries if a is FLOAT else b_entries
        if all(type(x) is int for x in flt):
            return FRACTION
        raise DomainError(
            "cannot combine a Fraction matrix with a float matrix (a reference does not "
            "round silently); convert one of them first with A.map(float) or A.map(Fraction)"
        )
    raise DomainError(f"cannot combine matrices of the {a.name} and {b.name} domains")
