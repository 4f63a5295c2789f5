"""Layers of refnn.nn: Dense's gradient against SymPy's derivative on symbols, activations,
Fourier features, the builders, and reproducible initialisation."""

from __future__ import annotations

import math
import random

import pytest
import sympy

import refnn
from refnn import Matrix, ShapeError, nn, ops


def sym(name: str, m: int, n: int) -> tuple[Matrix[object], sympy.Matrix]:
    """A refnn matrix of fresh real symbols and the same matrix in SymPy."""
    entries = [sympy.Symbol(f"{name}{i}{j}", real=True) for i in range(m) for j in range(n)]
    return Matrix.from_flat(m, n, entries), sympy.Matrix(m, n, entries)


def to_sympy(A: Matrix[object]) -> sympy.Matrix:
    return sympy.Matrix(A.tolist())


def assert_sym_equal(a: sympy.Matrix, b: sympy.Matrix) -> None:
    assert a.shape == b.shape
    diff = (a - b).applyfunc(lambda e: sympy.simplify(sympy.expand(e)))
    assert diff == sympy.zeros(*a.shape), diff


@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (2, 3, 2), (3, 2, 1)])
def test_dense_gradient_equals_sympy_derivative(m: int, k: int, n: int) -> None:
    layer = nn.Dense(k, n)
    X, Xs = sym("x", m, k)
    W, Ws = sym("w", k, n)
    b, bs = sym("b", 1, n)
    G, Gs = sym("g", m, n)  # a symbolic cotangent: L = Σ G ⊙ Dense(X)

    def loss(params: object, x: object) -> object:
        return ops.sum(ops.hadamard(G, layer.apply(params, x)))

    value, grads = nn.value_and_grad(loss)({"W": W, "b": b}, X)
    Ys = Xs * Ws + sympy.ones(m, 1) * bs
    Ls = sum(Gs.multiply_elementwise(Ys))
    assert sympy.expand(value[1, 1] - Ls) == 0
    assert_sym_equal(to_sympy(grads["W"]), Ws.applyfunc(lambda w: sympy.diff(Ls, w)))
    assert_sym_equal(to_sympy(grads["b"]), bs.applyfunc(lambda c: sympy.diff(Ls, c)))
    # and with respect to the input (what the layer below receives)
    gx = refnn.grad(lambda x: loss({"W": W, "b": b}, x))(X)
    assert_sym_equal(to_sympy(gx), Xs.applyfunc(lambda x: sympy.diff(Ls, x)))


def test_tanh_mlp_gradient_equals_sympy_derivative() -> None:
    model = nn.Sequential(nn.Dense(2, 2), nn.Tanh(), nn.Dense(2, 1))
    X, Xs = sym("x", 2, 2)
    W1, W1s = sym("v", 2, 2)
    b1, b1s = sym("c", 1, 2)
    W2, W2s = sym("w", 2, 1)
    b2, b2s = sym("b", 1, 1)
    params = ({"W": W1, "b": b1}, (), {"W": W2, "b": b2})
    _, grads = nn.value_and_grad(lambda p, x: ops.sum(model.apply(p, x)))(params, X)
    H = (Xs * W1s + sympy.ones(2, 1) * b1s).applyfunc(sympy.tanh)
    Ls = sum(H * W2s + sympy.ones(2, 1) * b2s)
    for got, symbols in ((grads[0]["W"], W1s), (grads[0]["b"], b1s), (grads[2]["W"], W2s)):
        assert_sym_equal(to_sympy(got), symbols.applyfunc(lambda s: sympy.diff(Ls, s)))
    assert grads[1] == ()


@pytest.mark.parametrize(
    ("layer", "fn", "formula"),
    [
        (nn.Tanh(), ops.tanh, sympy.tanh),
        (nn.Sigmoid(), ops.sigmoid, lambda x: 1 / (1 + sympy.exp(-x))),
        (nn.Softplus(), ops.softplus, lambda x: sympy.log(1 + sympy.exp(x))),
        (nn.Sine(30.0), lambda x: ops.sin(ops.scale(30.0, x)), lambda x: sympy.sin(30 * x)),
        (
            nn.Sine(sympy.Rational(1, 3)),
            lambda x: ops.sin(ops.scale(sympy.Rational(1, 3), x)),
            lambda x: sympy.sin(x / 3),
        ),
        (nn.Identity(), lambda x: x, lambda x: x),
    ],
)
def test_smooth_activations_equal_their_formula(
    layer: nn.Layer, fn: object, formula: object
) -> None:
    X, Xs = sym("x", 2, 2)
    assert layer.init(random.Random(0)) == ()
    expected = Xs.applyfunc(formula)
    assert_sym_equal(to_sympy(layer.apply((), X)), expected)
    assert callable(fn)
    assert_sym_equal(to_sympy(fn(X)), expected)


def test_piecewise_activations_on_floats() -> None:
    X = Matrix([[-2.0, -0.5, 0.0, 0.25, 3.0]])
    assert nn.ReLU().apply((), X) == Matrix([[0.0, 0.0, 0.0, 0.25, 3.0]])
    assert ops.relu(X) == nn.ReLU().apply((), X)
    leaky = nn.LeakyReLU(0.1).apply((), X)
    assert leaky.allclose(Matrix([[-0.2, -0.05, 0.0, 0.25, 3.0]]), rtol=1e-15)
    assert ops.leaky_relu(X, 0.1) == leaky


