"""Layers: immutable descriptions of a computation; parameters live outside them.

A layer is a frozen dataclass with two methods:

* ``init(rng: random.Random) -> params`` draws fresh parameters (a pytree, see
  :mod:`refnn.nn.tree`; ``()`` for a layer without any);
* ``apply(params, x) -> y`` maps a batch ``x`` (``batch×features``: one example per row) to
  ``y``, using only :mod:`refnn.ops`, so it runs on reference matrices of every scalar
  domain (SymPy symbols included), inside ``refnn.grad`` and on any registered backend.

``Sequential(Dense(2, 16), Tanh(), Dense(16, 1))`` chains layers; its parameters are the
tuple of its layers' parameters. :func:`mlp` and :func:`siren` build common networks.

One name per idea: an activation *function* is the op (``ops.tanh(x)``, ``ops.relu(x)``), an
activation *layer* is its class here (``Tanh()``, ``ReLU()``), and ``mlp`` also takes the
layer's name as a string (``"tanh"``). ``Sine(ω₀)`` is the one activation that is not a
single op: sin(ω₀·x).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from refnn import ops
from refnn.errors import DomainError, ShapeError
from refnn.matrix import Matrix, fmt_shape
from refnn.nn import initializers as inits
from refnn.nn.initializers import Initializer
from refnn.nn.tree import PyTree
from refnn.ops import Value

__all__ = [
    "Dense",
    "FourierFeatures",
    "Identity",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Sine",
    "Softplus",
    "Tanh",
    "mlp",
    "siren",
]


@runtime_checkable
class Layer(Protocol):
    """What every layer provides: ``init(rng) -> params`` and ``apply(params, x) -> y``."""

    def init(self, rng: random.Random) -> PyTree:
        """Fresh parameters drawn from ``rng``."""
        ...

    def apply(self, params: PyTree, x: Value) -> Value:
        """The layer's output for the batch ``x`` (one example per row)."""
        ...


def _columns(x: Value) -> int:
    return int(x.shape[1])


# ------------------------------------------------------------------ activation layers
class _Activation:
    """Base of parameter-free element-wise layers (params are ``()``)."""

    def init(self, rng: random.Random) -> PyTree:
        """No parameters: the empty tuple."""
        return ()

    def apply(self, params: PyTree, x: Value) -> Value:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class ReLU(_Activation):
    """max(x, 0) element-wise: the layer form of :func:`refnn.ops.relu`."""

    def apply(self, params: PyTree, x: Value) -> Value:
        """relu(x)."""
        return ops.relu(x)


@dataclass(frozen=True)
class LeakyReLU(_Activation):
    """x where x > 0, slope·x elsewhere: the layer form of :func:`refnn.ops.leaky_relu` with a
    fixed ``slope``."""

    slope: Any = 0.01

    def apply(self, params: PyTree, x: Value) -> Value:
        """leaky_relu(x, slope)."""
        return ops.leaky_relu(x, self.slope)


@dataclass(frozen=True)
class Tanh(_Activation):
    """tanh x element-wise: the layer form of :func:`refnn.ops.tanh`."""

    def apply(self, params: PyTree, x: Value) -> Value:
        """tanh(x)."""
        return ops.tanh(x)


@dataclass(frozen=True)
class Sigmoid(_Activation):
    """σ(x) = 1/(1 + e⁻ˣ) element-wise: the layer form of :func:`refnn.ops.sigmoid`."""

    def apply(self, params: PyTree, x: Value) -> Value:
        """sigmoid(x)."""
        return ops.sigmoid(x)


@dataclass(frozen=True)
class Softplus(_Activation):
    """log(1 + eˣ) element-wise: the layer form of :func:`refnn.ops.softplus`."""

    def apply(self, params: PyTree, x: Value) -> Value:
        """softplus(x)."""
        return ops.softplus(x)


@dataclass(frozen=True)
class Sine(_Activation):
    """SIREN's activation sin(ω₀·x) (Sitzmann et al., 2020), ω₀ = 30 by default."""

    omega0: Any = 30.0

    def apply(self, params: PyTree, x: Value) -> Value:
        """sin(ω₀·x)."""
        return ops.sin(ops.scale(self.omega0, x))


@dataclass(frozen=True)
class Identity(_Activation):
    """x unchanged (a linear output)."""

    def apply(self, params: PyTree, x: Value) -> Value:
        """x."""
        return x


