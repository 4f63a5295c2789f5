"""``refnn.nn``: layers, losses, initialisers, optimisers, training and parameter files.

Everything here is written against :mod:`refnn.ops` and :func:`refnn.value_and_grad` only
(no hand-written backward pass, no ``Matrix`` methods in forward paths), so it runs on
reference matrices of every scalar domain — SymPy symbols included, which is how the
tests check it — inside ``refnn.grad``, and on any registered backend.

Parameters are immutable values: a *pytree* of matrices (nested tuples, lists and dicts),
see :mod:`refnn.nn.tree`. :func:`value_and_grad` is :func:`refnn.value_and_grad` itself,
which differentiates with respect to a whole tree.
A typical run::

    import random
    from refnn import nn

    model = nn.mlp([2, 16, 16, 1], "tanh")
    params = model.init(random.Random(0))
    params, state, history = nn.fit(model, params, (X, Y), nn.mse, nn.Adam(1e-2), epochs=200)
    nn.save_params("model.json", params)

Modules: :mod:`~refnn.nn.tree` (pytrees), :mod:`~refnn.nn.initializers`,
:mod:`~refnn.nn.layers`, :mod:`~refnn.nn.losses`, :mod:`~refnn.nn.optim`,
:mod:`~refnn.nn.train`, :mod:`~refnn.nn.serialize`.

One name per idea: an activation function is its op (``ops.tanh``), its layer the class
(``nn.Tanh()``); Glorot's initialisers are ``glorot_*`` (not also ``xavier_*``);
``nn.Momentum`` and ``nn.AdamW`` are :class:`SGD` and :class:`Adam` with other defaults;
``Dense(..., weight_init=...)`` names the initialiser, ``Dense.init(rng)`` draws the
parameters. A name that was removed raises an ``AttributeError`` naming its replacement.
"""

from typing import TYPE_CHECKING

from refnn.errors import TrainingDiverged
from refnn.nn import initializers
from refnn.nn.initializers import (
    Initializer,
    bias_uniform,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    siren_first,
    siren_hidden,
    uniform,
    zeros,
)
from refnn.nn.layers import (
    Dense,
    FourierFeatures,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Sine,
    Softplus,
    Tanh,
    mlp,
    siren,
)
from refnn.nn.losses import (
    binary_cross_entropy_with_logits,
    l1_penalty,
    l2_penalty,
    mae,
    mse,
    one_hot,
    softmax_cross_entropy,
)
from refnn.nn.optim import (
    SGD,
    Adam,
    AdamState,
    AdamW,
    Momentum,
    Optimizer,
    Schedule,
    SGDState,
    constant,
    cosine,
    learning_rate_at,
    step_decay,
)
from refnn.nn.serialize import ParamsFormatError, load_params, save_params
from refnn.nn.train import fit, make_step, scalar, take_rows, value_and_grad
from refnn.nn.tree import (
    PyTree,
    TreeDef,
    n_params,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

__all__ = [
    "SGD",
    "Adam",
    "AdamState",
    "AdamW",
    "Dense",
    "FourierFeatures",
    "Identity",
    "Initializer",
    "Layer",
    "LeakyReLU",
    "Momentum",
    "Optimizer",
    "ParamsFormatError",
    "PyTree",
    "ReLU",
    "SGDState",
    "Schedule",
    "Sequential",
    "Sigmoid",
    "Sine",
    "Softplus",
    "Tanh",
    "TrainingDiverged",
    "TreeDef",
    "bias_uniform",
    "binary_cross_entropy_with_logits",
    "constant",
    "cosine",
    "fit",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "initializers",
    "l1_penalty",
    "l2_penalty",
    "learning_rate_at",
    "lecun_normal",
    "lecun_uniform",
    "load_params",
    "mae",
    "make_step",
    "mlp",
    "mse",
    "n_params",
    "normal",
    "one_hot",
    "save_params",
    "scalar",
    "siren",
    "siren_first",
    "siren_hidden",
    "softmax_cross_entropy",
    "step_decay",
    "take_rows",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
    "uniform",
    "value_and_grad",
    "zeros",
]

#: Names refnn.nn no longer has (each was a second name for one idea) and what to use.
_REMOVED = {
    "tanh": "the function is refnn.ops.tanh, the layer nn.Tanh()",
    "relu": "the function is refnn.ops.relu, the layer nn.ReLU()",
    "leaky_relu": "the function is refnn.ops.leaky_relu(x, slope), the layer nn.LeakyReLU(slope)",
    "sigmoid": "the function is refnn.ops.sigmoid, the layer nn.Sigmoid()",
    "softplus": "the function is refnn.ops.softplus, the layer nn.Softplus()",
    "sine": "the layer is nn.Sine(omega0); as ops: ops.sin(ops.scale(omega0, x))",
    "identity": "the layer is nn.Identity()",
    "xavier_uniform": "use nn.glorot_uniform (Glorot and Xavier are one person)",
    "xavier_normal": "use nn.glorot_normal (Glorot and Xavier are one person)",
    "loss_and_grad": "use nn.value_and_grad (the same function as refnn.value_and_grad)",
}

if not TYPE_CHECKING:  # a clear error at run time; type checkers see only the real names

    def __getattr__(name: str) -> object:
        if name in _REMOVED:
            raise AttributeError(f"refnn.nn.{name} was removed: {_REMOVED[name]}")
        raise AttributeError(f"module 'refnn.nn' has no attribute {name!r}")
