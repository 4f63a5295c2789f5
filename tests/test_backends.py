"""Backends: loading, the NumPy adapter's values and errors, gradients and training on NumPy
agreeing with the reference, and (where installed) PyTorch."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refnn import DomainError, Matrix, grad, ops
from refnn.backends import (
    MissingOps,
    ReferenceBackend,
    load,
    missing_ops,
    require_complete,
)
from refnn.backends.numpy import KERNELS, NumpyBackend, NumpyMatrix
from refnn.conformance import conform
from refnn.ops import registry


def _rand(rng: random.Random, m: int, n: int, lo: float = -1.0, hi: float = 1.0) -> Matrix[float]:
    return Matrix.from_flat(m, n, [rng.uniform(lo, hi) for _ in range(m * n)])


def _close(a: Matrix[Any], b: Matrix[Any], rtol: float) -> None:
    assert a.shape == b.shape
    for x, y in zip(a.data, b.data, strict=True):
        assert abs(x - y) <= rtol * max(1.0, abs(y)), (a, b)


# ----------------------------------------------------------------------- loading
@pytest.mark.parametrize(
    "spec", ["numpy", "refnn.backends.numpy:backend", "refnn.backends.numpy:NumpyBackend"]
)
def test_load_numpy(spec: str) -> None:
    b = load(spec)
    assert b.array_type is NumpyMatrix
    assert missing_ops(b) == []
    x = b.from_matrix(Matrix([[1.0, -2.0]]))
    assert isinstance(ops.relu(x), NumpyMatrix)
    assert b.to_matrix(ops.relu(x)) == Matrix([[1.0, 0.0]])


def test_load_reference_and_bad_specs() -> None:
    ref = load("reference")
    assert isinstance(ref, ReferenceBackend) and missing_ops(ref) == []
    with pytest.raises(ValueError, match="unknown backend"):
        load("no-such-backend")
    with pytest.raises(ValueError, match="has no attribute"):
        load("refnn.backends.numpy:nope")
    with pytest.raises(TypeError, match="not a refnn backend"):
        load("refnn.matrix:fmt_shape")
    with pytest.raises(TypeError, match="not a refnn backend"):
        load("refnn.matrix:_UNIT_ROUNDOFF")


def test_missing_ops_are_named_not_a_keyerror() -> None:
    partial = NumpyBackend(
        name="partial", kernels={k: v for k, v in KERNELS.items() if k not in ("tanh", "clip")}
    )
    assert missing_ops(partial) == ["clip", "tanh"]
    with pytest.raises(MissingOps, match="clip, tanh") as err:
        require_complete(partial)
    assert err.value.ops == ["clip", "tanh"]
    load(partial)
    x = partial.from_matrix(Matrix([[0.5]]))
    with pytest.raises(NotImplementedError, match="'tanh'"):
        ops.tanh(x)
    report = conform(partial, ops=["tanh", "exp"], examples=3)
    assert report.failed_ops == ["tanh"]
    cx = report.result("tanh").counterexample
    assert cx is not None and cx.kind == "missing"
    load("numpy")  # restore the full kernel table for NumpyMatrix


# ----------------------------------------------------------------------- NumpyMatrix values
def test_numpy_matrix_is_immutable_and_reads_like_matrix() -> None:
    b = load("numpy")
    A = b.from_matrix(Matrix([[1.0, 2.0], [3.0, 4.0]]))
    B = b.from_matrix(Matrix([[0.5, -1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError):
        A.array[0, 0] = 9.0
    with pytest.raises(AttributeError):
        A._a = np.zeros((2, 2))  # type: ignore[misc]
    with pytest.raises(TypeError, match="hadamard"):
        A * B
    assert A.shape == (2, 2)
    ref_A, ref_B = b.to_matrix(A), b.to_matrix(B)
    assert b.to_matrix(A @ B + A - B) == ref_A @ ref_B + ref_A - ref_B
    assert b.to_matrix(A.hadamard(B)) == ref_A.hadamard(ref_B)
    assert b.to_matrix(2 * A.T) == 2 * ref_A.T
    assert b.to_matrix(-A) == -ref_A
    # a kernel never mutates its argument
    before = A.array.copy()
    ops.exp(A)
    ops.scale(3, A)
    assert (A.array == before).all()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda x: ops.log(x), DomainError),
        (lambda x: ops.sqrt(ops.neg(ops.add_scalar(x, 1))), DomainError),
        (lambda x: ops.div(x, ops.scale(0, x)), DomainError),
        (lambda x: ops.pow(ops.add_scalar(x, -5), 0.5), DomainError),
        (lambda x: ops.pow(ops.scale(0, x), -1), DomainError),
        (lambda x: ops.exp(ops.add_scalar(x, 800)), OverflowError),
    ],
)
def test_numpy_domain_errors_match_the_reference(call: Any, error: type) -> None:
    b = load("numpy")
    ref = Matrix([[0.0, 1.0]])
    with pytest.raises(error):
        call(ref)
    with pytest.raises(error):
        call(b.from_matrix(ref))


def test_numpy_stable_forms_at_large_magnitude() -> None:
    b = load("numpy")
    x = b.from_matrix(Matrix([[-1000.0, 1000.0]]))
    assert b.to_matrix(ops.sigmoid(x)) == Matrix([[0.0, 1.0]])
    assert b.to_matrix(ops.softplus(x)) == Matrix([[0.0, 1000.0]])
    assert b.to_matrix(ops.softmax_rows(x)) == Matrix([[0.0, 1.0]])
    assert b.to_matrix(ops.log_softmax_rows(x)) == Matrix([[-2000.0, 0.0]])


# ----------------------------------------------------------------------- conformance
def test_numpy_backend_conforms() -> None:
    report = conform("numpy", examples=10, seed=1)
    assert report.passed, report.format()
    assert {r.op for r in report.results} == set(registry)
    assert all(r.examples >= 1 for r in report.results)


# ----------------------------------------------------------------------- gradients
def _loss(x: Any, w: Any, b: Any) -> Any:
    h = ops.tanh(ops.add_row(ops.matmul(x, w), b))
    s = ops.log_softmax_rows(ops.concat_cols(h, ops.sigmoid(h)))
    return ops.mean(ops.square(ops.add_scalar(s, 0.5)))


def test_grad_on_numpy_equals_the_reference_gradient() -> None:
    rng = random.Random(3)
    args = (_rand(rng, 4, 3), _rand(rng, 3, 2), _rand(rng, 1, 2))
    b = load("numpy")
    ref = grad(_loss, argnums=(0, 1, 2))(*args)
    got = grad(_loss, argnums=(0, 1, 2))(*(b.from_matrix(a) for a in args))
    for r, g in zip(ref, got, strict=True):
        assert isinstance(g, NumpyMatrix)
        _close(b.to_matrix(g), r, 1e-13)

    # second order too: VJPs are ops, so they differentiate on NumPy values
    def hvp(x: Any, w: Any, bias: Any) -> Any:
        return ops.sum(ops.hadamard(grad(lambda v: _loss(x, v, bias))(w), w))

    nargs = tuple(b.from_matrix(a) for a in args)
    _close(b.to_matrix(grad(hvp, argnums=1)(*nargs)), grad(hvp, argnums=1)(*args), 1e-12)


#: After this many plain gradient-descent steps from the same weights, the NumPy and the
#: reference parameters agree to TRAIN_RTOL (relative to max(1, |w|)).
TRAIN_STEPS = 60
TRAIN_RTOL = 1e-10


def _train(
    backend: Any, params: list[Matrix[float]], x: Matrix[float], t: Matrix[float]
) -> list[Any]:
    def loss(w1: Any, b1: Any, w2: Any, b2: Any, xv: Any, tv: Any) -> Any:
        h = ops.tanh(ops.add_row(ops.matmul(xv, w1), b1))
        y = ops.add_row(ops.matmul(h, w2), b2)
        return ops.mean(ops.square(ops.sub(y, tv)))

    ps = [backend.from_matrix(p) for p in params]
    xv, tv = backend.from_matrix(x), backend.from_matrix(t)
    g = grad(loss, argnums=(0, 1, 2, 3))
    for _ in range(TRAIN_STEPS):
        gs = g(*ps, xv, tv)
        ps = [ops.sub(p, ops.scale(0.2, gp)) for p, gp in zip(ps, gs, strict=True)]
    return [backend.to_matrix(p) for p in ps]


def test_training_an_mlp_on_numpy_matches_the_reference() -> None:
    rng = random.Random(11)
    x = _rand(rng, 8, 2)
    t = Matrix.from_flat(8, 1, [a * a - b for a, b in x.rows()])
    params = [_rand(rng, 2, 6), _rand(rng, 1, 6), _rand(rng, 6, 1), _rand(rng, 1, 1)]
    ref = _train(ReferenceBackend(), params, x, t)
    got = _train(load("numpy"), params, x, t)
    assert any(abs(a - b) > 1e-3 for a, b in zip(ref[0].data, params[0].data, strict=True))
    for r, g in zip(ref, got, strict=True):
        _close(g, r, TRAIN_RTOL)


# ----------------------------------------------------------------------- PyTorch
def test_torch_backend_conforms_with_its_own_vjps() -> None:
    pytest.importorskip("torch")
    import mpmath
    import torch

    b = load("torch")
    assert missing_ops(b) == [] and set(b.vjps) == set(registry)
    report = conform(b, examples=6, seed=2)
    assert report.passed, report.format()
    # torch.sqrt is not correctly rounded on the CPU (refnn accuracy found it): the backend
    # takes a correctly rounded root there instead. If PyTorch fixes it, this fails first.
    x = 128.11023598254198
    with mpmath.workdps(40):
        correct = float(mpmath.sqrt(mpmath.mpf(x)))
    raw = torch.sqrt(torch.tensor([x], dtype=torch.float64)).item()
    assert raw == correct - math.ulp(correct), (raw, correct)
    got = b.to_matrix(b.kernels["sqrt"](b.from_matrix(Matrix([[x]])))).data[0]
    assert got == correct


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_grad_on_a_library_backend_equals_the_reference_gradient(library: str) -> None:
    pytest.importorskip(library)
    rng = random.Random(5)
    args = (_rand(rng, 3, 3), _rand(rng, 3, 2), _rand(rng, 1, 2))
    b = load(library)
    ref = grad(_loss, argnums=(0, 1, 2))(*args)
    got = grad(_loss, argnums=(0, 1, 2))(*(b.from_matrix(a) for a in args))
    for r, g in zip(ref, got, strict=True):
        _close(b.to_matrix(g), r, 1e-13)


# ----------------------------------------------------------------------- JAX
_EXPECT_JAX = Path(__file__).resolve().parents[1] / "examples" / "jax-expect.toml"


def test_jax_backend_conforms_under_flush_with_its_declared_deviations() -> None:
    pytest.importorskip("jax")
    from refnn.conformance import load_expectations
    from refnn.conformance.policy import Policy

    b = load("jax")
    assert missing_ops(b) == [] and set(b.vjps) == set(registry)
    report = conform(
        b,
        examples=6,
        seed=2,
        policy=Policy(subnormals="flush"),
        expect=load_expectations(_EXPECT_JAX),
    )
    assert report.passed, report.format()
    # XLA flushes subnormals on the CPU: strict finds it, and calls it by its name
    strict = conform(b, ops=["add", "hadamard", "add_row"], examples=40, seed=0)
    assert not strict.passed
    assert all(set(strict.result(op).forward.kinds) <= {"subnormal"} for op in strict.failed_ops), (
        strict.format()
    )
