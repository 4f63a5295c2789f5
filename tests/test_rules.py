"""One table of domain rules (refnn.rules): the reference's scalar domains and the NumPy
and PyTorch backends refuse the same inputs with the same words."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import pytest

from refnn import DomainError, Matrix, ops
from refnn.backends import load
from refnn.rules import RULES

# (rule, the call, the input): each is outside its rule
CASES: list[tuple[str, Any, list[list[float]]]] = [
    ("log", lambda A: ops.log(A), [[2.0, -1.5]]),
    ("log", lambda A: ops.log(A), [[0.0]]),
    ("sqrt", lambda A: ops.sqrt(A), [[4.0, -0.25]]),
    ("div", lambda A: ops.div(ops.scale(1, A), ops.scale(0, A)), [[3.0]]),
    ("pow_neg", lambda A: ops.pow(A, 0.5), [[-2.0]]),
    ("pow_zero", lambda A: ops.pow(A, -1), [[0.0, 1.0]]),
]


def _message(backend: str, call: Any, rows: list[list[float]]) -> str:
    be = load(backend)
    with pytest.raises(DomainError) as info:
        call(be.from_matrix(Matrix(rows)))
    return str(info.value)


@pytest.mark.parametrize(("rule", "call", "rows"), CASES)
def test_reference_numpy_and_torch_say_the_same(
    rule: str, call: Any, rows: list[list[float]]
) -> None:
    backends = ["reference", "numpy"]
    try:
        import torch  # noqa: F401

        backends.append("torch")
    except ImportError:
        pass
    messages = {b: _message(b, call, rows) for b in backends}
    assert len(set(messages.values())) == 1, messages
    assert RULES[rule].message in messages["reference"]


@pytest.mark.parametrize("domain", [float, Fraction, mpmath.mpf])
def test_every_scalar_domain_refuses_a_zero_to_a_negative_power(domain: Any) -> None:
    # mpmath's pow lacked this check: every domain reads the same rule now
    with pytest.raises(DomainError, match=RULES["pow_zero"].message):
        ops.pow(Matrix([[domain(0)]]), -1)
    with pytest.raises(DomainError, match=RULES["div"].message):
        ops.div(Matrix([[domain(1)]]), Matrix([[domain(0)]]))


def test_predicates_work_on_numbers_and_arrays() -> None:
    import numpy as np

    a = np.array([-1.0, 0.0, 2.0])
    assert list(RULES["log"].outside(a)) == [True, True, False]
    assert list(RULES["pow_neg"].outside(a, 0.5)) == [True, False, False]
    assert list(RULES["pow_neg"].outside(a, 2.0)) == [False, False, False]
    assert RULES["sqrt"].outside(-0.0) is False and RULES["div"].outside(0.0) is True
