"""The shape of the API (issue 13 items 4 and 5): op signatures and keyword binding, the
defaults of ``defop``, one name per idea in ``refnn.nn`` and ``refnn.image``, and
parameter files that give named tuples back."""

from __future__ import annotations

import inspect
import random
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from refnn import Matrix, image, nn, ops
from refnn.ops import _core


# ----------------------------------------------------------------------- op signatures
@pytest.mark.parametrize("name", sorted(ops.registry))
def test_signature_lists_inputs_and_parameters_in_call_order(name: str) -> None:
    spec = ops.registry[name]
    names = list(inspect.signature(getattr(ops, name)).parameters)
    inputs = ["A", "B"][: spec.arity] if name != "add_row" else ["A", "b"]
    expected = [*spec.params, *inputs] if spec.scalar_first else [*inputs, *spec.params]
    assert names == expected


def test_scale_reads_c_first() -> None:
    assert str(inspect.signature(ops.scale)) == "(c, A)"


def test_keyword_arguments_bind_like_positional_ones() -> None:
    M = Matrix([[1.0, 2.0], [3.0, 4.0]])
    assert ops.pow(A=M, p=2) == ops.pow(M, 2) == Matrix([[1.0, 4.0], [9.0, 16.0]])
    assert ops.scale(A=M, c=3) == ops.scale(3, M)
    assert ops.clip(M, hi=3.5, lo=1.5) == ops.clip(M, 1.5, 3.5)
    assert ops.slice_cols(M, j2=2, j1=2) == Matrix([[2.0], [4.0]])
    assert ops.add(B=M, A=M) == ops.add(M, M)


def test_bad_keywords_name_the_op_and_its_signature() -> None:
    M = Matrix([[1.0]])
    with pytest.raises(TypeError, match=r"pow\(A, p\) got unexpected argument\(s\) \['q'\]"):
        ops.pow(M, q=2)
    with pytest.raises(TypeError, match=r"pow\(A, p\).*'p'"):
        ops.pow(A=M)
    with pytest.raises(TypeError, match=r"scale\(c, A\).*multiple values"):
        ops.scale(2, c=2)


# ----------------------------------------------------------------------- defop defaults
def test_unary_ops_default_their_shape_rule_and_cases() -> None:
    spec = ops.registry["tanh"]
    assert spec.shape is _core.unary_shape
    assert spec.shape((2, 3)) == (2, 3)
    assert sorted(s for (s,), _ in spec.cases(2)) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_a_binary_op_must_give_its_shape_rule() -> None:
    def bogus(A: Any, B: Any) -> Any:  # pragma: no cover - never registered
        return A

    with pytest.raises(ValueError, match="needs shape="):
        _core.defop(
            arity=2,
            vjp=lambda g, y, xs, ps: (g, g),
            spec=lambda A, B: A,
            bound=_core.ErrorBound(ulps=0.5),
            cases=_core.binary_cases,
        )(bogus)
    assert "bogus" not in ops.registry


def test_kernel_arguments_must_match_the_declared_parameters() -> None:
    def bogus2(A: Any, q: Any) -> Any:  # pragma: no cover - never registered
        return A

    with pytest.raises(ValueError, match="followed by the parameters"):
        _core.defop(
            arity=1,
            params=("p",),
            vjp=lambda g, y, xs, ps: (g,),
            spec=lambda A, p: A,
            bound=_core.ErrorBound(ulps=0.5),
            cases=_core.unary_cases(((2,),)),
        )(bogus2)


def test_value_is_defined_once() -> None:
    from refnn.nn import layers, losses

    assert ops.Value is _core.Value
    for module in (layers, losses):
        assert vars(module).get("Value", ops.Value) is ops.Value


# ----------------------------------------------------------------------- one name per idea
@pytest.mark.parametrize(
    ("module", "name", "hint"),
    [
        (nn, "tanh", "refnn.ops.tanh"),
        (nn, "relu", "nn.ReLU()"),
        (nn, "sine", "nn.Sine(omega0)"),
        (nn, "xavier_uniform", "glorot_uniform"),
        (nn, "loss_and_grad", "nn.value_and_grad"),
        (image, "mse", "pixel_mse"),
        (image, "fourier_features", "nn.FourierFeatures(B)"),
    ],
)
def test_a_removed_name_says_what_replaced_it(module: Any, name: str, hint: str) -> None:
    with pytest.raises(AttributeError, match="was removed") as info:
        getattr(module, name)
    assert hint in str(info.value)
    assert name not in module.__all__


def test_unknown_names_are_plain_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        getattr(nn, "nonesuch")  # noqa: B009
    assert not hasattr(image, "nonesuch")


def test_nn_exports_no_aliases() -> None:
    objs = [getattr(nn, n) for n in nn.__all__]
    assert len({id(o) for o in objs}) == len(objs), "two exported names for one object"
    assert len(nn.__all__) < 74


def test_momentum_and_adamw_are_classes() -> None:
    assert inspect.isclass(nn.Momentum) and issubclass(nn.Momentum, nn.SGD)
    assert inspect.isclass(nn.AdamW) and issubclass(nn.AdamW, nn.Adam)
    assert nn.Momentum(0.1) == nn.Momentum(0.1, 0.9, False)
    assert repr(nn.AdamW(1e-3)).startswith("AdamW(")


def test_dense_names_its_initialiser_weight_init() -> None:
    d = nn.Dense(2, 3, weight_init=nn.he_uniform)
    assert d.weight_init is nn.he_uniform
    assert inspect.ismethod(d.init)
    with pytest.raises(TypeError, match="init"):
        nn.Dense(2, 3, init=nn.he_uniform)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="positive int in_features"):
        nn.Dense(0, 3)
    m = nn.mlp([2, 3, 1], "tanh", weight_init=nn.lecun_normal)
    dense = [layer for layer in m.layers if isinstance(layer, nn.Dense)]
    assert len(dense) == 2 and all(d.weight_init is nn.lecun_normal for d in dense)


def test_the_fourier_matrix_is_drawn_in_one_place_bit_for_bit() -> None:
    # drawn by hand from the documented recipe: row by row, rng.gauss(0, sigma)
    rng = random.Random(7)
    by_hand = [rng.gauss(0.0, 2.5) for _ in range(2 * 4)]
    layer = nn.FourierFeatures.gaussian(2, 4, 2.5, random.Random(7))
    assert [x.hex() for x in layer.B.data] == [x.hex() for x in by_hand]
    B = image.gaussian_fourier_matrix(4, 2.5, 7)
    assert B.shape == (2, 4) and [x.hex() for x in B.data] == [x.hex() for x in by_hand]


# ----------------------------------------------------------------------- parameter files
class Pair(NamedTuple):
    first: Any
    second: Any


def test_named_tuples_come_back_with_like(tmp_path: Path) -> None:
    tree = {"p": Pair(Matrix([[1.0]]), [Matrix([[2.0, 3.0]]), None]), "q": (Matrix([[4.0]]),)}
    path = tmp_path / "p.json"
    nn.save_params(path, tree)
    plain = nn.load_params(path)
    assert type(plain["p"]) is tuple  # the file alone does not know the class
    back = nn.load_params(path, like=tree)
    assert type(back["p"]) is Pair and back == tree
    assert type(back["q"]) is tuple and type(back["p"].second) is list
    assert nn.serialize.decode_tree(nn.serialize.encode_tree(tree), like=tree) == tree
