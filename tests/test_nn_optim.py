"""Optimisers: one or two symbolic steps equal the published update rules written in SymPy;
a few float steps equal a sequence computed by hand in plain Python floats; schedules."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sympy

from refnn import Matrix, nn

lr, mu, b1, b2, eps, lam = sympy.symbols("eta mu beta1 beta2 epsilon lambda", positive=True)


def sym_row(name: str, n: int = 2) -> tuple[Matrix[Any], list[Any]]:
    s = list(sympy.symbols(f"{name}1:{n + 1}", real=True))
    return Matrix([s]), s


def assert_equal_exprs(got: Matrix[Any], expected: list[Any]) -> None:
    assert len(got.data) == len(expected)
    for g, e in zip(got.data, expected, strict=True):
        assert sympy.simplify(g - e) == 0, (g, e)


def two_steps(opt: Any) -> tuple[Any, list[Any], list[Any], list[Any]]:
    """Two updates of a pytree {"w": 1×2, "b": 1×2}; returns the final params, and the
    symbols of the initial params and of both gradients (for the "w" leaf)."""
    W, w = sym_row("w")
    B, _ = sym_row("c")
    G1, g1 = sym_row("g")
    G2, g2 = sym_row("h")
    params = {"w": W, "b": B}
    state = opt.init(params)
    params, state = opt.update({"w": G1, "b": G1}, state, params)
    params, state = opt.update({"w": G2, "b": G2}, state, params)
    assert state.step == 2
    return params, w, g1, g2


def test_sgd_symbolic() -> None:
    params, w, g1, g2 = two_steps(nn.SGD(lr))
    expected = [x - lr * a - lr * b for x, a, b in zip(w, g1, g2, strict=True)]
    assert_equal_exprs(params["w"], expected)


def test_momentum_symbolic() -> None:
    params, w, g1, g2 = two_steps(nn.SGD(lr, momentum=mu))
    expected = []
    for x, a, b in zip(w, g1, g2, strict=True):
        v1 = a  # v ← μ·0 + g
        x1 = x - lr * v1
        v2 = mu * v1 + b
        expected.append(x1 - lr * v2)
    assert_equal_exprs(params["w"], expected)


def test_nesterov_symbolic() -> None:
    params, w, g1, g2 = two_steps(nn.SGD(lr, momentum=mu, nesterov=True))
    expected = []
    for x, a, b in zip(w, g1, g2, strict=True):
        v1 = a
        x1 = x - lr * (a + mu * v1)
        v2 = mu * v1 + b
        expected.append(x1 - lr * (b + mu * v2))
    assert_equal_exprs(params["w"], expected)
    momentum_params, *_ = two_steps(nn.Momentum(lr, mu, True))
    assert_equal_exprs(momentum_params["w"], expected)  # Momentum is SGD with μ = 0.9 default
    assert isinstance(nn.Momentum(lr), nn.SGD) and nn.Momentum(lr).momentum == 0.9


def _adam_formula(w: list[Any], g1: list[Any], g2: list[Any], decay: Any = 0) -> list[Any]:
    """Kingma & Ba, Algorithm 1 (plus decoupled decay θ ← θ − η·λ·θ, Loshchilov & Hutter)."""
    out = []
    for x, a, b in zip(w, g1, g2, strict=True):
        m, v, theta = 0, 0, x
        for t, g in ((1, a), (2, b)):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            m_hat = m / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            theta = theta - lr * decay * theta - lr * m_hat / (sympy.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def test_adam_symbolic() -> None:
    params, w, g1, g2 = two_steps(nn.Adam(lr, b1, b2, eps))
    assert_equal_exprs(params["w"], _adam_formula(w, g1, g2))


def test_adamw_symbolic() -> None:
    params, w, g1, g2 = two_steps(nn.AdamW(lr, b1, b2, eps, weight_decay=lam))
    assert_equal_exprs(params["w"], _adam_formula(w, g1, g2, decay=lam))
    assert isinstance(nn.AdamW(), nn.Adam) and nn.AdamW().weight_decay == 0.01


# --------------------------------------------------------------- float sequences by hand
def quadratic_grad(theta: list[float]) -> list[float]:
    """∇ of f(θ) = Σ (k+1)·θₖ²."""
    return [2 * (k + 1) * t for k, t in enumerate(theta)]


def run(opt: Any, theta0: list[float], steps: int) -> list[list[float]]:
    params = (Matrix([theta0]),)
    state = opt.init(params)
    seq = []
    for _ in range(steps):
        g = quadratic_grad(list(params[0].data))
        params, state = opt.update((Matrix([g]),), state, params)
        seq.append(list(params[0].data))
    return seq


def assert_sequences_close(got: list[list[float]], want: list[list[float]], rel: float) -> None:
    for a_row, b_row in zip(got, want, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            assert a == pytest.approx(b, rel=rel, abs=1e-300)


THETA0 = [0.5, -1.25, 3.0]


def test_sgd_momentum_floats_by_hand() -> None:
    theta, v, want = list(THETA0), [0.0] * 3, []
    for _ in range(4):
        g = quadratic_grad(theta)
        v = [0.9 * vi + gi for vi, gi in zip(v, g, strict=True)]
        theta = [t - 0.05 * vi for t, vi in zip(theta, v, strict=True)]
        want.append(theta)
    # the rule is the same sequence of roundings: bit-identical
    assert run(nn.SGD(0.05, momentum=0.9), THETA0, 4) == want


def test_nesterov_floats_by_hand() -> None:
    theta, v, want = list(THETA0), [0.0] * 3, []
    for _ in range(4):
        g = quadratic_grad(theta)
        v = [0.9 * vi + gi for vi, gi in zip(v, g, strict=True)]
        theta = [t - 0.05 * (gi + 0.9 * vi) for t, gi, vi in zip(theta, g, v, strict=True)]
        want.append(theta)
    assert run(nn.SGD(0.05, momentum=0.9, nesterov=True), THETA0, 4) == want


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_floats_by_hand(weight_decay: float) -> None:
    eta, beta1, beta2, e = 0.1, 0.9, 0.999, 1e-8
    theta, m, v, want = list(THETA0), [0.0] * 3, [0.0] * 3, []
    for t in range(1, 5):
        g = quadratic_grad(theta)
        m = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [beta2 * vi + (1 - beta2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        new = []
        for th, mi, vi in zip(theta, m, v, strict=True):
            m_hat = mi / (1 - beta1**t)
            v_hat = vi / (1 - beta2**t)
            new.append(th - eta * weight_decay * th - eta * m_hat / (math.sqrt(v_hat) + e))
        theta = new
        want.append(theta)
    opt = nn.Adam(eta, beta1, beta2, e, weight_decay) if weight_decay else nn.Adam(eta)
    # the same mathematics with the products grouped differently: a few ulps apart
    assert_sequences_close(run(opt, THETA0, 4), want, rel=1e-14)
    # Adam's first step moves every coordinate by about η, whatever the gradient's size
    if not weight_decay:
        first = run(opt, THETA0, 1)[0]
        for a, b in zip(first, THETA0, strict=True):
            assert abs(a - b) == pytest.approx(eta, rel=1e-6)


# --------------------------------------------------------------- schedules
def test_schedules() -> None:
    assert nn.constant(0.1)(0) == nn.constant(0.1)(1000) == 0.1
    s = nn.step_decay(1.0, step_size=10, gamma=0.5)
    assert [s(k) for k in (0, 9, 10, 19, 20, 35)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]
    c = nn.cosine(1.0, total_steps=100, final_lr=0.1)
    assert c(0) == 1.0
    assert c(50) == pytest.approx(0.55, rel=1e-15)
    assert c(100) == pytest.approx(0.1, rel=1e-15)
    assert c(500) == c(100)
    assert all(c(k) >= c(k + 1) for k in range(120))
    with pytest.raises(ValueError):
        nn.step_decay(1.0, 0)
    with pytest.raises(ValueError):
        nn.cosine(1.0, 0)


def test_optimisers_use_the_schedule_at_each_step() -> None:
    lrs = nn.step_decay(0.5, step_size=1, gamma=0.5)  # 0.5, 0.25, 0.125
    params = (Matrix([[1.0]]),)
    opt = nn.SGD(lrs)
    state = opt.init(params)
    for _ in range(3):
        params, state = opt.update((Matrix([[1.0]]),), state, params)
    assert params[0][1, 1] == 1.0 - 0.5 - 0.25 - 0.125


def test_update_is_pure_and_checks_structure() -> None:
    params = {"w": Matrix([[1.0, 2.0]])}
    opt = nn.Adam(0.1)
    state = opt.init(params)
    new, new_state = opt.update({"w": Matrix([[1.0, -1.0]])}, state, params)
    assert params["w"] == Matrix([[1.0, 2.0]]) and state.step == 0
    assert new_state.step == 1 and new["w"] != params["w"]
    with pytest.raises(ValueError, match="structure of the parameters"):
        opt.update({"v": Matrix([[1.0, -1.0]])}, state, params)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(0.1, nesterov=True)
