"""Tests that kill the mutants a sampled mutation run found alive (issue 13, item 8).

Each test names the mutant it kills. Every expectation comes from outside the code under
test: exact ``Fraction`` arithmetic, a correctly rounded IEEE division, a documented
default, or a hand-drawn random sequence.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest

import refnn
from refnn import Matrix, ShapeError, image, nn, ops, scalars
from refnn.matrix import gamma

U = Fraction(1, 2**53)  # the unit roundoff of IEEE double precision


# ----------------------------------------------------------------------- ops.concrete
class _Box:
    """A stand-in for a tracer: anything with ``__refnn_value__``."""

    def __init__(self, value: Any) -> None:
        self.__refnn_value__ = value


def test_concrete_unwraps_every_level_and_leaves_values_alone() -> None:
    # mutants: `if` for `while` (one level only), returning x unchanged
    M = Matrix([[1.0, 2.0]])
    assert ops.concrete(M) is M
    assert ops.concrete(_Box(M)) is M
    assert ops.concrete(_Box(_Box(_Box(M)))) is M
    assert ops.concrete(3.5) == 3.5


def test_concrete_sees_the_matrix_under_nested_grads() -> None:
    M = Matrix([[0.5, -1.5]])
    seen: list[Any] = []

    def inner(x: Any) -> Any:
        seen.append(ops.concrete(x))
        return ops.sum(ops.square(x))

    def outer(x: Any) -> Any:
        return ops.sum(refnn.grad(inner)(x))  # d/dx Σ 2x = 2 per entry

    assert refnn.grad(outer)(M) == Matrix([[2.0, 2.0]])
    assert seen and all(type(v) is Matrix and v == M for v in seen)


# ----------------------------------------------------------------------- autodiff seeds
def test_float_gradients_are_floats_not_ints() -> None:
    # mutant: autodiff._filled_like seeding float-domain gradients with the int 1 (or 0)
    M = Matrix([[1.0, 2.0], [3.0, 4.0]])
    g = refnn.grad(lambda a: ops.sum(a))(M)
    assert g.domain is scalars.FLOAT
    assert all(type(v) is float and v == 1.0 for v in g.data)
    # an argument the output does not depend on gets a float zero gradient
    _, gy = refnn.grad(lambda a, b: ops.sum(a), argnums=(0, 1))(M, M)
    assert all(type(v) is float and v == 0.0 for v in gy.data)


def test_exact_gradients_stay_exact() -> None:
    F = Matrix([[Fraction(1, 3), Fraction(2, 3)]])
    g = refnn.grad(lambda a: ops.mean(a))(F)
    assert g.data == (Fraction(1, 2), Fraction(1, 2))


# ----------------------------------------------------------------------- gamma(n)
@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000, 2**20, 2**40])
def test_gamma_is_nu_over_one_minus_nu(n: int) -> None:
    # mutant: nu * (1 - nu) in place of nu / (1 - nu); that is below n·u, γₙ is above it
    exact = n * U / (1 - n * U)
    assert Fraction(gamma(n)) > n * U
    assert abs(Fraction(gamma(n)) - exact) <= 2 * U * exact  # two roundings at most


# ----------------------------------------------------------------------- Matrix.allclose
def test_allclose_is_relative_to_the_other_argument() -> None:
    # |a − b| ≤ atol + rtol·|b| (b is `other`); mutant: rtol·|a|
    assert Matrix([[1.0]]).allclose(Matrix([[2.0]]), rtol=0.5)  # 1 ≤ 0.5·2
    assert not Matrix([[2.0]]).allclose(Matrix([[1.0]]), rtol=0.5)  # 1 > 0.5·1
    assert Matrix([[0.0]]).allclose(Matrix([[1e-3]]), rtol=0.0, atol=1e-3)
    assert not Matrix([[0.0]]).allclose(Matrix([[1e-3]]), rtol=0.0, atol=9e-4)


# ----------------------------------------------------------------------- mean rounding
def test_float_mean_is_one_correctly_rounded_division() -> None:
    # mutant: total * (1/N), which is one ulp below 5/3 here
    assert ops.mean(Matrix([[1.0, 2.0, 2.0]])).data[0] == 5.0 / 3
    assert 5.0 * (1 / 3) != 5.0 / 3  # the mutant's value really differs
    assert ops.mean(Matrix([[1, 2, 2]])).data[0] == 5.0 / 3  # int entries, float domain
    assert ops.mean(Matrix([[Fraction(1), Fraction(2), Fraction(2)]])).data[0] == Fraction(5, 3)


def test_mpmath_mean_is_one_rounded_division_too() -> None:
    # kernel mutant (scripts/mutate_kernels.py): `is MPMATH` → `is not MPMATH`, which sends
    # mpmath matrices down the exact domains' path total·(1/N): two roundings
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workprec(53):
        M = Matrix([[mpmath.mpf(1), mpmath.mpf(2), mpmath.mpf(2)]])
        assert M.domain is scalars.MPMATH
        assert ops.mean(M).data[0] == mpmath.mpf(5) / 3
        assert mpmath.mpf(5) * (mpmath.mpf(1) / 3) != mpmath.mpf(5) / 3


# ----------------------------------------------------------------------- step_decay
def test_step_decay_default_gamma_is_one_tenth() -> None:
    # documented: k ↦ lr·γ^⌊k/step_size⌋ with γ = 0.1 by default
    s = nn.step_decay(2.0, 3)
    assert [s(k) for k in (0, 2, 3, 5, 6)] == [2.0, 2.0, 2.0 * 0.1, 2.0 * 0.1, 2.0 * 0.1**2]


# ----------------------------------------------------------------------- error types
def test_one_hot_with_no_classes_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="k ≥ 1"):
        nn.one_hot([1], 0)
    with pytest.raises(ShapeError, match="at least one label"):
        nn.one_hot([], 2)


@pytest.mark.parametrize(("in_features", "k"), [(2, 0), (0, 3), (2, -1), (2, 1.5)])
def test_fourier_features_with_no_columns_is_a_shape_error(in_features: Any, k: Any) -> None:
    # the error names the rule (not a later "a matrix needs n ≥ 1 columns" from Matrix)
    rule = r"needs an int (k|in_features) ≥ 1"
    with pytest.raises(ShapeError, match=rule):
        nn.FourierFeatures.gaussian(in_features, k, 1.0, random.Random(0))
    with pytest.raises(ShapeError, match=rule):
        image.gaussian_fourier_matrix(k, 1.0, 0, in_features)


def test_positional_features_with_no_frequencies_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="n_frequencies"):
        nn.FourierFeatures.positional(2, 0)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("inf"), float("nan")])
def test_fourier_sigma_must_be_positive_and_finite(sigma: float) -> None:
    with pytest.raises(refnn.DomainError, match="sigma"):
        nn.FourierFeatures.gaussian(2, 3, sigma, 0)


def test_numpy_matrix_refuses_empty_arrays() -> None:
    np = pytest.importorskip("numpy")
    from refnn.backends.numpy import NumpyMatrix

    for shape in ((2, 0), (0, 2), (0, 0)):
        with pytest.raises(ValueError, match="m, n ≥ 1"):
            NumpyMatrix(np.zeros(shape))
    with pytest.raises(ValueError, match="2-D"):
        NumpyMatrix(np.zeros(3))
    assert NumpyMatrix(np.zeros((1, 1))).shape == (1, 1)


# ----------------------------------------------------------------------- optimisers (mutmut)
# Survivors of `mutmut run` on refnn/nn/optim.py that were not equivalent. (The equivalent
# ones: zip(..., strict=True) → strict=False/None over lists built from one tree, and
# AdamW's decay factor forced on when λ = 0, which multiplies by exactly 1.)
def test_schedule_errors_name_the_rule() -> None:
    with pytest.raises(ValueError, match="step_size must be at least 1, got 0"):
        nn.step_decay(1.0, 0)
    with pytest.raises(ValueError, match="total_steps must be at least 1, got 0"):
        nn.cosine(1.0, 0)
    with pytest.raises(ValueError, match=r"^Nesterov momentum needs momentum > 0$"):
        nn.SGD(0.1, nesterov=True)


def test_cosine_defaults_to_zero_and_accepts_one_step() -> None:
    # k ↦ final + (lr − final)·(1 + cos(π·min(k, T)/T))/2, final = 0 by default
    s = nn.cosine(2.0, 4)
    assert s(0) == 2.0 and s(4) == 0.0 and s(9) == 0.0
    one = nn.cosine(2.0, 1)  # T = 1 is a valid schedule: lr, then final
    assert (one(0), one(1)) == (2.0, 0.0)


def test_adam_reads_a_schedule_at_the_step_being_made() -> None:
    # two steps with the schedule [a, b] equal a step of Adam(a), then Adam(b) continuing
    # from that state (the state carries t, so the bias correction is the same)
    a, b = 0.1, 0.025
    params = {"w": Matrix([[1.0, -2.0]])}
    g1, g2 = {"w": Matrix([[0.5, 0.25]])}, {"w": Matrix([[-1.0, 3.0]])}
    sched = nn.Adam(lambda k: (a, b)[k])
    p1, s1 = sched.update(g1, sched.init(params), params)
    p2, _ = sched.update(g2, s1, p1)
    q1, t1 = nn.Adam(a).update(g1, nn.Adam(a).init(params), params)
    q2, _ = nn.Adam(b).update(g2, t1, q1)
    assert p2 == q2
    r2, _ = nn.Adam(a).update(g2, t1, q1)
    assert p2 != r2  # the rate of the second step matters here


# ----------------------------------------------------------------------- parameter files (mutmut)
_M1, _M2 = Matrix([[1.0]]), Matrix([[1.0, 2.0]])


@pytest.mark.parametrize(
    ("got", "like", "message"),
    [
        ({"a": None}, {"a": _M1}, "params['a']: expected a matrix, the file has None"),
        ({"a": _M1}, {"a": None}, "params['a']: expected None, the file has a matrix"),
        ([_M1], (_M1,), "params: expected a tuple, the file has a list"),
        ((_M1,), (_M1, _M1), "params: expected 2 items, the file has 1"),
        ((None, (_M1,)), (None, (_M1, None)), "params[1]: expected 2 items, the file has 1"),
        ((_M1,), {"a": _M1}, "params: expected a dict, the file has a tuple"),
        ({"b": _M1}, {"a": _M1}, "params: expected the keys ['a'], the file has ['b']"),
        ({"a": (_M1,)}, {"a": _M1}, "params['a']: expected a matrix, the file has a tuple"),
        (
            {"a": {"w": _M1}},
            {"a": {"w": _M2}},
            "params['a']['w']: expected a 1×2 matrix, the file has 1×1",
        ),
    ],
)
def test_a_mismatched_file_says_where_and_what(got: Any, like: Any, message: str) -> None:
    # mutants: the path (`where`) or either kind dropped from the message, `or` → `and`
    with pytest.raises(nn.ParamsFormatError) as info:
        nn.serialize.decode_tree(nn.serialize.encode_tree(got), like=like)
    assert str(info.value) == message


def test_mlp_defaults_and_its_smallest_network() -> None:
    model = nn.mlp([2, 3, 1])  # documented default activation: tanh
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Tanh", "Dense"]
    assert [type(layer).__name__ for layer in nn.mlp([2, 1]).layers] == ["Dense"]
    with pytest.raises(ValueError, match=r"at least an input and an output size, got \[2\]"):
        nn.mlp([2])
