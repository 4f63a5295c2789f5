"""Meta-tests of the op registry: completeness, coverage by the proofs and properties, the
public surface, and the explicit special cases of each op (kinks, domain errors, stable forms
at large |x|, shape and arity errors).

Coverage is checked against the registry itself, so adding an op without a proof case or a
property test fails here.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import random
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import refnn
from refnn import DomainError, Matrix, ShapeError, ops
from refnn.ops import ErrorBound, InputDomain, OpSpec, registry
from refnn.testing import matmul_pairs, matrices, matrix_pairs

ROOT = Path(__file__).resolve().parent.parent
OPS = sorted(registry)


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_meta_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def _parametrized_values(fn: Any, argname: str) -> list[Any]:
    for mark in getattr(fn, "pytestmark", []):
        names = mark.args[0] if mark.name == "parametrize" else ()
        if isinstance(names, (tuple, list)):
            names = ",".join(names)
        if names == argname:
            return list(mark.args[1])
    raise AssertionError(f"{fn.__name__} is not parametrised over {argname!r}")


def call(spec: OpSpec, inputs: tuple[Any, ...], params: tuple[Any, ...] = ()) -> Any:
    """Call the public function ``refnn.ops.<name>`` with the library's argument order."""
    f = getattr(ops, spec.name)
    return f(*params, *inputs) if spec.scalar_first else f(*inputs, *params)


def m(*rows: list[Any]) -> Matrix[Any]:
    return Matrix(list(rows))


def grad1(f: Any, x: float) -> float:
    """d/dx of the scalar function f at x, through refnn.grad on a 1×1 matrix."""
    g = refnn.grad(lambda a: ops.sum(f(a)))(m([x]))
    return float(g[1, 1])


# ------------------------------------------------------------------ completeness
@pytest.mark.parametrize("name", OPS)
def test_entry_is_complete(name: str) -> None:
    spec = registry[name]
    assert isinstance(spec, OpSpec) and spec.name == name
    for attr in ("forward", "vjp", "spec", "shape", "cases"):
        assert callable(getattr(spec, attr)), f"{name}.{attr} is not callable"
    assert spec.arity in (1, 2)
    assert len(spec.domains) == spec.arity, f"{name}: one InputDomain per input"
    assert all(isinstance(d, InputDomain) and d.lo < d.hi for d in spec.domains)
    assert isinstance(spec.bound, ErrorBound)
    assert spec.bound.ulps >= 0 and spec.bound.vjp_ulps >= 0
    assert spec.doc.strip(), f"{name} has no docstring"
    cases = list(spec.cases(3))
    assert cases, f"{name} lists no cases up to 3×3"
    shapes_seen = set()
    for shapes, params in cases:
        assert len(shapes) == spec.arity and len(params) == len(spec.params)
        spec.shape(*shapes, *params)  # every listed case satisfies the shape rule
        shapes_seen.update(shapes)
    assert (3, 3) in shapes_seen, f"{name}: cases stop below 3×3"
    assert len(list(spec.cases(2))) < len(cases), f"{name}: cases(k) ignores k"


def _draw_in(domain: InputDomain, rng: random.Random) -> float:
    while True:
        x = rng.uniform(domain.lo, domain.hi)
        if domain.contains(x):
            return x


@pytest.mark.parametrize("name", OPS)
def test_vjp_reads_only_what_it_declares(name: str) -> None:
    """Autodiff keeps on its tape only the inputs and output an op's VJP reads
    (``vjp_reads``), and calls the VJP with ``xs = ()`` / ``y = None`` for the rest: the
    cotangents must be the same as with everything given, on every case up to 3×3."""
    spec = registry[name]
    rng = random.Random(name)
    for shapes, params in spec.cases(3):
        xs = tuple(
            Matrix.from_flat(r, c, [_draw_in(d, rng) for _ in range(r * c)])
            for (r, c), d in zip(shapes, spec.domains, strict=True)
        )
        y = ops.apply(spec, xs, params)
        g = Matrix.from_flat(*y.shape, [rng.uniform(-2.0, 2.0) for _ in range(y.size)])
        needs = (True,) * spec.arity
        full = spec.cotangents(g, y, xs, params, needs)
        kept = spec.cotangents(
            g,
            y if spec.vjp_reads_output else None,
            xs if spec.vjp_reads_inputs else (),
            params,
            needs,
        )
        assert kept == full, f"{name} {shapes} {params}"