# ------------------------------------------------------------------ Dense
@dataclass(frozen=True)
class Dense:
    """The affine layer y = xW + b: ``Dense(in_features, out_features,
    weight_init=glorot_uniform, bias_init=zeros, bias=True)``.

    ``x`` is ``batch×in_features``, ``W`` is ``in_features×out_features``, ``b`` is the
    ``1×out_features`` bias added to every row (``ops.add_row``). Parameters:
    ``{"W": W, "b": b}`` (or ``{"W": W}`` with ``bias=False``). The method :meth:`init`
    draws ``W`` with ``weight_init`` first, then ``b`` with ``bias_init``, from one generator.
    """

    in_features: int
    out_features: int
    weight_init: Initializer = inits.glorot_uniform
    bias_init: Initializer = inits.zeros
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("in_features", "out_features"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Dense needs a positive int {name}, got {v!r}")

    def init(self, rng: random.Random) -> PyTree:
        """``{"W": in×out, "b": 1×out}`` drawn with ``weight_init`` (then ``bias_init``)."""
        fi, fo = self.in_features, self.out_features
        W = self.weight_init(rng, fi, fo, (fi, fo))
        if not self.bias:
            return {"W": W}
        return {"W": W, "b": self.bias_init(rng, fi, fo, (1, fo))}

    def apply(self, params: PyTree, x: Value) -> Value:
        """xW + b (b added to every row)."""
        if _columns(x) != self.in_features:
            raise ShapeError(
                f"Dense({self.in_features}→{self.out_features}) takes a batch×"
                f"{self.in_features} input (one example per row), got "
                f"{fmt_shape(x.shape)}"
            )
        y = ops.matmul(x, params["W"])
        if self.bias:
            y = ops.add_row(y, params["b"])
        return y


# ------------------------------------------------------------------ Fourier features
def _check_counts(*named: tuple[str, Any]) -> None:
    for name, v in named:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ShapeError(f"FourierFeatures needs an int {name} ≥ 1, got {v!r}")


@dataclass(frozen=True)
class FourierFeatures:
    """Fixed (not trained) Fourier features: x ↦ [sin(2π·xB), cos(2π·xB)].

    ``B`` is an ``in_features×k`` matrix, so the output has ``2k`` columns (sines in columns
    1…k, cosines in k+1…2k). ``B``
    is a constant of the layer, not a parameter: ``init`` returns ``()`` and no optimiser
    changes it. On another backend, give the layer ``B`` in that backend's array type
    (``dataclasses.replace(layer, B=...)``).
    """

    B: Any

    @property
    def in_features(self) -> int:
        """Rows of ``B``."""
        return int(self.B.shape[0])

    @property
    def out_features(self) -> int:
        """2k: a sine and a cosine for each column of ``B``."""
        return 2 * int(self.B.shape[1])

    @classmethod
    def gaussian(
        cls, in_features: int, k: int, sigma: float, rng: random.Random | int
    ) -> FourierFeatures:
        """Random Fourier features (Tancik et al., 2020): ``B`` is ``in_features×k`` with
        independent N(0, σ²) entries, drawn row by row with ``rng.gauss(0, sigma)`` (an
        ``int`` seeds a fresh ``random.Random``), so a seed fixes ``B`` bit for bit. With the
        2π of this map, σ ≈ 1 suits coordinates in [−1, 1]; much larger σ fits training
        pixels but ruins held-out ones. This is the one place a Gaussian ``B`` is drawn.

        A k or in_features below 1 raises :class:`~refnn.ShapeError`; a σ that is not a
        positive finite number raises :class:`~refnn.DomainError`.
        """
        _check_counts(("in_features", in_features), ("k", k))
        if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
            raise DomainError(f"sigma must be a positive finite number, got {sigma!r}")
        gen = random.Random(rng) if isinstance(rng, int) else rng
        g = gen.gauss
        entries = [g(0.0, sigma) for _ in range(in_features * k)]
        return cls(Matrix.from_flat(in_features, k, entries))

    @classmethod
    def positional(cls, in_features: int, n_frequencies: int) -> FourierFeatures:
        """NeRF's positional encoding: for each input coordinate x and ℓ = 0…L−1 the
        features sin(2^ℓ·π·x) and cos(2^ℓ·π·x) (``B`` has the entries 2^ℓ/2; columns
        ordered coordinate by coordinate)."""
        _check_counts(("in_features", in_features), ("n_frequencies", n_frequencies))
        L = n_frequencies
        data = [0.0] * (in_features * in_features * L)
        width = in_features * L
        for i in range(in_features):
            for ell in range(L):
                data[i * width + i * L + ell] = 2.0**ell / 2.0
        return cls(Matrix.from_flat(in_features, width, data))

    def init(self, rng: random.Random) -> PyTree:
        """No trainable parameters: ``()``."""
        return ()

    def apply(self, params: PyTree, x: Value) -> Value:
        """[sin(2π·xB), cos(2π·xB)]."""
        if _columns(x) != self.in_features:
            raise ShapeError(
                f"FourierFeatures takes a batch×{self.in_features} input, got {fmt_shape(x.shape)}"
            )
        z = ops.scale(2.0 * math.pi, ops.matmul(x, self.B))
        return ops.concat_cols(ops.sin(z), ops.cos(z))


# ------------------------------------------------------------------ Sequential
@dataclass(frozen=True, init=False)
class Sequential:
    """Layers applied one after another; params are the tuple of the layers' params."""

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for k, layer in enumerate(layers, start=1):
            if not (hasattr(layer, "init") and hasattr(layer, "apply")):
                raise TypeError(
                    f"Sequential takes layers (objects with init and apply); item {k} is "
                    f"{type(layer).__name__}"
                )
        object.__setattr__(self, "layers", tuple(layers))

    def init(self, rng: random.Random) -> PyTree:
        """Each layer's parameters in order, drawn from the one generator."""
        return tuple(layer.init(rng) for layer in self.layers)

    def apply(self, params: PyTree, x: Value) -> Value:
        """The layers applied in order."""
        if len(params) != len(self.layers):
            raise ValueError(
                f"Sequential of {len(self.layers)} layers got params for {len(params)}"
            )
        for layer, p in zip(self.layers, params, strict=True):
            x = layer.apply(p, x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, k: int) -> Layer:
        return self.layers[k]


# ------------------------------------------------------------------ builders
_ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}

