"""The :class:`Image` value: one or three channel matrices of floats in [0, 1].

An image of height ``h`` and width ``w`` is stored as channel matrices of shape ``h×w``
(rows top to bottom, columns left to right, so ``channel[1, 1]`` is the top-left pixel):
one channel for grayscale (mode ``"L"``), three for colour (``"RGB"``, in that order).
Values are floats, nominally in [0, 1] (0 black, 1 full intensity); a network's output
may stray outside and is clipped only when written to a file.

Functions of :mod:`refnn.image` that take an image accept any :data:`ImageLike`: an
:class:`Image`, a single ``Matrix`` (grayscale) or a tuple of one or three matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from refnn.errors import ShapeError
from refnn.image.errors import ImageError
from refnn.matrix import Matrix, fmt_shape

__all__ = ["Image", "ImageLike", "as_image"]

_MODES = {1: "L", 3: "RGB"}


@dataclass(frozen=True, slots=True)
class Image:
    """An immutable image: ``channels`` are 1 (grayscale) or 3 (RGB) ``h×w`` matrices.

    ``source`` (a path, ``"camera"``, ``"spiral"``, or ``None``) and ``sha256`` (hex
    digest of the bytes the image was decoded from, ``None`` for generated images) are
    provenance only: they take no part in equality or hashing.
    """

    channels: tuple[Matrix[float], ...]
    source: str | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        chans = self.channels
        if not isinstance(chans, tuple) or not all(isinstance(c, Matrix) for c in chans):
            raise ImageError("Image.channels must be a tuple of Matrix objects", kind="invalid")
        if len(chans) not in _MODES:
            raise ImageError(
                f"an image has 1 (grayscale) or 3 (RGB) channels, got {len(chans)}",
                kind="invalid",
            )
        first = chans[0].shape
        for k, c in enumerate(chans[1:], start=2):
            if c.shape != first:
                raise ShapeError(
                    f"image channels need equal shapes: channel 1 is {fmt_shape(first)} "
                    f"but channel {k} is {fmt_shape(c.shape)}"
                )

    @classmethod
    def gray(cls, matrix: Matrix[float]) -> Image:
        """A grayscale image from one ``h×w`` matrix."""
        return cls((matrix,))

    @classmethod
    def rgb(cls, red: Matrix[float], green: Matrix[float], blue: Matrix[float]) -> Image:
        """A colour image from three ``h×w`` matrices."""
        return cls((red, green, blue))

    @property
    def height(self) -> int:
        """Number of pixel rows."""
        return self.channels[0].shape[0]

    @property
    def width(self) -> int:
        """Number of pixel columns."""
        return self.channels[0].shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``, the shape of every channel matrix."""
        return self.channels[0].shape

    @property
    def num_channels(self) -> int:
        """1 for grayscale, 3 for RGB."""
        return len(self.channels)

    @property
    def mode(self) -> str:
        """``"L"`` (grayscale) or ``"RGB"``, as Pillow names them."""
        return _MODES[len(self.channels)]

    @property
    def matrix(self) -> Matrix[float]:
        """The single channel of a grayscale image (an error for RGB)."""
        if len(self.channels) != 1:
            raise ImageError(
                f"Image.matrix is for grayscale images; this one is {self.mode}: "
                "use Image.channels",
                kind="invalid",
            )
        return self.channels[0]

    def to_gray(self) -> Image:
        """Grayscale version: RGB is mixed with the ITU-R BT.601 luma weights
        0.299, 0.587, 0.114 (Pillow's ``convert("L")`` weights, without its rounding)."""
        if len(self.channels) == 1:
            return self
        r, g, b = (c.data for c in self.channels)
        data = tuple(0.299 * x + 0.587 * y + 0.114 * z for x, y, z in zip(r, g, b, strict=True))
        h, w = self.shape
        return Image((Matrix.from_flat(h, w, data),), self.source, self.sha256)


ImageLike: TypeAlias = Image | Matrix[Any] | tuple[Matrix[Any], ...]


def as_image(value: ImageLike) -> Image:
    """``value`` as an :class:`Image` (a Matrix is grayscale; a tuple lists channels)."""
    if isinstance(value, Image):
        return value
    if isinstance(value, Matrix):
        return Image((value,))
    if isinstance(value, tuple):
        return Image(value)
    raise ImageError(
        f"expected an Image, a Matrix or a tuple of Matrices, got {type(value).__name__}",
        kind="invalid",
    )
