"""pytest plugin: ``pytest --refnn-backend=package.module:object`` runs the conformance
suite, one test per registry op, inside any project (registered under the ``pytest11``
entry point, so installing refnn is enough; ``-p refnn.conformance.pytest_plugin`` also
works).

Options: ``--refnn-backend`` (numpy, torch, reference or package.module:object),
``--refnn-examples N`` (default 10), ``--refnn-seed S`` (default 0),
``--refnn-ops a,b`` (default: every op). Without ``--refnn-backend`` the plugin adds no
test and does nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["ConformanceItem"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("refnn", "refnn backend conformance")
    group.addoption("--refnn-backend", default=None, metavar="SPEC",
                    help="run refnn's conformance suite on this backend "
                         "(numpy, torch, reference or package.module:object)")
    group.addoption("--refnn-examples", type=int, default=10, metavar="N",
                    help="generated examples per op (default 10)")
    group.addoption("--refnn-seed", type=int, default=0, metavar="S",
                    help="random seed of the conformance suite (default 0)")
    group.addoption("--refnn-ops", default=None, metavar="NAMES",
                    help="comma-separated op names (default: every registry op)")


class ConformanceItem(pytest.Item):
    """One registry op held against the reference on the chosen backend."""

    def __init__(self, *, op: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.op = op
        self._report_text = ""

    def runtest(self) -> None:
        from refnn.backends import load
        from refnn.conformance import conform

        cfg = self.config
        backend = load(cfg.getoption("--refnn-backend"))
        report = conform(backend, ops=[self.op], examples=cfg.getoption("--refnn-examples"),
                         seed=cfg.getoption("--refnn-seed"))
        if not report.passed:
            self._report_text = report.format()
            raise AssertionError(self._report_text)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if self._report_text:
            return self._report_text
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"refnn conformance: {self.op}"


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    spec = config.getoption("--refnn-backend", default=None)
    if not spec:
        return
    from refnn.ops import registry

    names_opt = config.getoption("--refnn-ops", default=None)
    names = [n.strip() for n in names_opt.split(",") if n.strip()] if names_opt else list(registry)
    for name in names:
        items.append(ConformanceItem.from_parent(session, name=f"refnn_conform[{name}]", op=name))