_DEFAULT_INIT: dict[str, Initializer] = {
    "relu": inits.he_uniform,
    "leaky_relu": inits.he_uniform,
}


def mlp(
    sizes: Sequence[int],
    activation: str | Layer = "tanh",
    *,
    output_activation: str | Layer | None = None,
    weight_init: Initializer | None = None,
    bias_init: Initializer = inits.zeros,
) -> Sequential:
    """A multi-layer perceptron: ``mlp([2, 16, 16, 1], "tanh")`` is
    Dense(2,16) → Tanh → Dense(16,16) → Tanh → Dense(16,1).

    ``activation`` is a layer or one of ``relu tanh sigmoid softplus leaky_relu identity``;
    it follows every Dense layer but the last, after which ``output_activation`` (if any)
    comes. Weights (``weight_init``) default to He uniform for ReLU-like activations, Glorot
    uniform otherwise; biases (``bias_init``) to zero.
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {list(sizes)}")

    def make(a: str | Layer) -> Layer:
        if isinstance(a, str):
            try:
                return _ACTIVATIONS[a]()
            except KeyError:
                raise ValueError(
                    f"unknown activation {a!r}; choose one of {sorted(_ACTIVATIONS)} "
                    f"or pass a layer"
                ) from None
        return a

    w_init = weight_init
    if w_init is None:
        key = activation if isinstance(activation, str) else ""
        w_init = _DEFAULT_INIT.get(key, inits.glorot_uniform)
    layers: list[Layer] = []
    pairs = list(itertools.pairwise(sizes))
    for k, (fi, fo) in enumerate(pairs):
        layers.append(Dense(fi, fo, weight_init=w_init, bias_init=bias_init))
        if k < len(pairs) - 1:
            layers.append(make(activation))
    if output_activation is not None:
        layers.append(make(output_activation))
    return Sequential(*layers)


def siren(
    in_features: int,
    width: int,
    depth: int,
    out_features: int,
    omega0: float = 30.0,
    *,
    omega0_first: float | None = None,
) -> Sequential:
    """A SIREN (Sitzmann et al., 2020): ``depth`` hidden layers of ``width`` sine units.

    Dense(in, width) → Sine(ω₀) → [Dense(width, width) → Sine(ω₀)] × (depth − 1) →
    Dense(width, out) (linear output). The first layer's weights are U(−1/n, 1/n), later
    layers' U(±√(6/n)/ω₀) with n = fan_in; biases U(±1/√n) as in the authors' code.
    ``omega0_first`` sets a different ω₀ for the first sine (default: ``omega0``).
    """
    if depth < 1:
        raise ValueError(f"a SIREN needs depth ≥ 1 hidden layers, got {depth}")
    w0_first = omega0 if omega0_first is None else omega0_first
    hidden = inits.siren_hidden(omega0)
    b_init = inits.bias_uniform
    layers: list[Layer] = [
        Dense(in_features, width, weight_init=inits.siren_first, bias_init=inits.bias_uniform),
        Sine(w0_first),
    ]
    for _ in range(depth - 1):
        layers += [Dense(width, width, weight_init=hidden, bias_init=b_init), Sine(omega0)]
    layers.append(Dense(width, out_features, weight_init=hidden, bias_init=b_init))
    return Sequential(*layers)