@pytest.mark.parametrize("name", OPS)
def test_public_function(name: str) -> None:
    assert name in ops.__all__
    f = getattr(ops, name)
    assert callable(f) and f.__name__ == name
    assert inspect.getdoc(f), f"refnn.ops.{name} has no docstring"
    spec = registry[name]
    (shapes, params), *_ = spec.cases(2)
    inputs = tuple(Matrix.full(a, b, 0.5) for a, b in shapes)
    assert call(spec, inputs, params) == ops.apply(spec, inputs, params)
    assert spec(*((*params, *inputs) if spec.scalar_first else (*inputs, *params))) == call(
        spec, inputs, params
    )


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry["tanh2"] = registry["tanh"]  # type: ignore[index]
    assert set(ops.__all__) >= set(registry)


# ------------------------------------------------------------------ coverage by the three nets
def test_proofs_cover_every_op_and_case() -> None:
    proofs = _load(ROOT / "proofs" / "prove_ops.py")
    params = _parametrized_values(proofs.test_op_forward_and_vjp_equal_spec, "name,shapes,params")
    assert params == proofs.PROOF_CASES
    assert {c[0] for c in params} == set(registry), "an op has no proof"
    for name in OPS:
        proven = [(s, p) for (n, s, p) in params if n == name]
        assert proven == list(registry[name].cases(proofs.K)), f"{name}: a case is not proven"
    assert proofs.K >= 3


def test_property_tests_cover_every_op() -> None:
    props = _load(ROOT / "tests" / "test_ops_properties.py")
    for fn in (props.test_forward_matches_spec, props.test_vjp_matches_spec):
        assert _parametrized_values(fn, "name") == OPS


# ------------------------------------------------------------------ operators are the ops
@given(matrix_pairs())
def test_elementwise_operators_are_the_ops(pair: tuple[Matrix[Any], Matrix[Any]]) -> None:
    A, B = pair
    assert A + B == ops.add(A, B)
    assert A - B == ops.sub(A, B)
    assert -A == ops.neg(A)
    assert A.hadamard(B) == ops.hadamard(A, B)
    assert A.T == ops.transpose(A)


@given(matmul_pairs())
def test_matmul_operator_is_the_op(pair: tuple[Matrix[Any], Matrix[Any]]) -> None:
    A, B = pair
    assert A @ B == ops.matmul(A, B)


@given(matrices(), st.sampled_from([2, -0.5, 0, 3.25, Fraction(1, 4)]))
def test_scalar_multiple_is_scale(A: Matrix[Any], c: Any) -> None:
    expected = ops.scale(c, A)
    cf = float(c) if isinstance(c, Fraction) else c
    assert cf * A == expected and A * cf == expected


def test_scale_of_exact_matrices_stays_exact() -> None:
    A = m([Fraction(1, 3), 2])
    assert ops.scale(Fraction(3, 2), A) == m([Fraction(1, 2), 3])
    assert ops.scale(Fraction(3, 2), A).domain is refnn.scalars.FRACTION


# ------------------------------------------------------------------ kink conventions
def test_relu_and_step_at_zero() -> None:
    assert ops.relu(m([0.0, -0.0])) == m([0.0, 0.0])
    assert ops.step(m([0.0, -0.0, 1e-300, -1e-300])) == m([0, 0, 1, 0])
    assert grad1(ops.relu, 0.0) == 0.0  # relu'(0) = 0
    assert grad1(ops.relu, 1e-300) == 1.0 and grad1(ops.relu, -1e-300) == 0.0
    assert grad1(ops.step, 0.0) == 0.0 and grad1(ops.step, 2.0) == 0.0


@pytest.mark.parametrize("slope", [0.01, 0.2, Fraction(1, 5)])
def test_leaky_relu_at_zero(slope: Any) -> None:
    f = lambda a: ops.leaky_relu(a, slope)  # noqa: E731
    assert f(m([0.0])) == m([0.0])
    assert grad1(f, 0.0) == float(slope)  # leaky'(0) = slope
    assert grad1(f, 1.5) == 1.0 and grad1(f, -1.5) == float(slope)
    assert f(m([-2.0])) == m([-2.0 * float(slope)])


@pytest.mark.parametrize(("lo", "hi"), [(-1.0, 1.0), (0.0, 0.5), (2, 2)])
def test_clip_at_its_ends(lo: float, hi: float) -> None:
    f = lambda a: ops.clip(a, lo, hi)  # noqa: E731
    assert f(m([lo, hi, lo - 1, hi + 1])) == m([lo, hi, lo, hi])
    assert grad1(f, lo) == 0.0 and grad1(f, hi) == 0.0  # clip' = 0 at lo and hi
    assert grad1(f, lo - 0.25) == 0.0 and grad1(f, hi + 0.25) == 0.0
    if lo < hi:
        assert grad1(f, (lo + hi) / 2) == 1.0


