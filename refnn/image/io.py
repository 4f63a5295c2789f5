"""Reading and writing images: :func:`load_image`, :func:`save_png`, Pillow conversion.

Pillow is imported lazily inside the functions that need it; without it they raise
:class:`~refnn.image.errors.MissingPillowError` (``pip install "refnn[image]"``), while
``load_image("spiral")`` and everything that does not touch files keep working.

**What load_image accepts.** Any file Pillow decodes (PNG, JPEG, GIF, BMP, TIFF, WebP,
PBM/PGM/PPM, …; the first frame of animations). Modes are normalised:

* ``L`` and ``RGB`` are used as they are (8-bit values ``k`` become ``k/255`` exactly);
* ``1`` (bilevel) becomes grayscale 0/1; ``P`` (palette) becomes ``RGB``, or grayscale when
  every colour used is a gray;
* 16-bit and 32-bit integer grayscale (``I;16*``, ``I``) are divided by 65535, float
  grayscale (``F``) is taken as already in [0, 1]; both are clipped to [0, 1];
* images with transparency (``RGBA``, ``LA``, ``PA``, a ``transparency`` key) are
  composited over **white**, then follow the rules above;
* other colour spaces (``CMYK``, ``YCbCr``, ``LAB``, ``HSV``) are converted to ``RGB``;
* an EXIF orientation tag is applied, so photographs come out upright.

**Resizing.** ``size=N`` scales the image so that its longer side is ``N`` pixels, keeping
the aspect ratio (shorter side ``round(N·short/long)``, at least 1), with a box filter:
each output pixel is the area-weighted mean of the input pixels its cell covers (for an
integer factor, exactly the mean of each block). It is computed by Pillow in 32-bit float
(mode ``F``), so the result is not rounded to 8 bits.

**Decompression bombs.** A small file can describe an enormous image. ``Image.open`` reads
only the header, so the pixel count is checked *before* decoding: if more than
``max_pixels`` pixels (default :data:`MAX_PIXELS`, 50 megapixels) would have to be decoded,
:class:`ImageError` (``kind="too-large"``) is raised. With ``size``, JPEG files are
decoded at a reduced scale (Pillow's ``draft``, a factor of up to 8 per side, never below
the requested size), and the limit applies to that reduced decode; other formats must be
decoded in full, so ``size`` does not lift the limit for them. The resized result must
also be within the limit.
"""

from __future__ import annotations

import hashlib
import io
import os
from array import array
from dataclasses import dataclass
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refnn import scalars
from refnn.atomic import NotARegularFile, atomic_write_bytes, read_regular_file
from refnn.image._pil import pil_image
from refnn.image.core import Image, ImageLike, as_image
from refnn.image.errors import ImageError
from refnn.image.spiral import spiral
from refnn.matrix import Matrix

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "CAMERA",
    "MAX_PIXELS",
    "SPIRAL",
    "ImageInfo",
    "camera_bytes",
    "from_pil",
    "load_image",
    "probe_image",
    "save_png",
    "source_sha256",
    "to_pil",
]

MAX_PIXELS = 50_000_000
"""Default limit on the number of pixels :func:`load_image` will decode (50 megapixels)."""

CAMERA = "camera"
"""Name of the embedded default image (scikit-image's "camera", 256×256 grayscale, CC0)."""

SPIRAL = "spiral"
"""Name of the procedurally generated 25×25 binary spiral (:func:`refnn.image.spiral.spiral`)."""

_BYTE_TO_UNIT: tuple[float, ...] = tuple(k / 255 for k in range(256))

# EXIF orientation → the Pillow transpose that makes the image upright (names of
# PIL.Image.Transpose members, looked up lazily).
_ORIENTATION = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


# ---------------------------------------------------------------------- sources
def camera_bytes() -> bytes:
    """The bytes of the embedded ``camera.png`` (see ``refnn/image/data/camera.txt``)."""
    return resources.files("refnn.image").joinpath("data/camera.png").read_bytes()


def _read_file(path: Path) -> bytes:
    shown = str(path)
    try:
        data = read_regular_file(path, "image file")
    except NotARegularFile as exc:
        if path.is_dir():
            raise ImageError(
                f"{shown} is a directory, not an image file", kind="missing", path=shown
            ) from None
        raise ImageError(str(exc), kind="not-a-file", path=shown) from None
    except FileNotFoundError:
        raise ImageError(f"no such image file: {shown}", kind="missing", path=shown) from None
    except IsADirectoryError:
        raise ImageError(
            f"{shown} is a directory, not an image file", kind="missing", path=shown
        ) from None
    except OSError as exc:
        raise ImageError(
            f"cannot read {shown}: {exc.strerror or exc}", kind="read", path=shown
        ) from None
    if not data:
        raise ImageError(f"{shown} is empty (0 bytes), not an image", kind="empty", path=shown)
    return data


