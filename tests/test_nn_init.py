"""Initialisers: each one's sample mean and variance lie within 5 standard errors of the
stated distribution's; ranges; determinism."""

from __future__ import annotations

import math
import random

import pytest

from refnn import nn

FAN_IN, FAN_OUT = 40, 25
N_ROWS, N_COLS = 100, 200  # 20,000 draws per initialiser

# (initialiser, kind, scale): uniform U(−a, a) with a = scale, or normal N(0, scale²)
CASES = [
    (nn.glorot_uniform, "uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (nn.glorot_normal, "normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (nn.he_uniform, "uniform", math.sqrt(6 / FAN_IN)),
    (nn.he_normal, "normal", math.sqrt(2 / FAN_IN)),
    (nn.lecun_uniform, "uniform", math.sqrt(3 / FAN_IN)),
    (nn.lecun_normal, "normal", math.sqrt(1 / FAN_IN)),
    (nn.bias_uniform, "uniform", 1 / math.sqrt(FAN_IN)),
    (nn.siren_first, "uniform", 1 / FAN_IN),
    (nn.siren_hidden(30.0), "uniform", math.sqrt(6 / FAN_IN) / 30),
    (nn.uniform(0.5), "uniform", 0.5),
    (nn.normal(2.0), "normal", 2.0),
]


@pytest.mark.parametrize(
    ("init", "kind", "scale"), CASES, ids=lambda c: getattr(c, "__name__", None)
)
def test_initialiser_statistics(init: nn.Initializer, kind: str, scale: float) -> None:
    W = init(random.Random(1234), FAN_IN, FAN_OUT, (N_ROWS, N_COLS))
    assert W.shape == (N_ROWS, N_COLS)
    xs = W.data
    assert all(type(x) is float for x in xs)
    N = len(xs)
    if kind == "uniform":
        var, fourth = scale**2 / 3, scale**4 / 5
        assert all(-scale <= x <= scale for x in xs)
        assert max(xs) > 0.999 * scale and min(xs) < -0.999 * scale
    else:
        var, fourth = scale**2, 3 * scale**4
    mean = math.fsum(xs) / N
    s2 = math.fsum((x - mean) ** 2 for x in xs) / (N - 1)
    assert abs(mean) <= 5 * math.sqrt(var / N), (mean, var)
    # the sample variance has standard error √((μ₄ − σ⁴)/N)
    assert abs(s2 - var) <= 5 * math.sqrt((fourth - var**2) / N), (s2, var)


def test_zeros_draws_nothing() -> None:
    rng = random.Random(7)
    Z = nn.zeros(rng, 3, 4, (3, 4))
    assert Z.data == (0.0,) * 12
    assert rng.random() == random.Random(7).random()


@pytest.mark.parametrize(("init", "kind", "scale"), CASES[:5])
def test_same_seed_same_bits(init: nn.Initializer, kind: str, scale: float) -> None:
    a = init(random.Random(99), 3, 4, (3, 4))
    b = init(random.Random(99), 3, 4, (3, 4))
    assert [x.hex() for x in a.data] == [x.hex() for x in b.data]
    assert a.data != init(random.Random(100), 3, 4, (3, 4)).data


def test_entries_are_drawn_row_major_with_uniform() -> None:
    W = nn.glorot_uniform(random.Random(3), 2, 3, (2, 3))
    a = math.sqrt(6 / 5)
    rng = random.Random(3)
    assert list(W.data) == [rng.uniform(-a, a) for _ in range(6)]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fan_in"):
        nn.he_normal(random.Random(0), 0, 3, (1, 3))
    with pytest.raises(ValueError, match="omega0"):
        nn.siren_hidden(0.0)