def test_clip_needs_lo_at_most_hi() -> None:
    with pytest.raises(DomainError, match="lo ≤ hi"):
        ops.clip(m([0.0]), 1, -1)


# ------------------------------------------------------------------ domain errors
@pytest.mark.parametrize("x", [0.0, -0.0, -1.0, -1e-300])
def test_log_of_non_positive(x: float) -> None:
    with pytest.raises(DomainError, match="log"):
        ops.log(m([1.0, x]))


def test_sqrt_of_negative() -> None:
    with pytest.raises(DomainError, match="sqrt"):
        ops.sqrt(m([4.0, -1e-9]))
    assert ops.sqrt(m([0.0, 4.0])) == m([0.0, 2.0])


@pytest.mark.parametrize("zero", [0.0, -0.0, 0, Fraction(0)])
def test_div_by_zero(zero: Any) -> None:
    num = Fraction(1) if isinstance(zero, Fraction) else 1.0
    with pytest.raises(DomainError, match="division by a zero"):
        ops.div(m([num, num]), m([2, zero]))


def test_pow_domain() -> None:
    with pytest.raises(DomainError, match="non-integer"):
        ops.pow(m([-2.0]), 0.5)
    with pytest.raises(DomainError, match="non-integer"):
        ops.pow(m([-2.0]), Fraction(1, 3))
    with pytest.raises(DomainError, match="zero entry"):
        ops.pow(m([0.0]), -1)
    assert ops.pow(m([-2.0]), 3) == m([-8.0])
    assert ops.pow(m([-2.0]), 2.0) == m([4.0])


def test_exp_has_no_exact_form_for_fractions() -> None:
    with pytest.raises(DomainError):
        ops.exp(m([Fraction(1, 2)]))


def test_exp_overflow_is_an_error() -> None:
    with pytest.raises(OverflowError):
        ops.exp(m([800.0]))


# ------------------------------------------------------------------ stable forms at large |x|
def test_sigmoid_is_stable() -> None:
    y = ops.sigmoid(m([800.0, -800.0, 40.0, -40.0, 0.0]))
    assert y[1, 1] == 1.0 and y[1, 2] == 0.0
    assert y[1, 3] == 1.0  # 1 − e⁻⁴⁰ rounds to 1
    assert math.isclose(y[1, 4], math.exp(-40.0), rel_tol=1e-15)  # e⁻⁴⁰/(1 + e⁻⁴⁰), no 1 − …
    assert y[1, 5] == 0.5
    g = refnn.grad(lambda a: ops.sum(ops.sigmoid(a)))(m([800.0, -800.0]))
    assert g == m([0.0, 0.0])


def test_softplus_is_stable() -> None:
    y = ops.softplus(m([800.0, -800.0, -700.0, 0.0, 40.0]))
    assert y[1, 1] == 800.0
    assert y[1, 2] == 0.0  # e⁻⁸⁰⁰ ≈ 3.7e−348 is below the smallest double: correctly 0
    assert y[1, 3] > 0 and math.isclose(y[1, 3], math.exp(-700.0), rel_tol=1e-14)
    assert math.isclose(y[1, 4], math.log(2.0), rel_tol=1e-15)
    assert y[1, 5] == 40.0  # 40 + log1p(e⁻⁴⁰) rounds to 40
    assert refnn.grad(lambda a: ops.sum(ops.softplus(a)))(m([800.0])) == m([1.0])


def test_softmax_rows_are_stable_and_normalised() -> None:
    A = m([1000.0, 999.0, -1000.0], [1e-3, 2e-3, 3e-3], [-1000.0, -1000.0, -1000.0])
    Y = ops.softmax_rows(A)
    for r in Y.rows():
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in r)
        assert abs(math.fsum(r) - 1.0) <= 4 * 2.0**-52
    e = math.exp(-1.0)
    assert math.isclose(Y[1, 1], 1 / (1 + e), rel_tol=1e-15)
    assert math.isclose(Y[1, 2], e / (1 + e), rel_tol=1e-15)
    assert Y[1, 3] == 0.0
    assert all(math.isclose(v, 1 / 3, rel_tol=1e-15) for v in Y.row(3).data)