def _source(path_or_name: str | os.PathLike[str] | None) -> tuple[bytes | None, str]:
    """``(bytes, shown name)``; bytes are ``None`` for the generated spiral."""
    if path_or_name is None or (isinstance(path_or_name, str) and path_or_name == CAMERA):
        return camera_bytes(), CAMERA
    if isinstance(path_or_name, str) and path_or_name == SPIRAL:
        return None, SPIRAL
    path = Path(path_or_name)
    return _read_file(path), str(path)


def source_sha256(path_or_name: str | os.PathLike[str] | None = None) -> str | None:
    """Hex sha256 of the bytes :func:`load_image` would decode for ``path_or_name``
    (the embedded file for ``"camera"``/``None``); ``None`` for the generated ``"spiral"``.
    The same digest is stored in ``Image.sha256`` by :func:`load_image`."""
    data, _ = _source(path_or_name)
    return None if data is None else hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- loading
def _target_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    if size is None:
        return width, height
    longer = max(width, height)

    def scaled(side: int) -> int:
        # round(side·size/longer), half up, in exact integer arithmetic
        return max(1, (2 * side * size + longer) // (2 * longer))

    return scaled(width), scaled(height)


def _bands(im: PILImage) -> tuple[list[PILImage], float]:
    """Split ``im`` into ``L`` or ``F`` single-band images, and the divisor to reach [0, 1]."""
    pil = pil_image("load_image")
    mode = im.mode
    gray_like = mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;")
    if mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = pil.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = pil.alpha_composite(white, rgba).convert("RGB")
        if gray_like:
            im = im.convert("L")
        mode = im.mode
    if mode == "1":
        im, mode = im.convert("L"), "L"
    elif mode == "P":
        im, mode = im.convert("RGB"), "RGB"
        red, green, blue = im.split()
        if red.tobytes() == green.tobytes() == blue.tobytes():
            return [red], 255.0
        return [red, green, blue], 255.0
    if mode == "L":
        return [im], 255.0
    if mode == "I" or mode.startswith("I;"):
        return [im.convert("F")], 65535.0
    if mode == "F":
        return [im], 1.0
    if mode != "RGB":
        im = im.convert("RGB")
    return list(im.split()), 255.0


def _band_values(band: PILImage, divisor: float) -> tuple[float, ...]:
    if band.mode == "L":
        return tuple(map(_BYTE_TO_UNIT.__getitem__, band.tobytes()))
    raw = array("f")
    raw.frombytes(band.tobytes())
    # max(0.0, v) maps NaN to 0.0; values are clipped to [0, 1]
    return tuple(min(1.0, max(0.0, v / divisor)) for v in raw)


def _too_large(shown: str, w: int, h: int, max_pixels: int, detail: str = "") -> ImageError:
    return ImageError(
        f"{shown} is {w}×{h} = {w * h} pixels, more than the limit of {max_pixels}"
        f"{detail}; pass a larger max_pixels to load it anyway",
        kind="too-large",
        path=shown,
    )


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`probe_image` learns from an image's header, before decoding it: the
    ``source`` (path or name), its size in the file, the size :func:`load_image` would
    return for the same ``size``, and at most how many channels it would have (1 or 3;
    a palette image counts 3 until decoded)."""

    source: str
    width: int
    height: int
    out_width: int
    out_height: int
    channels: int

    def size_change(self) -> str:
        """``"40×30 → 32×24"``, or ``"32×32"`` when the size is kept."""
        before = f"{self.width}×{self.height}"
        after = f"{self.out_width}×{self.out_height}"
        return before if before == after else f"{before} → {after}"


def probe_image(
    path_or_name: str | os.PathLike[str] | None = None,
    *,
    size: int | None = None,
    max_pixels: int = MAX_PIXELS,
) -> ImageInfo:
    """The :class:`ImageInfo` of what :func:`load_image` would load with the same
    arguments, read from the header only (cheap even for a huge image), with the same
    checks and errors before decoding: missing, not a regular file, not an image, more
    pixels than ``max_pixels``."""
    _check_args(size, None, max_pixels)
    data, shown = _source(path_or_name)
    if data is None:
        n = 25 if size is None else size
        if n * n > max_pixels:
            raise _too_large(shown, n, n, max_pixels)
        return ImageInfo(shown, n, n, n, n, 1)
    im, (out_w, out_h) = _open(data, shown, size, max_pixels)
    gray = im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;")
    width, height = im.size
    if _orientation(im) in (5, 6, 7, 8):  # a quarter turn: the sides swap
        width, height, out_w, out_h = height, width, out_h, out_w
    return ImageInfo(shown, width, height, out_w, out_h, 1 if gray else 3)


def _orientation(im: PILImage) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not stop the decode
        return 1
    return value if isinstance(value, int) else 1


def _open(
    data: bytes, shown: str, size: int | None, max_pixels: int
) -> tuple[PILImage, tuple[int, int]]:
    """Pillow's lazily decoding image of ``data`` and its target size, checked against
    ``max_pixels`` (the header only has been read)."""
    pil = pil_image("load_image")
    try:
        im = pil.open(io.BytesIO(data))
    except pil.DecompressionBombError:
        raise ImageError(
            f"{shown} has more pixels than Pillow's own decompression-bomb limit "
            "(PIL.Image.MAX_IMAGE_PIXELS)",
            kind="too-large",
            path=shown,
        ) from None
    except (pil.UnidentifiedImageError, SyntaxError, OSError, ValueError, EOFError):
        raise ImageError(
            f"{shown} is not an image file Pillow can read", kind="not-an-image", path=shown
        ) from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{shown} has zero size ({width}×{height})", kind="empty", path=shown)
    target = _target_size(width, height, size)
    if target[0] * target[1] > max_pixels:
        raise _too_large(shown, target[0], target[1], max_pixels, " after resizing")
    return im, target


def _decode(data: bytes, shown: str, digest: str, size: int | None, max_pixels: int) -> Image:
    pil = pil_image("load_image")
    im, target = _open(data, shown, size, max_pixels)
    if size is not None and im.format == "JPEG":
        im.draft(None, target)  # decode at 1/2, 1/4 or 1/8 scale, still ≥ target
    dec_w, dec_h = im.size
    if dec_w * dec_h > max_pixels:
        detail = (
            " (only JPEG can be reduced while decoding)"
            if size is not None and im.format != "JPEG"
            else ""
        )
        raise _too_large(shown, dec_w, dec_h, max_pixels, detail)
    orientation = _orientation(im)
    try:
        im.load()
        bands, divisor = _bands(im)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"{shown} is truncated or corrupt: {exc}", kind="not-an-image", path=shown
        ) from None
    if (dec_w, dec_h) != target:
        box = pil.Resampling.BOX
        bands = [(b if b.mode == "F" else b.convert("F")).resize(target, box) for b in bands]
    if orientation in _ORIENTATION:
        method = getattr(pil.Transpose, _ORIENTATION[orientation])
        bands = [b.transpose(method) for b in bands]
    out_w, out_h = bands[0].size
    chans = tuple(Matrix._new(out_h, out_w, _band_values(b, divisor), scalars.FLOAT) for b in bands)
    return Image(chans, source=shown, sha256=digest)


def load_image(
    path_or_name: str | os.PathLike[str] | None = None,
    *,
    size: int | None = None,
    mode: str | None = None,
    max_pixels: int = MAX_PIXELS,
) -> Image:
    """Load an image as an :class:`~refnn.image.core.Image` of floats in [0, 1].

    ``path_or_name``: a file path; the *string* ``"camera"`` or ``None`` for the embedded
    256×256 camera photograph; the *string* ``"spiral"`` for the generated binary spiral
    (``size`` then sets its side, default 25). A ``pathlib.Path`` is always a file, so
    ``Path("camera")`` loads a file of that name.

    ``size``: if given, the longer side becomes ``size`` pixels (box filter, aspect ratio
    kept; see the module docstring). ``mode``: ``None`` keeps grayscale or colour as found;
    ``"L"`` makes grayscale (Pillow's ITU-R 601 luma, rounded to 8 bits, for RGB sources);
    ``"RGB"`` makes colour (gray copied to three channels). ``max_pixels``: the
    decompression-bomb limit.

    The returned image records ``source`` (the path or name) and ``sha256`` (of the file's
    bytes; ``None`` for the spiral). Raises :class:`ImageError` with ``kind`` ``"missing"``,
    ``"read"``, ``"not-a-file"``, ``"empty"``, ``"not-an-image"``, ``"too-large"`` or
    ``"invalid"``.
    """
    _check_args(size, mode, max_pixels)
    data, shown = _source(path_or_name)
    if data is None:
        n = 25 if size is None else size
        if n * n > max_pixels:
            raise _too_large(shown, n, n, max_pixels)
        img = spiral(n)
    else:
        img = _decode(data, shown, hashlib.sha256(data).hexdigest(), size, max_pixels)
    if mode == "L" and img.num_channels == 3:
        img = _to_l(img)
    elif mode == "RGB" and img.num_channels == 1:
        img = Image(img.channels * 3, img.source, img.sha256)
    return img


def _check_args(size: int | None, mode: str | None, max_pixels: int) -> None:
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ImageError(f"size must be an int ≥ 1 or None, got {size!r}", kind="invalid")
    if mode not in (None, "L", "RGB"):
        raise ImageError(f'mode must be None, "L" or "RGB", got {mode!r}', kind="invalid")
    if not isinstance(max_pixels, int) or max_pixels < 1:
        raise ImageError(f"max_pixels must be an int ≥ 1, got {max_pixels!r}", kind="invalid")


def _to_l(img: Image) -> Image:
    """RGB → L with Pillow's rounded luma (the values a grayscale file would hold)."""
    gray = to_pil(img).convert("L")
    values = tuple(map(_BYTE_TO_UNIT.__getitem__, gray.tobytes()))
    h, w = img.shape
    return Image((Matrix._new(h, w, values, scalars.FLOAT),), img.source, img.sha256)


def from_pil(im: PILImage) -> Image:
    """A Pillow image as an :class:`Image` (modes normalised as :func:`load_image` does,
    no resizing, no EXIF rotation)."""
    pil_image("from_pil")
    bands, divisor = _bands(im)
    w, h = bands[0].size
    if w <= 0 or h <= 0:
        raise ImageError(f"the image has zero size ({w}×{h})", kind="empty")
    return Image(tuple(Matrix._new(h, w, _band_values(b, divisor), scalars.FLOAT) for b in bands))


# ---------------------------------------------------------------------- saving
def _quantise(v: Any) -> int:
    # clip to [0, 1] (NaN passes through and makes int() fail), then round half up
    return int(min(max(float(v), 0.0), 1.0) * 255.0 + 0.5)


def _to_bytes(data: tuple[Any, ...]) -> bytes:
    """8-bit values ``⌊clip(v, 0, 1)·255 + 0.5⌋``; C-level ``map`` chains for floats and
    ints, a per-value path for other number types (Fraction, mpmath, SymPy numbers)."""
    try:
        if min(data) >= 0.0 and max(data) <= 1.0:
            scaled = map((255.0).__mul__, data)
        else:
            clipped = map(min, map(max, data, repeat(0.0)), repeat(1.0))
            scaled = map((255.0).__mul__, clipped)
        # a foreign type makes __mul__ return NotImplemented, and int() raise TypeError
        return bytes(map(int, map((0.5).__add__, scaled)))
    except TypeError:
        return bytes(map(_quantise, data))


def to_pil(image: ImageLike) -> PILImage:
    """An 8-bit Pillow image (``L`` or ``RGB``) of ``image``: each value is clipped to
    [0, 1] and rounded to the nearest of 0/255, 1/255, …, 1 (halves up). ``k/255`` round
    trips exactly. NaN values raise :class:`ImageError` (``kind="invalid"``)."""
    pil = pil_image("to_pil")
    img = as_image(image)
    h, w = img.shape
    try:
        bands = [pil.frombytes("L", (w, h), _to_bytes(c.data)) for c in img.channels]
    except (ValueError, TypeError):
        raise ImageError(
            "cannot convert the image to 8 bits: it contains NaN or non-numeric values",
            kind="invalid",
        ) from None
    merged: PILImage = bands[0] if len(bands) == 1 else pil.merge("RGB", bands)
    return merged


def save_png(path: str | os.PathLike[str], image: ImageLike | PILImage) -> None:
    """Write ``image`` (an :data:`ImageLike`, quantised by :func:`to_pil`, or a Pillow image)
    to ``path`` as a PNG, atomically: the PNG is encoded in memory, written to a temporary
    file in the same directory and renamed over ``path``. On any error nothing is left
    behind and an existing ``path`` is unchanged; OS errors become :class:`ImageError`
    with ``kind="write"``."""
    pil = pil_image("save_png")
    im = to_pil(image) if isinstance(image, (Image, Matrix, tuple)) else image
    if not isinstance(im, pil.Image):
        raise ImageError(
            f"save_png needs an Image, Matrix, tuple of Matrices or Pillow image, "
            f"got {type(image).__name__}",
            kind="invalid",
        )
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    shown = str(path)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise ImageError(
            f"cannot write {shown}: {exc.strerror or exc}", kind="write", path=shown
        ) from None
