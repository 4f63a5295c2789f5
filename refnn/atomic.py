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

A temporary is named ``.<name>.<random>.tmp`` beside its target. The other helpers build
on that one convention:

* :func:`write_set` writes several files of one folder *as a set*: every temporary is
  written and ``fsync``-ed first, and only then are they renamed into place, the file
  named by ``last`` at the end (a run's ``metrics.json``, the mark that the set is
  complete, is removed before the first rename). A failure while preparing — a full disk,
  an unwritable folder, an exception from the data — removes every temporary and leaves
  the folder exactly as it was, so it never mixes old and new files.
* :func:`remove_stale_temporaries` removes the temporaries a killed process left behind
  (``kill -9`` cannot run clean-up code); call it only while holding the folder's lock.
* :class:`FolderLock` is an ``fcntl`` advisory lock on a folder (on the folder itself, so
  no lock file is left): a second holder is refused at once with :class:`FolderBusy`.
* :func:`read_regular_file` reads a file only if it is a regular file: a FIFO would block
  forever and ``/dev/zero`` never ends, so both are refused with :class:`NotARegularFile`.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

__all__ = [
    "FolderBusy",
    "FolderLock",
    "NotARegularFile",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_regular_file",
    "remove_stale_temporaries",
    "write_set",
]

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


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a write is under way (POSIX, main thread): a
    Ctrl-C between creating a temporary and renaming it would otherwise leave the temporary
    behind. The signal is delivered, as usual, right after the block."""
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (all of it, or nothing and ``path`` unchanged)."""
    target = Path(path)
    directory = target.parent
    with _interrupts_deferred():
        tmp = _temporary(target, data)
        try:
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
    _fsync_dir(directory)


def _temporary(target: Path, data: bytes) -> Path:
    """``data`` written and ``fsync``-ed to a new temporary beside ``target``, with the
    permissions ``target`` has (or a new file would get); removed again on any failure."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` (encoded with ``encoding``, newlines untranslated) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def write_set(
    folder: str | os.PathLike[str], files: Mapping[str, bytes], last: str | None = None
) -> None:
    """Write ``files`` (file name → bytes) into ``folder`` as a set: all temporaries first,
    then the renames, ``last`` (a name in ``files``) renamed at the end and removed before
    the first rename. If preparing any file fails, no file of the folder has changed and
    no temporary is left; the exception propagates."""
    directory = Path(folder)
    names = sorted(files, key=lambda n: n == last)  # `last` at the end
    prepared: list[tuple[Path, Path]] = []
    with _interrupts_deferred():
        try:
            for name in names:
                target = directory / name
                prepared.append((_temporary(target, files[name]), target))
            if last is not None:
                _unlink(directory / last)
            while prepared:
                tmp, target = prepared[0]
                os.replace(tmp, target)
                prepared.pop(0)
        finally:
            for tmp, _ in prepared:
                _unlink(tmp)
    _fsync_dir(directory)


def remove_stale_temporaries(folder: str | os.PathLike[str], names: frozenset[str]) -> list[str]:
    """Remove the temporaries ``.<name>.<random>.tmp`` of the given file names from
    ``folder`` (left by a process killed while writing); return the names removed. Only
    call this while holding the folder's :class:`FolderLock`, or a live writer's
    temporary could go."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match and match.group(1) in names and entry.is_file(follow_symlinks=False):
            _unlink(Path(entry.path))
            removed.append(entry.name)
    return sorted(removed)


_TEMPORARY = re.compile(r"\.(.+)\.[A-Za-z0-9_]+\.tmp")


class FolderBusy(OSError):
    """Another process holds the folder's lock."""


class FolderLock:
    """An exclusive ``fcntl.flock`` advisory lock on a folder, held from ``acquire`` (or
    ``with``) until ``release``; the operating system drops it when the process dies,
    even by ``kill -9``. ``acquire`` never waits: a held lock raises :class:`FolderBusy`
    naming ``what`` holds it. Where ``fcntl`` does not exist (Windows) it locks nothing."""

    def __init__(self, folder: str | os.PathLike[str], what: str = "another process") -> None:
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FolderBusy(
                    f"{self.folder} is in use by {self.what} (it holds the "
                    f"folder's lock); wait for it to finish or choose another folder"
                ) from None
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class NotARegularFile(OSError):
    """The path names a FIFO, a device, a socket or a directory, not a regular file."""


def read_regular_file(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of ``path`` if it is a regular file (symbolic links followed). A FIFO,
    device, socket or directory raises :class:`NotARegularFile` (``what`` names the file's
    role in the message) *without* reading: the file is opened non-blocking, so even a
    FIFO with no writer cannot hang the caller. Other ``OSError``\\ s propagate."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise NotARegularFile(f"{os.fspath(path)!s} is {kind}, not a regular {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return fh.read()
    finally:
        if fd >= 0:
            os.close(fd)
