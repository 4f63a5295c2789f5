"""The typed errors of :mod:`refnn.image`."""

from __future__ import annotations

from refnn.errors import RefnnError

__all__ = ["ImageError", "MissingPillowError"]


class ImageError(RefnnError):
    """An image could not be read, written or used.

    ``kind`` says which rule was broken, for programs that branch on it:

    ``"missing"``       the file does not exist (or is a directory)
    ``"read"``          the file exists but the operating system refused to read it
    ``"not-a-file"``    the path is a FIFO, a device or a socket, not a regular file
    ``"empty"``         the file has 0 bytes, or the image has zero width or height
    ``"not-an-image"``  the bytes are not an image format Pillow can decode
    ``"too-large"``     more pixels than the stated limit would have to be decoded
    ``"invalid"``       the values cannot be used (NaN, wrong channel count, bad argument)
    ``"write"``         the operating system refused to write the file
    ``"dependency"``    Pillow is not installed

    ``path`` is the file involved, or ``None``. The message is one line and names both.
    """

    def __init__(self, message: str, *, kind: str, path: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.path = path


class MissingPillowError(ImageError, ImportError):
    """Pillow is needed for this operation but is not installed."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f'{what} needs Pillow, which is not installed: pip install "refnn[image]"',
            kind="dependency",
        )
