"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

``atomic_write_bytes(path, data)`` writes ``data`` to a temporary file in the *same
directory* as ``path`` (so that the final rename stays on one file system), flushes and
``fsync``\\ s it, then renames it over ``path`` with :func:`os.replace`, which is atomic on
POSIX and on Windows. If anything fails before the rename, the temporary file is removed
and the exception propagates unchanged (an :class:`OSError` from the operating system, or
whatever the caller's data raised); ``path`` is then exactly as it was.

The new file gets the permissions of the file it replaces, or ``0o666`` minus the
process umask for a new file (what :func:`open` would give), not the ``0o600`` of a raw
temporary file. Standard library only; other parts of refnn import these helpers.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text"]

_umask_lock = threading.Lock()
_umask_cache: list[int] = []


def _umask() -> int:
    # os.umask can only be read by setting it; do that once, under a lock.
    with _umask_lock:
        if not _umask_cache:
            current = os.umask(0o022)
            os.umask(current)
            _umask_cache.append(current)
        return _umask_cache[0]


def _fsync_dir(directory: Path) -> None:
    """Best effort: make the rename itself durable (not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (all of it, or nothing and ``path`` unchanged)."""
    target = Path(path)
    directory = target.parent
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` (encoded with ``encoding``, newlines untranslated) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))