def test_log_softmax_rows_is_finite_for_large_entries() -> None:
    Y = ops.log_softmax_rows(m([1000.0, 1000.0], [1000.0, -1000.0]))
    assert all(math.isfinite(v) for v in Y.data)
    assert math.isclose(Y[1, 1], -math.log(2.0), rel_tol=1e-15) and Y[1, 1] == Y[1, 2]
    assert Y[2, 1] == 0.0 and Y[2, 2] == -2000.0
    g = refnn.grad(lambda a: ops.sum(ops.log_softmax_rows(a)))(m([1000.0, 1000.0]))
    assert g == m([0.0, 0.0])  # 1 − 2·(1/2)


# ------------------------------------------------------------------ shape errors
SAME_SHAPE_RULES = {
    "add": "element-wise addition",
    "sub": "element-wise subtraction",
    "hadamard": "the Hadamard product ⊙",
    "div": "element-wise division",
}


@pytest.mark.parametrize("name", sorted(SAME_SHAPE_RULES))
def test_same_shape_rule(name: str) -> None:
    with pytest.raises(ShapeError) as info:
        getattr(ops, name)(Matrix.full(2, 2, 1.0), Matrix.full(1, 3, 1.0))
    assert str(info.value) == f"{SAME_SHAPE_RULES[name]} needs equal shapes: 2×2 and 1×3"


def test_every_equal_shape_binary_op_has_a_named_rule() -> None:
    equal = {
        n
        for n, s in registry.items()
        if s.arity == 2 and all(sh[0] == sh[1] for sh, _ in s.cases(3))
    }
    assert equal == set(SAME_SHAPE_RULES)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "matmul",
            ((2, 3), (2, 3)),
            "the matrix product needs the columns of the left to "
            "match the rows of the right: 2×3 @ 2×3",
        ),
        (
            "add_row",
            ((2, 3), (1, 2)),
            "add_row adds a 1×n row to every row of an m×n matrix: 2×3 and 1×2",
        ),
        (
            "add_row",
            ((2, 3), (2, 3)),
            "add_row adds a 1×n row to every row of an m×n matrix: 2×3 and 2×3",
        ),
        ("concat_cols", ((2, 3), (3, 3)), "concat_cols needs the same number of rows: 2×3 and 3×3"),
    ],
)
def test_binary_shape_rules(name: str, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ShapeError) as info:
        getattr(ops, name)(*(Matrix.full(a, b, 1.0) for a, b in args))
    assert str(info.value) == message


@pytest.mark.parametrize(("shape", "to"), [((2, 3), (3, 3)), ((2, 2), (2, 3)), ((1, 2), (3, 3))])
def test_broadcast_shape_rule(shape: tuple[int, int], to: tuple[int, int]) -> None:
    with pytest.raises(ShapeError) as info:
        ops.broadcast(Matrix.full(*shape, 1.0), *to)
    assert str(info.value) == (
        f"broadcast stretches a 1×1, 1×n or m×1 matrix to m×n: {shape[0]}×{shape[1]} "
        f"cannot become {to[0]}×{to[1]}"
    )


@pytest.mark.parametrize(("j1", "j2"), [(0, 1), (2, 1), (1, 4), (3, 4), (1.0, 2)])
def test_slice_cols_shape_rule(j1: Any, j2: Any) -> None:
    with pytest.raises(ShapeError) as info:
        ops.slice_cols(Matrix.full(2, 3, 1.0), j1, j2)
    assert "1 ≤ j1 ≤ j2 ≤ n (1-based, inclusive) of a 2×3 matrix" in str(info.value)
    assert f"got {j1}..{j2}" in str(info.value)


# ------------------------------------------------------------------ arity and type errors
@pytest.mark.parametrize("name", OPS)
def test_wrong_arity_is_a_type_error(name: str) -> None:
    spec = registry[name]
    (shapes, params), *_ = spec.cases(1)
    args = [*(Matrix.full(a, b, 0.5) for a, b in shapes), *params]
    f = getattr(ops, name)
    with pytest.raises(TypeError, match=f"{name}\\(\\) takes {spec.arity} matrix argument"):
        f(*args[:-1])
    with pytest.raises(TypeError, match=f"{name}\\(\\) takes {spec.arity} matrix argument"):
        f(*args, args[0])


@pytest.mark.parametrize("name", OPS)
def test_non_matrix_argument_is_a_type_error(name: str) -> None:
    spec = registry[name]
    (shapes, params), *_ = spec.cases(1)
    inputs = [[[0.5]] for _ in shapes]  # nested lists, not matrices
    with pytest.raises(TypeError, match="Matrix"):
        call(spec, tuple(inputs), params)