def test_dense_is_xw_plus_b_on_floats_and_checks_its_input() -> None:
    layer = nn.Dense(2, 3)
    params = layer.init(random.Random(1))
    X = Matrix([[1.0, 2.0], [-0.5, 0.25]])
    assert layer.apply(params, X) == ops.add_row(X @ params["W"], params["b"])
    with pytest.raises(ShapeError, match=r"batch×2 input.*2×3"):
        layer.apply(params, Matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    no_bias = nn.Dense(2, 3, bias=False)
    p = no_bias.init(random.Random(1))
    assert set(p) == {"W"}
    assert no_bias.apply(p, X) == X @ p["W"]
    with pytest.raises(ValueError, match="positive int in_features"):
        nn.Dense(0, 3)


def test_same_seed_gives_identical_params_and_another_seed_does_not() -> None:
    for model in (nn.mlp([2, 8, 8, 1], "relu"), nn.siren(2, 8, 2, 1)):
        a = model.init(random.Random(42))
        b = model.init(random.Random(42))
        c = model.init(random.Random(43))
        assert [x.data for x in nn.tree_leaves(a)] == [x.data for x in nn.tree_leaves(b)]
        assert [x.data for x in nn.tree_leaves(a)] != [x.data for x in nn.tree_leaves(c)]


def test_mlp_structure_and_default_initialisers() -> None:
    model = nn.mlp([2, 4, 3, 1], "relu", output_activation="sigmoid")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "ReLU", "Dense", "ReLU", "Dense", "Sigmoid"]
    dense = [layer for layer in model.layers if isinstance(layer, nn.Dense)]
    assert [(d.in_features, d.out_features) for d in dense] == [(2, 4), (4, 3), (3, 1)]
    assert all(d.weight_init is nn.he_uniform for d in dense)
    assert all(
        d.weight_init is nn.glorot_uniform
        for d in nn.mlp([2, 3, 1], "tanh").layers
        if isinstance(d, nn.Dense)
    )
    params = model.init(random.Random(0))
    assert nn.n_params(params) == 2 * 4 + 4 + 4 * 3 + 3 + 3 * 1 + 1
    assert all(x == 0.0 for d in params[::2] if d for x in d["b"].data)
    with pytest.raises(ValueError, match="unknown activation"):
        nn.mlp([2, 1, 1], "swish")


def test_siren_builder_wires_sine_layers_and_its_initialisation() -> None:
    model = nn.siren(2, 16, 3, 1, omega0=30.0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "Sine", "Dense", "Sine", "Dense", "Sine", "Dense"]
    assert all(s.omega0 == 30.0 for s in model.layers if isinstance(s, nn.Sine))
    params = model.init(random.Random(0))
    first, hidden = params[0]["W"], params[2]["W"]
    assert max(map(abs, first.data)) <= 1 / 2
    assert max(map(abs, first.data)) > 0.8 * (1 / 2)  # 32 draws fill most of the range
    bound = math.sqrt(6 / 16) / 30
    assert max(map(abs, hidden.data)) <= bound
    assert max(map(abs, hidden.data)) > 0.8 * bound
    assert max(map(abs, params[-1]["W"].data)) <= bound
    assert nn.n_params(params) == 2 * 16 + 16 + 2 * (16 * 16 + 16) + 16 + 1
    y = model.apply(params, Matrix([[0.1, -0.2], [0.3, 0.4]]))
    assert y.shape == (2, 1)


def test_fourier_features_are_sin_and_cos_of_2pi_xb() -> None:
    ff = nn.FourierFeatures.gaussian(2, 3, 1.0, random.Random(5))
    assert (ff.in_features, ff.out_features) == (2, 6)
    assert ff.init(random.Random(0)) == ()
    X = Matrix([[0.5, -0.25], [1.0, 0.0]])
    out = ff.apply((), X)
    B = ff.B
    for i in range(1, 3):
        for j in range(1, 4):
            t = sum(X[i, k] * B[k, j] for k in (1, 2))
            assert out[i, j] == pytest.approx(math.sin(2 * math.pi * t), rel=1e-12, abs=1e-12)
            assert out[i, j + 3] == pytest.approx(math.cos(2 * math.pi * t), rel=1e-12, abs=1e-12)
    # the same rng draws give the same B, row by row, N(0, σ²)
    rng = random.Random(5)
    assert list(B.data) == [rng.gauss(0.0, 1.0) for _ in range(6)]
    with pytest.raises(ShapeError):
        ff.apply((), Matrix([[1.0, 2.0, 3.0]]))


def test_positional_encoding() -> None:
    pe = nn.FourierFeatures.positional(2, 3)
    x, y = 0.3, -0.7
    out = pe.apply((), Matrix([[x, y]]))
    expect = [math.sin(2**ell * math.pi * v) for v in (x, y) for ell in range(3)]
    expect += [math.cos(2**ell * math.pi * v) for v in (x, y) for ell in range(3)]
    assert out.allclose(Matrix([expect]), rtol=1e-12, atol=1e-14)


def test_fourier_features_gradient_flows_to_the_input() -> None:
    ff = nn.FourierFeatures(Matrix([[sympy.Rational(1, 2)]]))
    X, Xs = sym("x", 1, 1)
    g = refnn.grad(lambda x: ops.sum(ff.apply((), x)))(X)
    x = Xs[0, 0]
    c = sympy.Rational(float(2 * math.pi) / 2)  # the double 2π, times 1/2
    expected = sympy.diff(sympy.sin(c * x) + sympy.cos(c * x), x)
    assert sympy.simplify(g[1, 1] - expected) == 0


def test_sequential_checks_layers_and_params() -> None:
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(3)  # type: ignore[arg-type]
    model = nn.Sequential(nn.Dense(1, 1), nn.Tanh())
    assert len(model) == 2
    assert isinstance(model[1], nn.Tanh)
    with pytest.raises(ValueError, match="got params for 1"):
        model.apply(({"W": Matrix([[1.0]]), "b": Matrix([[0.0]])},), Matrix([[1.0]]))
