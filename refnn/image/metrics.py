"""Image quality metrics: :func:`pixel_mse`, :func:`psnr`, :func:`ssim`.

``pixel_mse`` compares two *images* and returns a float; :func:`refnn.nn.mse` is the
differentiable loss between two *matrices* (a 1×1 matrix). They were once both called
``mse``.

All three take two :data:`~refnn.image.core.ImageLike` values of equal shape and channel
count and compare every channel (RGB: all three channels pooled for MSE/PSNR, SSIM
averaged over channels). Sums use :func:`math.fsum` (correctly rounded), so MSE is the
exact mean of the float squared differences up to two final roundings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul

from refnn.errors import ShapeError
from refnn.image.core import Image, ImageLike, as_image
from refnn.image.errors import ImageError
from refnn.matrix import fmt_shape

__all__ = ["pixel_mse", "psnr", "ssim", "ssim_window"]


def _pair(a: ImageLike, b: ImageLike, what: str) -> tuple[Image, Image]:
    ia, ib = as_image(a), as_image(b)
    if ia.shape != ib.shape or ia.num_channels != ib.num_channels:
        raise ShapeError(
            f"{what} needs images of equal shape: {fmt_shape(ia.shape)}×{ia.num_channels} "
            f"and {fmt_shape(ib.shape)}×{ib.num_channels} (height×width×channels)"
        )
    return ia, ib


def pixel_mse(a: ImageLike, b: ImageLike) -> float:
    """Mean squared error ``(1/N) Σ (aₖ − bₖ)²`` over all ``N`` pixel values of all channels."""
    ia, ib = _pair(a, b, "pixel_mse")
    total = math.fsum(
        (x - y) ** 2
        for ca, cb in zip(ia.channels, ib.channels, strict=True)
        for x, y in zip(ca.data, cb.data, strict=True)
    )
    n = ia.height * ia.width * ia.num_channels
    return float(total / n)


def psnr(a: ImageLike, b: ImageLike, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in decibels, ``10·log₁₀(peak² / MSE)``.

    ``peak`` is the largest possible value (1.0 for images in [0, 1]). Identical images
    (MSE = 0) give ``math.inf``: the ratio is unbounded, and ``inf`` compares and prints
    sensibly, where an exception would interrupt a training loop that fits exactly.
    """
    if not (peak > 0 and math.isfinite(peak)):
        raise ImageError(f"psnr needs a positive finite peak, got {peak!r}", kind="invalid")
    err = pixel_mse(a, b)
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / err)


def ssim_window(size: int, sigma: float = 1.5) -> tuple[float, ...]:
    """The 1-D Gaussian weights ``wₖ ∝ exp(−(k − c)² / (2σ²))``, ``c = (size − 1)/2``,
    normalised to sum 1; the 2-D SSIM window is their outer product."""
    centre = (size - 1) / 2
    raw = [math.exp(-((k - centre) ** 2) / (2.0 * sigma * sigma)) for k in range(size)]
    total = math.fsum(raw)
    return tuple(r / total for r in raw)


def _filter_valid(data: Sequence[float], h: int, w: int, win: Sequence[float]) -> list[float]:
    """Separable 'valid' correlation of an h×w row-major image with ``win ⊗ win``."""
    s = len(win)
    ow, oh = w - s + 1, h - s + 1
    rows: list[list[float]] = []
    for i in range(h):
        row = data[i * w : (i + 1) * w]
        rows.append([sum(map(mul, win, row[j : j + s])) for j in range(ow)])
    out: list[float] = []
    for i in range(oh):
        block = rows[i : i + s]
        out.extend(sum(map(mul, win, col)) for col in zip(*block, strict=True))
    return out


def _ssim_channel(
    x: Sequence[float],
    y: Sequence[float],
    h: int,
    w: int,
    win: Sequence[float],
    c1: float,
    c2: float,
) -> float:
    def f(d: Sequence[float]) -> list[float]:
        return _filter_valid(d, h, w, win)

    mx, my = f(x), f(y)
    exx = f([v * v for v in x])
    eyy = f([v * v for v in y])
    exy = f(list(map(mul, x, y)))
    values = []
    for ux, uy, sxx, syy, sxy in zip(mx, my, exx, eyy, exy, strict=True):
        vx = sxx - ux * ux
        vy = syy - uy * uy
        cov = sxy - ux * uy
        values.append(
            ((2 * ux * uy + c1) * (2 * cov + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        )
    return math.fsum(values) / len(values)


def ssim(
    a: ImageLike,
    b: ImageLike,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> float:
    """Mean structural similarity (Wang, Bovik, Sheikh & Simoncelli, 2004).

    At every position where the window fits inside the image ("valid" positions, no
    padding), local Gaussian-weighted means μ, variances σ² and covariance σₓᵧ give::

        SSIM = (2μₓμᵧ + C₁)(2σₓᵧ + C₂) / ((μₓ² + μᵧ² + C₁)(σₓ² + σᵧ² + C₂))

    with ``C₁ = (0.01·L)²``, ``C₂ = (0.03·L)²``, ``L = data_range``; the result is the mean
    over positions (and over channels for RGB). The window is the paper's: 11×11 Gaussian,
    σ = 1.5 (:func:`ssim_window`), variances weighted (weights sum to 1, no n−1 correction).

    Small images: the window side becomes ``min(window_size, height, width)`` (the same σ,
    renormalised), so an image smaller than 11 pixels still gets a score; a 1-pixel-wide
    image compares luminance only. Identical images give exactly 1.0; the measure is
    symmetric in ``a`` and ``b`` and at most 1.
    """
    ia, ib = _pair(a, b, "ssim")
    if not (data_range > 0 and math.isfinite(data_range)):
        raise ImageError(f"ssim needs a positive data_range, got {data_range!r}", kind="invalid")
    if not isinstance(window_size, int) or window_size < 1 or not sigma > 0:
        raise ImageError(
            f"ssim needs window_size ≥ 1 and sigma > 0, got {window_size!r}, {sigma!r}",
            kind="invalid",
        )
    h, w = ia.shape
    win = ssim_window(min(window_size, h, w), sigma)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    scores = [
        _ssim_channel(ca.data, cb.data, h, w, win, c1, c2)
        for ca, cb in zip(ia.channels, ib.channels, strict=True)
    ]
    return math.fsum(scores) / len(scores)
