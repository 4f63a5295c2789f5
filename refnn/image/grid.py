"""Coordinate grids, image ↔ training-matrix conversion, and the Fourier-feature matrix.

**Coordinate convention.** Pixel ``(i, j)`` (1-based row ``i`` from the top, column ``j``
from the left) of an ``h×w`` image is represented by the centre of its cell on a grid of
equal spacing ``s = 2 / max(h, w)`` centred on the origin::

    x_j = (2·j − w − 1) / max(h, w)      (horizontal, increasing to the right)
    y_i = (2·i − h − 1) / max(h, w)      (vertical, increasing *downwards*, like row numbers)

The longer side spans the open interval (−1, 1): its outermost centres are at
±(1 − 1/max(h, w)), half a pixel inside the edges, so the endpoints ±1 are *not* included.
The shorter side is centred with the same spacing (pixels stay square). Both formulas
use one correctly rounded division, so the grid is exactly symmetric about 0.

``coordinate_grid(h, w)`` lists the pixels in row-major order (row ``(i − 1)·w + j`` is pixel
``(i, j)``), column 1 holding ``x`` and column 2 holding ``y``. :func:`image_to_targets` lists
the pixel values in the same order, one column per channel, and
:func:`prediction_to_image` is its inverse.
"""

from __future__ import annotations

import random
from itertools import chain

from refnn import scalars
from refnn.errors import ShapeError
from refnn.image.core import Image, ImageLike, as_image
from refnn.matrix import Matrix, fmt_shape
from refnn.nn.layers import FourierFeatures

__all__ = [
    "coordinate_grid",
    "gaussian_fourier_matrix",
    "image_to_targets",
    "prediction_to_image",
]


def _check_size(height: int, width: int) -> None:
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ShapeError(f"an image {name} must be an int ≥ 1, got {v!r}")


def coordinate_grid(height: int, width: int) -> Matrix[float]:
    """The ``(height·width)×2`` matrix of pixel-centre coordinates ``[x, y]``, row-major.

    See the module docstring for the convention: spacing ``2 / max(height, width)``,
    centred on 0, longer side within (−1, 1) (endpoints excluded), ``y`` grows downwards.
    """
    _check_size(height, width)
    scale = max(height, width)
    xs = [(2 * j - width - 1) / scale for j in range(1, width + 1)]
    ys = [(2 * i - height - 1) / scale for i in range(1, height + 1)]
    data = tuple(chain.from_iterable((x, y) for y in ys for x in xs))
    return Matrix._new(height * width, 2, data, scalars.FLOAT)


def image_to_targets(image: ImageLike) -> Matrix[float]:
    """The ``(h·w)×c`` matrix of pixel values: row ``(i − 1)·w + j`` is pixel ``(i, j)``,
    column ``k`` is channel ``k`` (``c`` = 1 or 3). Same pixel order as :func:`coordinate_grid`."""
    img = as_image(image)
    h, w = img.shape
    if img.num_channels == 1:
        data: tuple[float, ...] = img.channels[0].data
    else:
        data = tuple(chain.from_iterable(zip(*(c.data for c in img.channels), strict=True)))
    return Matrix.from_flat(h * w, img.num_channels, data)


def prediction_to_image(prediction: Matrix[float], height: int, width: int) -> Image:
    """Inverse of :func:`image_to_targets`: an ``(h·w)×c`` matrix (``c`` = 1 or 3) back to an
    :class:`Image` of the given height and width. Values are kept as they are (no clipping)."""
    _check_size(height, width)
    m, c = prediction.shape
    if m != height * width:
        raise ShapeError(
            f"a {height}×{width} image needs a prediction with {height * width} rows "
            f"(one per pixel), got {fmt_shape(prediction.shape)}"
        )
    if c not in (1, 3):
        raise ShapeError(
            f"a prediction has 1 (grayscale) or 3 (RGB) columns, got {fmt_shape(prediction.shape)}"
        )
    data = prediction.data
    dom = prediction.domain
    chans = tuple(Matrix._new(height, width, data[k::c], dom) for k in range(c))
    return Image(chans)


def gaussian_fourier_matrix(
    k: int, sigma: float, rng: random.Random | int, in_features: int = 2
) -> Matrix[float]:
    """The ``in_features×k`` matrix ``B`` of :meth:`refnn.nn.FourierFeatures.gaussian`
    (N(0, σ²) entries drawn row by row from ``rng``, or from ``random.Random(rng)`` for an
    ``int``): the same draw, bit for bit, for code that wants the matrix rather than the
    layer. σ ≈ 1 suits coordinates in [−1, 1].
    """
    B: Matrix[float] = FourierFeatures.gaussian(in_features, k, sigma, rng).B
    return B
