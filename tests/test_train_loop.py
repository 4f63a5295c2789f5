"""``refnn.nn.train.train_loop``: the one training loop (``fit`` and ``reconstruct`` drive it).

The step functions here are tiny and written out by hand, so each property compares the
loop with an explicit fold over the same steps, or with what a step reported.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refnn import Matrix, TrainingDiverged, nn
from refnn.nn.train import StepReport, TrainState, train_loop


def halve_towards(p: float, s: int, x: float, y: float) -> tuple[float, int, float]:
    """A step on plain numbers: move p halfway to x·y; the 'loss' is (p − x·y)²."""
    target = x * y
    return p + 0.5 * (target - p), s + 1, (p - target) ** 2


batches_st = st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), max_size=12)


@given(batches_st, st.integers(0, 50))
def test_the_loop_is_a_fold_of_the_step_counting_on_from_start(
    batches: list[tuple[float, float]], start_step: int
) -> None:
    p, s = 1.0, 0
    for x, y in batches:
        p, s, _ = halve_towards(p, s, x, y)
    seen: list[StepReport] = []
    end = train_loop(halve_towards, TrainState(start_step, 1.0, 0), batches, on_step=seen.append)
    assert (end.params, end.opt_state) == (p, s)
    assert end.step == start_step + len(batches)
    assert [r.step for r in seen] == list(range(start_step + 1, end.step + 1))
    assert [r.batch for r in seen] == batches
    # each report's loss is the loss *before* its update: that of the previous params
    before = [1.0, *[r.params for r in seen]][: len(batches)]
    assert [r.loss for r in seen] == [
        (q - x * y) ** 2 for q, (x, y) in zip(before, batches, strict=True)
    ]


@given(batches_st, st.data())
def test_two_halves_continue_to_the_same_state(
    batches: list[tuple[float, float]], data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(batches)))
    whole = train_loop(halve_towards, TrainState(0, 1.0, 0), batches)
    half = train_loop(halve_towards, TrainState(0, 1.0, 0), batches[:k])
    assert train_loop(halve_towards, half, batches[k:]) == whole


def counting(n_batches: int, drawn: list[int]) -> Iterator[tuple[float, float]]:
    for k in range(n_batches):
        drawn.append(k)
        yield 1.0, 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_stops_before_its_update_naming_the_step(bad: float) -> None:
    def step(p: float, s: int, x: float, y: float) -> tuple[float, int, float]:
        return p + 1, s + 1, bad if s == 2 else 0.0  # the third step's loss is bad

    seen: list[int] = []
    drawn: list[int] = []
    with pytest.raises(TrainingDiverged) as info:
        train_loop(
            step,
            TrainState(10, 0.0, 0),
            counting(100, drawn),
            on_step=lambda r: seen.append(r.step),
            advice=lambda n: f"advice for step {n}",
        )
    assert info.value.step == 13 and seen == [11, 12]
    assert len(drawn) == 3  # batches are drawn lazily: none past the failing step
    assert str(info.value) == (
        f"training diverged: the loss is {bad!r} at step 13; advice for step 13"
    )


def test_an_overflow_is_a_divergence_with_the_default_advice() -> None:
    def step(p: float, s: int, x: float, y: float) -> tuple[float, int, float]:
        return p, s, math.exp(1000.0)

    with pytest.raises(
        TrainingDiverged,
        match=r"float overflow.*at step 1; try a smaller "
        r"learning rate, or check the data",
    ) as info:
        train_loop(step, TrainState(0, 0.0, 0), [(1.0, 1.0)])
    assert isinstance(info.value.__cause__, OverflowError)


@pytest.mark.parametrize("where", ["step", "hook", "batch"])
def test_ctrl_c_hands_the_last_finished_state_to_on_interrupt(where: str) -> None:
    def step(p: float, s: int, x: float, y: float) -> tuple[float, int, float]:
        if where == "step" and s == 3:
            raise KeyboardInterrupt
        return p + x, s + 1, 0.0

    def on_step(r: StepReport) -> None:
        if where == "hook" and r.step == 4:
            raise KeyboardInterrupt

    def batches() -> Iterator[tuple[float, float]]:
        for k in range(10):
            if where == "batch" and k == 3:
                raise KeyboardInterrupt
            yield 1.0, 0.0

    got: list[TrainState] = []
    with pytest.raises(KeyboardInterrupt):
        train_loop(step, TrainState(0, 0.0, 0), batches(), on_step=on_step, on_interrupt=got.append)
    finished = 4 if where == "hook" else 3  # a hook runs after its step has finished
    assert got == [TrainState(finished, float(finished), finished)]


def test_fit_is_the_loop_over_shuffled_epochs() -> None:
    """fit = train_loop over batches of one shuffle per epoch (written out here)."""
    X = Matrix([[float(k), 1.0] for k in range(7)])
    Y = Matrix([[2.0 * k - 1.0] for k in range(7)])
    model = nn.Dense(2, 1)
    params = model.init(random.Random(1))
    opt = nn.Adam(0.05)
    got_p, got_s, got_hist = nn.fit(
        model, params, (X, Y), nn.mse, opt, epochs=3, batch_size=3, seed=5
    )
    rng = random.Random(5)
    batches: list[tuple[Any, Any]] = []
    for _ in range(3):
        order = list(range(7))
        rng.shuffle(order)
        batches += [
            (nn.take_rows(X, order[k : k + 3]), nn.take_rows(Y, order[k : k + 3]))
            for k in range(0, 7, 3)
        ]
    losses: list[float] = []
    end = train_loop(
        nn.make_step(model, nn.mse, opt),
        TrainState(0, params, opt.init(params)),
        batches,
        on_step=lambda r: losses.append(r.loss),
    )
    assert (got_p, got_s, got_hist) == (end.params, end.opt_state, losses)
    assert end.step == 9
