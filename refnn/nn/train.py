"""Gradients with respect to a whole parameter tree, one training step, and ``fit``.

* :func:`value_and_grad` (alias :func:`loss_and_grad`) *is* :func:`refnn.value_and_grad`,
  which accepts pytrees: ``value_and_grad(loss_fn)(params, *batch)`` differentiates
  ``loss_fn(params, *batch)`` with respect to every leaf of ``params`` at once and returns
  the gradients in the parameters' structure.
* :func:`make_step` returns ``step(params, opt_state, X, Y) -> (params, opt_state, loss)``
  for a model, a loss and an optimiser: the building block of any training loop.
* :func:`train_loop` is *the* training loop: it runs a step function over a stream of
  batches, stops with :class:`~refnn.TrainingDiverged` when the loss stops being finite,
  and lets its caller in through hooks (after every step; on Ctrl-C). :func:`fit` and
  :func:`refnn.reconstruct.reconstruct` both drive it.
* :func:`fit` runs epochs of (optionally shuffled, mini-batched) steps through it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from refnn import autodiff, ops
from refnn.errors import TrainingDiverged
from refnn.matrix import Matrix
from refnn.nn.layers import Layer
from refnn.nn.optim import Optimizer, learning_rate_at
from refnn.nn.tree import PyTree, tree_leaves

__all__ = [
    "StepReport",
    "TrainState",
    "fit",
    "loss_and_grad",
    "make_step",
    "rate_advice",
    "scalar",
    "take_rows",
    "train_loop",
    "value_and_grad",
]

Value = Any
Loss = Callable[[Value, Value], Value]
StepFn = Callable[[PyTree, Any, Value, Value], tuple[PyTree, Any, Any]]
Callback = Callable[[int, Any, PyTree], Any]


#: The same function as :func:`refnn.value_and_grad`, which differentiates with respect to a
#: whole parameter tree: ``value_and_grad(loss_fn)(params, *batch) -> (loss, grads)``, with
#: ``grads`` in the structure of ``params`` and the ``batch`` arguments constant.
value_and_grad = autodiff.value_and_grad
loss_and_grad = value_and_grad


def scalar(value: Value) -> Any:
    """The entry of a 1×1 result as a plain scalar (a ``float`` for float matrices; the
    SymPy expression for symbolic ones). Backend values are read duck-typed: ``.item()``,
    or ``.item()`` of their ``.array`` / ``.tensor``, or ``float(value)``."""
    v = ops.concrete(value)
    if isinstance(v, Matrix):
        return v.data[0]
    for holder in (v, getattr(v, "array", None), getattr(v, "tensor", None)):
        item = getattr(holder, "item", None)
        if callable(item):
            return item()
    try:
        return float(v)
    except TypeError:
        raise TypeError(
            f"cannot read a scalar out of a {type(v).__name__}: give it an item() method"
        ) from None


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:  # symbolic or exotic scalars: nothing to check
        return True


def rate_advice(optimiser: Any) -> Callable[[int], str]:
    """The advice a divergence message gives by default: a smaller learning rate (naming the
    rate the failing step used, if ``optimiser`` has an ``lr``) or cleaner data."""
    lr = getattr(optimiser, "lr", None)

    def advice(step: int) -> str:
        rate = "" if lr is None else f" (learning rate {learning_rate_at(lr, step - 1)!r})"
        return f"try a smaller learning rate{rate}, or check the data for NaN/inf"

    return advice


def make_step(model: Layer, loss: Loss, optimiser: Optimizer) -> StepFn:
    """``step(params, opt_state, X, Y) -> (params, opt_state, loss_value)``: the loss of
    ``model.apply(params, X)`` against ``Y``, its gradient, and one optimiser update.

    ``loss_value`` (a plain scalar, see :func:`scalar`) is the loss *before* the update.
    The step does not check for NaN (``fit`` does); an ``OverflowError`` from a float
    kernel is left to the caller too.
    """

    def objective(params: PyTree, X: Value, Y: Value) -> Value:
        return loss(model.apply(params, X), Y)

    vg = value_and_grad(objective)
    update = optimiser.update

    def step(params: PyTree, opt_state: Any, X: Value, Y: Value) -> tuple[PyTree, Any, Any]:
        value, grads = vg(params, X, Y)
        new_params, new_state = update(grads, opt_state, params)
        return new_params, new_state, scalar(value)

    return step


@dataclass(frozen=True)
class TrainState:
    """Where a training run stands: ``step`` updates made (counted over the whole run, so
    a resumed run continues the count), the parameters and the optimiser state after them."""

    step: int
    params: PyTree
    opt_state: Any


@dataclass(frozen=True)
class StepReport(TrainState):
    """What the ``on_step`` hook of :func:`train_loop` sees after a finished step: the new
    state, the (finite) loss *before* the update and the batch ``(X, Y)`` it was taken on."""

    loss: Any
    batch: tuple[Value, Value]


def train_loop(
    step_fn: StepFn,
    start: TrainState,
    batches: Iterable[tuple[Value, Value]],
    *,
    on_step: Callable[[StepReport], None] | None = None,
    on_interrupt: Callable[[TrainState], None] | None = None,
    advice: Callable[[int], str] | None = None,
) -> TrainState:
    """Run ``step_fn`` (see :func:`make_step`) from ``start`` once per batch of ``batches``
    and return the final state. This is the one training loop of refnn.

    * Divergence: a loss that is NaN or ±inf, a float overflow inside the step, or an
      arithmetic or domain error (``DomainError``, ``ValueError``) inside the step when
      its parameters came out of earlier updates (``start.step > 0`` or a step already
      done: ``sin(inf)`` because an update made a weight huge) or are not finite, raises
      :class:`~refnn.TrainingDiverged` naming the step (its ``.step``) before any update
      with that loss is applied; ``advice(step)`` ends its message (default: try a smaller
      learning rate). The same error in the very first step from finite parameters is the
      caller's input, not divergence, and propagates unchanged.
    * ``on_step(report)`` runs after every finished step (progress, metrics, checkpoints).
    * ``on_interrupt(state)`` runs on Ctrl-C (``KeyboardInterrupt``, during a step or a
      hook) with the last *finished* step's state, e.g. to save a checkpoint; the interrupt
      is then raised again.

    ``batches`` is consumed lazily, one batch per step, so a generator that draws random
    batches draws exactly as many as the loop runs steps.
    """
    state = start
    try:
        for batch in batches:
            n = state.step + 1
            params, opt_state, loss = _checked_step(step_fn, state, batch, n, advice)
            state = TrainState(n, params, opt_state)
            if on_step is not None:
                on_step(StepReport(n, params, opt_state, loss, batch))
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt(state)
        raise
    return state


def _checked_step(
    step_fn: StepFn,
    state: TrainState,
    batch: tuple[Value, Value],
    n: int,
    advice: Callable[[int], str] | None,
) -> tuple[PyTree, Any, Any]:
    try:
        params, opt_state, loss = step_fn(state.params, state.opt_state, *batch)
    except OverflowError as exc:
        raise _diverged(n, f"a float overflow ({exc})", advice) from exc
    except (ArithmeticError, ValueError) as exc:
        if state.step == 0 and _all_finite(state.params):
            raise
        raise _diverged(n, f"the step failed ({exc})", advice) from exc
    if not _finite(loss):
        raise _diverged(n, f"the loss is {loss!r}", advice)
    return params, opt_state, loss


def _all_finite(params: PyTree) -> bool:
    """Whether every entry of every leaf is finite (symbolic entries count as finite).
    Reference matrices are read entry by entry; other backends' values through the
    registry: the sum of a leaf is finite unless an entry is NaN or ±inf (or the sum
    overflows, which is as good a sign of divergence)."""
    for leaf in tree_leaves(params):
        value = ops.concrete(leaf)
        if isinstance(value, Matrix):
            if not all(map(_finite, value.data)):
                return False
        elif not _finite(scalar(ops.sum(value))):
            return False
    return True


def _diverged(step: int, what: str, advice: Callable[[int], str] | None) -> TrainingDiverged:
    hint = advice(step) if advice is not None else rate_advice(None)(step)
    return TrainingDiverged(f"training diverged: {what} at step {step}; {hint}", step)


def take_rows(X: Value, rows: Sequence[int]) -> Value:
    """The rows of X with the given **0-based** positions, in that order (a mini-batch).

    Reference matrices are sliced directly. Other backends' values are indexed by the list
    of positions, duck-typed: ``X[rows]`` if the value supports it, else the value's
    ``.array`` (NumPy backend) or ``.tensor`` (PyTorch backend) is indexed and wrapped
    again with ``type(X)(...)``.
    """
    if isinstance(X, Matrix):
        n = X.shape[1]
        d = X.data
        data: list[Any] = []
        for r in rows:
            data.extend(d[r * n : r * n + n])
        return Matrix.from_flat(len(rows), n, data)
    idx = list(rows)
    if hasattr(type(X), "__getitem__"):
        return X[idx]
    for attr in ("array", "tensor"):
        inner = getattr(X, attr, None)
        if inner is not None:
            return type(X)(inner[idx])
    raise TypeError(
        f"cannot take rows of a {type(X).__name__} for mini-batches; use batch_size=None "
        f"or reference matrices"
    )


def fit(
    model: Layer,
    params: PyTree,
    data: tuple[Value, Value],
    loss: Loss,
    optimiser: Optimizer,
    *,
    epochs: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
    opt_state: Any = None,
    callback: Callback | None = None,
) -> tuple[PyTree, Any, list[Any]]:
    """Train ``model`` from ``params`` on ``data = (X, Y)`` (one example per row); return
    ``(params, opt_state, history)`` with ``history`` the loss of every step, in order.

    * ``batch_size=None`` uses the whole data set in every step (one step per epoch).
      Otherwise each epoch visits the rows in an order drawn from ``random.Random(seed)``
      (one shuffle per epoch, the same sequence for the same seed; ``shuffle=False`` keeps
      the data order) and takes consecutive batches of ``batch_size`` rows; the last batch
      of an epoch may be smaller. Rows are gathered with :func:`take_rows`.
    * ``opt_state`` resumes from an earlier state (default: ``optimiser.init(params)``).
    * ``callback(step, loss_value, params)`` is called after every step (``step`` counts
      from 1; ``params`` are the updated ones).
    * A loss that is NaN or ±inf, or a float overflow inside the step, raises
      :class:`~refnn.TrainingDiverged` naming the step (its ``.step``) before any
      update with that loss is applied.
    """
    X, Y = data
    m = int(ops.concrete(X).shape[0])
    if int(ops.concrete(Y).shape[0]) != m:
        raise ValueError(
            f"X and Y need one row per example: {m} rows and {ops.concrete(Y).shape[0]} rows"
        )
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    whole = batch_size is None or (batch_size >= m and not shuffle)
    history: list[Any] = []

    def record(report: StepReport) -> None:
        history.append(report.loss)
        if callback is not None:
            callback(report.step, report.loss, report.params)

    start = TrainState(0, params, optimiser.init(params) if opt_state is None else opt_state)
    end = train_loop(
        make_step(model, loss, optimiser),
        start,
        _epochs(X, Y, epochs, None if whole else batch_size, random.Random(seed), shuffle),
        on_step=record,
        advice=rate_advice(optimiser),
    )
    return end.params, end.opt_state, history


def _epochs(
    X: Value, Y: Value, epochs: int, batch_size: int | None, rng: random.Random, shuffle: bool
) -> Iterator[tuple[Value, Value]]:
    """``epochs`` passes over the rows: whole (``batch_size=None``) or in consecutive
    batches of a fresh shuffle per epoch (or of the data order)."""
    m = int(ops.concrete(X).shape[0])
    for _ in range(epochs):
        if batch_size is None:
            yield X, Y
            continue
        order = list(range(m))
        if shuffle:
            rng.shuffle(order)
        for k in range(0, m, batch_size):
            yield take_rows(X, order[k : k + batch_size]), take_rows(Y, order[k : k + batch_size])
