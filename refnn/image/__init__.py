"""Images for the reconstruction task: loading, saving, coordinates, metrics, pictures.

An image is an :class:`Image`: a tuple of 1 (grayscale) or 3 (RGB) ``height×width``
``Matrix`` channels of floats in [0, 1] (``channel[1, 1]`` is the top-left pixel).

* :func:`load_image` — a file, the embedded ``"camera"`` photograph or the generated
  ``"spiral"``; optional box-filter resize; decompression-bomb guard; typed errors.
* :func:`save_png` — atomic 8-bit PNG writing (values clipped and rounded).
* :func:`coordinate_grid`, :func:`image_to_targets`, :func:`prediction_to_image` — the
  training matrices (pixel centres in (−1, 1)², row-major) and back;
  :func:`gaussian_fourier_matrix` — the ``B`` of :meth:`refnn.nn.FourierFeatures.gaussian`.
* :func:`pixel_mse`, :func:`psnr`, :func:`ssim` — quality metrics (``pixel_mse`` compares
  images; :func:`refnn.nn.mse` is the loss between matrices).
* :func:`comparison_image`, :func:`curve_image` — the pictures ``refnn reconstruct`` shows.
* :func:`atomic_write_bytes`, :func:`atomic_write_text` — all-or-nothing file writes,
  for any part of refnn (they live in :mod:`refnn.atomic`, standard library only).

Pillow (``pip install "refnn[image]"``) is imported only by the functions that decode,
encode or draw; importing this package does not need it.
"""

from typing import TYPE_CHECKING

from refnn.atomic import atomic_write_bytes, atomic_write_text
from refnn.image.core import Image, ImageLike, as_image
from refnn.image.errors import ImageError, MissingPillowError
from refnn.image.grid import (
    coordinate_grid,
    gaussian_fourier_matrix,
    image_to_targets,
    prediction_to_image,
)
from refnn.image.io import (
    CAMERA,
    MAX_PIXELS,
    SPIRAL,
    ImageInfo,
    camera_bytes,
    from_pil,
    load_image,
    probe_image,
    save_png,
    source_sha256,
    to_pil,
)
from refnn.image.metrics import pixel_mse, psnr, ssim, ssim_window
from refnn.image.plots import comparison_image, curve_image, heat_colour
from refnn.image.spiral import spiral

__all__ = [
    "CAMERA",
    "MAX_PIXELS",
    "SPIRAL",
    "Image",
    "ImageError",
    "ImageInfo",
    "ImageLike",
    "MissingPillowError",
    "as_image",
    "atomic_write_bytes",
    "atomic_write_text",
    "camera_bytes",
    "comparison_image",
    "coordinate_grid",
    "curve_image",
    "from_pil",
    "gaussian_fourier_matrix",
    "heat_colour",
    "image_to_targets",
    "load_image",
    "pixel_mse",
    "prediction_to_image",
    "probe_image",
    "psnr",
    "save_png",
    "source_sha256",
    "spiral",
    "ssim",
    "ssim_window",
    "to_pil",
]

_REMOVED = {
    "mse": "image.pixel_mse compares two images (refnn.nn.mse is the loss between matrices)",
    "fourier_features": "the map is the layer nn.FourierFeatures(B): .apply((), coords)",
}

if not TYPE_CHECKING:  # a clear error at run time; type checkers see only the real names

    def __getattr__(name: str) -> object:
        if name in _REMOVED:
            raise AttributeError(f"refnn.image.{name} was removed: {_REMOVED[name]}")
        raise AttributeError(f"module 'refnn.image' has no attribute {name!r}")
