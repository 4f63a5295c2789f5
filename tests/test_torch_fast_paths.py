"""The PyTorch backend's fast paths for training: fused VJPs and list kernels.

``refnn.grad`` runs the backend's fused VJPs (``FUSED_VJPS``) on torch values in place of
the registry's VJPs written in ops, and ``Adam`` runs its update through the backend's
list kernels (``LIST_KERNELS``, ``torch._foreach_*``). ``refnn conform torch`` holds each
fused VJP to its op's bound (they are the backend's ``vjps`` too); these tests hold the
rest of the contract:

* a fused VJP reads only what its op's VJP declares (autodiff keeps nothing else);
* autodiff uses it on concrete torch values and never while recording a backward pass
  (gradients of gradients go through the registry and stay right);
* each list kernel equals the per-matrix kernel bit for bit, domain errors included;
* an Adam step through the list kernels equals the same step written op by op.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from refnn import DomainError, Matrix, grad, nn, ops  # noqa: E402
from refnn.backends import load  # noqa: E402
from refnn.backends.torch import (  # noqa: E402
    FUSED_VJPS,
    KERNELS,
    LIST_KERNELS,
    TorchBackend,
    TorchMatrix,
)

BE = load("torch")


def _random(m: int, n: int, rng: random.Random, lo: float = -2.0, hi: float = 2.0) -> Any:
    return BE.from_matrix(Matrix.from_flat(m, n, [rng.uniform(lo, hi) for _ in range(m * n)]))


def _bits(a: Any) -> list[str]:
    return [float(x).hex() for x in a._t.reshape(-1).tolist()]


def _inputs(name: str, rng: random.Random) -> tuple[Any, ...]:
    spec = ops.registry[name]
    shapes = next(iter(spec.cases(3)))[0]
    if name == "matmul":
        shapes = ((4, 3), (3, 5))
    elif name == "add_row":
        shapes = ((4, 3), (1, 3))
    else:
        shapes = tuple((4, 3) for _ in shapes)
    return tuple(_random(m, n, rng) for m, n in shapes)


@pytest.mark.parametrize("name", sorted(FUSED_VJPS))
def test_a_fused_vjp_reads_only_what_its_op_declares(name: str) -> None:
    rng = random.Random(name)
    spec = ops.registry[name]
    xs = _inputs(name, rng)
    y = ops.apply(spec, xs, ())
    g = _random(*y.shape, rng)
    needs = (True,) * len(xs)
    full = FUSED_VJPS[name](g, y, xs, (), needs)
    kept = FUSED_VJPS[name](
        g,
        y if spec.vjp_reads_output else None,
        xs if spec.vjp_reads_inputs else (),
        (),
        needs,
    )
    assert [_bits(c) for c in kept] == [_bits(c) for c in full]
    for c, x in zip(full, xs, strict=True):
        assert isinstance(c, TorchMatrix) and c.shape == x.shape


@pytest.mark.parametrize("name", sorted(FUSED_VJPS))
def test_a_fused_vjp_agrees_with_the_registry_vjp(name: str) -> None:
    """Within a few ulps of the VJP refnn writes in ops (conform bounds it against the
    reference in exact arithmetic; this catches a swapped or missing cotangent)."""
    rng = random.Random(name + "/registry")
    spec = ops.registry[name]
    xs = _inputs(name, rng)
    y = ops.apply(spec, xs, ())
    g = _random(*y.shape, rng)
    fused = FUSED_VJPS[name](g, y, xs, (), (True,) * len(xs))
    written = spec.vjp(g, y, xs, ())
    for a, b in zip(fused, written, strict=True):
        for u, v in zip(a._t.reshape(-1).tolist(), b._t.reshape(-1).tolist(), strict=True):
            assert math.isclose(u, v, rel_tol=1e-13, abs_tol=1e-13), (name, u, v)


def test_grad_on_torch_values_runs_the_fused_vjps(monkeypatch: Any) -> None:
    calls: list[str] = []
    table = dict(FUSED_VJPS)
    for name, f in FUSED_VJPS.items():
        table[name] = lambda *a, _f=f, _n=name: calls.append(_n) or _f(*a)
    monkeypatch.setitem(ops._core._vjp_kernels, TorchMatrix, table)
    rng = random.Random(1)
    W, X = _random(3, 2, rng), _random(4, 3, rng)
    grad(lambda w: ops.mean(ops.tanh(ops.matmul(X, w))))(W)
    assert calls == ["mean", "tanh", "matmul"]


def test_a_recorded_backward_pass_uses_the_registry_and_stays_right() -> None:
    """Second derivatives on torch values: the inner backward pass is recorded by the outer
    trace, so it must take the registry's VJPs; the result is the reference's."""
    rng = random.Random(2)
    x_ref = Matrix.from_flat(2, 2, [rng.uniform(-1, 1) for _ in range(4)])

    def inner(x: Any) -> Any:
        return ops.sum(ops.tanh(ops.hadamard(x, x)))

    def outer(x: Any) -> Any:
        return ops.sum(grad(inner)(x))

    want = grad(outer)(x_ref)
    got = BE.to_matrix(grad(outer)(BE.from_matrix(x_ref)))
    for u, v in zip(got.data, want.data, strict=True):
        assert math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-14)


def test_fused_vjps_outside_vjps_are_refused() -> None:
    be = TorchBackend(name="half-declared")
    be.vjps = {}
    with pytest.raises(TypeError, match="not in its vjps"):
        load(be)
    load(BE)  # restore the ordinary tables for the other tests


def test_an_adapter_with_its_own_kernels_gets_no_fast_paths() -> None:
    be = TorchBackend(name="mine", kernels=dict(KERNELS))
    assert be.fused_vjps == {} and be.list_kernels == {}


# ----------------------------------------------------------------------- list kernels
_ENTRIES = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.0**-1022]),
)


@st.composite
def _leaves(draw: Any, count: int) -> list[list[Any]]:
    shapes = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=4))
    groups = []
    for _ in range(count):
        groups.append(
            [
                BE.from_matrix(
                    Matrix.from_flat(m, n, draw(st.lists(_ENTRIES, min_size=m * n, max_size=m * n)))
                )
                for m, n in shapes
            ]
        )
    return groups


def _outcome(f: Any, *args: Any) -> Any:
    try:
        return [_bits(a) for a in f(*args)]
    except DomainError as err:
        return ("DomainError", str(err))


@settings(max_examples=40, deadline=None)
@given(groups=_leaves(2), c=st.floats(-10, 10, allow_nan=False))
def test_each_list_kernel_is_the_kernel_matrix_by_matrix(groups: list[list[Any]], c: float) -> None:
    As, Bs = groups
    for name, f in LIST_KERNELS.items():
        k = KERNELS[name]
        arity = ops.registry[name].arity
        if arity == 2:
            want = _outcome(lambda k=k: [k(a, b) for a, b in zip(As, Bs, strict=True)])
            got = _outcome(f, As, Bs)
        elif ops.registry[name].params:
            want = _outcome(lambda k=k: [k(a, c) for a in As])
            got = _outcome(f, As, c)
        else:
            want = _outcome(lambda k=k: [k(a) for a in As])
            got = _outcome(f, As)
        assert got == want, name


def test_adam_through_the_list_kernels_is_the_update_written_op_by_op() -> None:
    rng = random.Random(3)
    params = [{"W": _random(3, 4, rng), "b": _random(1, 4, rng)}, {"W": _random(4, 1, rng)}]
    grads = nn.tree_map(lambda p: _random(*p.shape, rng), params)
    opt = nn.Adam(0.01)
    state = opt.init(params)
    for _ in range(3):  # the moments are non-zero from the second update on
        new, state2 = opt.update(grads, state, params)
        t = state.step + 1
        step_size, v_corr = 0.01 / (1 - 0.9**t), 1 / (1 - 0.999**t)
        for p, g, m, v, got_p, got_m, got_v in zip(
            nn.tree_leaves(params),
            nn.tree_leaves(grads),
            state.m,
            state.v,
            nn.tree_leaves(new),
            state2.m,
            state2.v,
            strict=True,
        ):
            m1 = ops.add(ops.scale(0.9, m), ops.scale(1 - 0.9, g))
            v1 = ops.add(ops.scale(0.999, v), ops.scale(1 - 0.999, ops.square(g)))
            den = ops.add_scalar(ops.sqrt(ops.scale(v_corr, v1)), 1e-8)
            p1 = ops.sub(p, ops.div(ops.scale(step_size, m1), den))
            assert _bits(got_m) == _bits(m1) and _bits(got_v) == _bits(v1)
            assert _bits(got_p) == _bits(p1)
        params, state = new, state2
