"""Run the ``>>>`` examples of a Markdown file as one doctest session (standard library only).

The examples are those inside fenced code blocks (```` ```python ````, ```` ```pycon ````,
or unlabelled); every other line is blanked, so a failure reports the file's own line
number. All blocks of a file share one namespace, like one interpreter session read top to
bottom, and run in the current directory (callers pass a temporary one). Options:
``ELLIPSIS`` (``...`` in expected output matches anything); exceptions are written as
doctest shows them (``Traceback (most recent call last):`` then ``...``).

Used by ``tests/test_docs.py`` and, as a script, inside the fresh virtual environment of
``tests/test_learn_install.py``: ``python tests/markdown_doctest.py README.md`` exits 1 if
any example fails.
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

_FENCE = re.compile(r"^\s*```(\w*)\s*$")


def doctest_text(markdown: str) -> str:
    """The Markdown with everything but fenced code blocks blanked (line numbers kept)."""
    out: list[str] = []
    inside = False
    lang = ""
    for line in markdown.split("\n"):
        m = _FENCE.match(line)
        if m:
            if not inside:
                inside, lang = True, m[1]
            else:
                inside = False
            out.append("")
            continue
        out.append(line if inside and lang in ("", "python", "pycon", "py") else "")
    return "\n".join(out)


def count_examples(path: Path) -> int:
    """How many ``>>>`` examples the file's code blocks hold."""
    text = doctest_text(path.read_text(encoding="utf-8"))
    return len(doctest.DocTestParser().get_examples(text))


def run(path: Path, verbose: bool = False) -> doctest.TestResults:
    """Run the file's examples as one session; returns (failed, attempted)."""
    text = doctest_text(path.read_text(encoding="utf-8"))
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "__doc__"}, path.name, str(path), 0)
    runner = doctest.DocTestRunner(verbose=verbose, optionflags=doctest.ELLIPSIS)
    runner.run(test, out=sys.stdout.write)
    return runner.summarize(verbose=False)


if __name__ == "__main__":
    failed = 0
    for name in sys.argv[1:]:
        result = run(Path(name).resolve())
        print(f"{name}: {result.attempted} examples, {result.failed} failed")
        failed += result.failed
    sys.exit(1 if failed else 0)
