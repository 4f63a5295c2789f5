"""Weight initialisers: ``(rng, fan_in, fan_out, shape) -> Matrix`` drawing from ``rng``.

Every initialiser draws its entries in row-major order from the ``random.Random`` passed in,
using only ``rng.uniform`` (= ``a + (b − a)·rng.random()``) and ``rng.gauss``; both are
deterministic functions of the generator's state in CPython, so the same seed gives
bit-identical parameters on any machine with IEEE doubles. Entries are Python floats.

=====================  ======================================  ============================
initialiser            distribution                            reference
=====================  ======================================  ============================
``glorot_uniform``     U(−a, a), a = √(6/(fan_in + fan_out))   Glorot & Bengio, 2010
``glorot_normal``      N(0, 2/(fan_in + fan_out))              (plain, not truncated)
``he_uniform``         U(−a, a), a = √(6/fan_in)               He et al., 2015
``he_normal``          N(0, 2/fan_in)
``lecun_uniform``      U(−a, a), a = √(3/fan_in)               LeCun et al., 1998
``lecun_normal``       N(0, 1/fan_in)
``zeros``              every entry 0.0
``bias_uniform``       U(−1/√fan_in, 1/√fan_in)                PyTorch's default bias
``siren_first``        U(−1/fan_in, 1/fan_in)                  Sitzmann et al., 2020
``siren_hidden(ω₀)``   U(−√(6/fan_in)/ω₀, √(6/fan_in)/ω₀)      (layers after the first)
=====================  ======================================  ============================

Glorot's initialisers are also called Xavier's (his first name); refnn has one name for
each, ``glorot_*``. Variances: U(−a, a) has variance a²/3, so Glorot uniform and Glorot
normal share the variance 2/(fan_in + fan_out), He both 2/fan_in and LeCun both 1/fan_in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from refnn.matrix import Matrix

__all__ = [
    "Initializer",
    "bias_uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "siren_first",
    "siren_hidden",
    "uniform",
    "zeros",
]

#: ``(rng, fan_in, fan_out, shape) -> Matrix``
Initializer = Callable[[random.Random, int, int, tuple[int, int]], Matrix[float]]


def _check(fan_in: int, shape: tuple[int, int]) -> int:
    m, n = shape
    if m < 1 or n < 1:
        raise ValueError(f"an initialiser needs a shape m×n with m, n ≥ 1, got {m}×{n}")
    if fan_in < 1:
        raise ValueError(f"fan_in must be at least 1, got {fan_in}")
    return m * n


def _uniform(rng: random.Random, a: float, shape: tuple[int, int]) -> Matrix[float]:
    m, n = shape
    u = rng.uniform
    return Matrix.from_flat(m, n, [u(-a, a) for _ in range(m * n)])


def _normal(rng: random.Random, sigma: float, shape: tuple[int, int]) -> Matrix[float]:
    m, n = shape
    g = rng.gauss
    return Matrix.from_flat(m, n, [g(0.0, sigma) for _ in range(m * n)])


def uniform(a: float) -> Initializer:
    """The initialiser drawing every entry from U(−a, a)."""

    def init(
        rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
    ) -> Matrix[float]:
        _check(fan_in, shape)
        return _uniform(rng, a, shape)

    init.__name__ = init.__qualname__ = f"uniform({a!r})"
    return init


def normal(sigma: float) -> Initializer:
    """The initialiser drawing every entry from N(0, σ²)."""

    def init(
        rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
    ) -> Matrix[float]:
        _check(fan_in, shape)
        return _normal(rng, sigma, shape)

    init.__name__ = init.__qualname__ = f"normal({sigma!r})"
    return init


def glorot_uniform(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """Glorot/Xavier uniform: U(−a, a) with a = √(6/(fan_in + fan_out))."""
    _check(fan_in, shape)
    return _uniform(rng, math.sqrt(6.0 / (fan_in + fan_out)), shape)


def glorot_normal(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """Glorot/Xavier normal: N(0, 2/(fan_in + fan_out)) (not truncated)."""
    _check(fan_in, shape)
    return _normal(rng, math.sqrt(2.0 / (fan_in + fan_out)), shape)


def he_uniform(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """He/Kaiming uniform (for ReLU): U(−a, a) with a = √(6/fan_in)."""
    _check(fan_in, shape)
    return _uniform(rng, math.sqrt(6.0 / fan_in), shape)


def he_normal(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """He/Kaiming normal (for ReLU): N(0, 2/fan_in) (not truncated)."""
    _check(fan_in, shape)
    return _normal(rng, math.sqrt(2.0 / fan_in), shape)


def lecun_uniform(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """LeCun uniform: U(−a, a) with a = √(3/fan_in) (variance 1/fan_in)."""
    _check(fan_in, shape)
    return _uniform(rng, math.sqrt(3.0 / fan_in), shape)


def lecun_normal(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """LeCun normal: N(0, 1/fan_in) (not truncated)."""
    _check(fan_in, shape)
    return _normal(rng, math.sqrt(1.0 / fan_in), shape)


def zeros(rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]) -> Matrix[float]:
    """Every entry 0.0 (draws nothing from ``rng``)."""
    size = _check(fan_in, shape)
    return Matrix.from_flat(shape[0], shape[1], [0.0] * size)


def bias_uniform(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default for a linear layer's bias (used by
    :func:`refnn.nn.siren`, as in the SIREN authors' code)."""
    _check(fan_in, shape)
    return _uniform(rng, 1.0 / math.sqrt(fan_in), shape)


def siren_first(
    rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
) -> Matrix[float]:
    """SIREN's first layer: U(−1/fan_in, 1/fan_in) (the layer's output is then multiplied
    by ω₀ inside :class:`~refnn.nn.Sine`)."""
    _check(fan_in, shape)
    return _uniform(rng, 1.0 / fan_in, shape)


def siren_hidden(omega0: float = 30.0) -> Initializer:
    """SIREN's later layers: U(−√(6/fan_in)/ω₀, √(6/fan_in)/ω₀), so that ω₀·Wx has the
    unit-variance-preserving spread of the paper."""
    if not omega0 > 0:
        raise ValueError(f"omega0 must be positive, got {omega0!r}")

    def init(
        rng: random.Random, fan_in: int, fan_out: int, shape: tuple[int, int]
    ) -> Matrix[float]:
        _check(fan_in, shape)
        return _uniform(rng, math.sqrt(6.0 / fan_in) / omega0, shape)

    init.__name__ = init.__qualname__ = f"siren_hidden({omega0!r})"
    return init
