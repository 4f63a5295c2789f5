"""pytest plugin: ``pytest --refnn-backend=package.module:object`` runs the conformance
suite, one test per registry op, inside any project (registered under the ``pytest11``
entry point, so installing refnn is enough; ``-p refnn.conformance.pytest_plugin`` also
works).

Options: ``--refnn-backend`` (numpy, torch, jax, reference or package.module:object),
``--refnn-examples N`` (default 10), ``--refnn-seed S`` (default 0; the same seed draws the
same examples as ``refnn conform``), ``--refnn-ops a,b`` (default: every op),
``--refnn-subnormals strict|flush``, ``--refnn-signed-zero strict|ignore``,
``--refnn-expect FILE`` (known deviations: each declared op becomes
``xfail(strict=True)`` carrying the reason — within the declaration it is an expected
failure, beyond it a failure, and if it no longer deviates the unexpected pass fails the
run).

The plugin is inert until used: without ``--refnn-backend`` it adds no test and imports
nothing beyond pytest and this module (no Hypothesis, mpmath or SymPy), so installing refnn
never changes another project's test run.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["ConformanceItem", "KnownDeviation"]


class KnownDeviation(Exception):
    """Raised by an op's test when it deviates only as declared (the xfail's ``raises``)."""


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("refnn", "refnn backend conformance")
    group.addoption(
        "--refnn-backend",
        default=None,
        metavar="SPEC",
        help="run refnn's conformance suite on this backend "
        "(numpy, torch, jax, reference or package.module:object)",
    )
    group.addoption(
        "--refnn-examples", type=int, default=10, metavar="N", help="examples per op (default 10)"
    )
    group.addoption(
        "--refnn-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the examples, as refnn conform --seed (default 0)",
    )
    group.addoption(
        "--refnn-ops",
        default=None,
        metavar="NAMES",
        help="comma-separated op names (default: every registry op)",
    )
    group.addoption(
        "--refnn-subnormals",
        default="strict",
        choices=("strict", "flush"),
        help="subnormal policy, as refnn conform --subnormals",
    )
    group.addoption(
        "--refnn-signed-zero",
        default="strict",
        choices=("strict", "ignore"),
        help="signed-zero policy, as refnn conform --signed-zero",
    )
    group.addoption(
        "--refnn-expect",
        default=None,
        metavar="FILE",
        help="known deviations (TOML or JSON), as refnn conform --expect",
    )


class ConformanceItem(pytest.Item):
    """One registry op held against the reference on the chosen backend."""

    def __init__(self, *, op: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.op = op
        self._report_text = ""

    def runtest(self) -> None:
        from refnn.backends import load
        from refnn.conformance._harness import conform
        from refnn.conformance.policy import Policy

        cfg = self.config
        expect = _expectations(cfg)
        backend = load(cfg.getoption("--refnn-backend"))
        policy = Policy(
            subnormals=cfg.getoption("--refnn-subnormals"),
            signed_zero=cfg.getoption("--refnn-signed-zero"),
        )
        report = conform(
            backend,
            ops=[self.op],
            examples=cfg.getoption("--refnn-examples"),
            seed=cfg.getoption("--refnn-seed"),
            policy=policy,
            expect={self.op: expect[self.op]} if self.op in expect else None,
        )
        self._report_text = report.format()
        result = report.results[0]
        if result.status == "known":
            raise KnownDeviation(self._report_text)
        if result.status == "FAIL":
            raise AssertionError(self._report_text)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if self._report_text:
            return self._report_text
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"refnn conformance: {self.op}"


def _expectations(config: Any) -> dict[str, Any]:
    path = config.getoption("--refnn-expect", default=None)
    if not path:
        return {}
    cached = getattr(config, "_refnn_expect", None)
    if cached is None:
        from refnn.conformance.expect import load_expectations

        cached = load_expectations(path)
        config._refnn_expect = cached
    out: dict[str, Any] = cached
    return out


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    spec = config.getoption("--refnn-backend", default=None)
    if not spec:
        return
    from refnn.ops import registry

    names_opt = config.getoption("--refnn-ops", default=None)
    names = [n.strip() for n in names_opt.split(",") if n.strip()] if names_opt else list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise pytest.UsageError(f"--refnn-ops: unknown op(s) {', '.join(unknown)}")
    try:
        expect = _expectations(config)
    except ValueError as err:
        raise pytest.UsageError(f"--refnn-expect: {err}") from None
    for name in names:
        item = ConformanceItem.from_parent(session, name=f"refnn_conform[{name}]", op=name)
        if name in expect:
            item.add_marker(
                pytest.mark.xfail(strict=True, raises=KnownDeviation, reason=expect[name].reason)
            )
        items.append(item)
