"""Pictures for people: the side-by-side comparison and the PSNR training curve.

Both return Pillow images (``PIL.Image.Image``, mode ``RGB``); write them with
:func:`refnn.image.io.save_png`, which is atomic. Drawing uses Pillow's ``ImageDraw``
only (no matplotlib). Text uses Pillow's default font (a scalable one when Pillow has
FreeType, the small bitmap font otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from refnn.errors import ShapeError
from refnn.image._pil import pil_image
from refnn.image.core import ImageLike, as_image
from refnn.image.errors import ImageError
from refnn.image.io import to_pil
from refnn.matrix import fmt_shape

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["comparison_image", "curve_image", "heat_colour"]

# The heat map: black → dark red → orange → yellow → white, linear between the stops.
_HEAT_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (0, 0, 0)),
    (0.3, (140, 16, 12)),
    (0.6, (235, 110, 0)),
    (0.85, (255, 215, 50)),
    (1.0, (255, 255, 255)),
)

_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)
_GRID = (225, 225, 225)
_SERIES_COLOURS = ((31, 97, 180), (214, 96, 20), (40, 150, 60), (150, 60, 170))


def heat_colour(t: float) -> tuple[int, int, int]:
    """The heat-map colour of ``t`` in [0, 1] (clipped): 0 is black, 1 is white, through
    dark red, orange and yellow; piecewise linear in RGB between fixed stops, so larger
    values are always brighter."""
    t = min(max(t, 0.0), 1.0)
    for (t0, c0), (t1, c1) in pairwise(_HEAT_STOPS):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return (
                round(c0[0] + f * (c1[0] - c0[0])),
                round(c0[1] + f * (c1[1] - c0[1])),
                round(c0[2] + f * (c1[2] - c0[2])),
            )
    return _HEAT_STOPS[-1][1]


def _heat_palette() -> list[int]:
    return [v for k in range(256) for v in heat_colour(k / 255)]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError, ImportError):
        return ImageFont.load_default()


def _text_size(draw: Any, text: str, font: Any) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def _error_heat(pil: Any, a: Any, b: Any, error_scale: float | None) -> tuple[Any, float]:
    """The |a − b| panel as a palette image through :func:`heat_colour`, and its scale."""
    h, w = a.shape
    nc = a.num_channels
    diffs = [
        [abs(x - y) for x, y in zip(ca.data, cb.data, strict=True)]
        for ca, cb in zip(a.channels, b.channels, strict=True)
    ]
    err = diffs[0] if nc == 1 else [math.fsum(p) / nc for p in zip(*diffs, strict=True)]
    biggest = max(err)
    scale = error_scale if error_scale is not None else (biggest if biggest > 0 else 1.0)
    heat = pil.frombytes("P", (w, h), bytes(int(min(e / scale, 1.0) * 255.0 + 0.5) for e in err))
    heat.putpalette(_heat_palette())
    return heat, scale


def _label_panels(
    pil: Any, canvas: Any, font: Any, scale: float, pw: int, ph: int, gap: int, top: int, bar_h: int
) -> None:
    """Captions over the three panels and the error's colour bar under the third."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(canvas)
    captions = ("original", "reconstruction", f"|error|, scale 0 … {scale:.3g}")
    for n, text in enumerate(captions):
        tw, _ = _text_size(draw, text, font)
        x = gap + n * (pw + gap) + max(0, (pw - tw) // 2)
        draw.text((x, gap), text, fill=_INK, font=font)
    bar = pil.frombytes("P", (256, 1), bytes(range(256)))
    bar.putpalette(_heat_palette())
    bar = bar.convert("RGB").resize((pw, bar_h), pil.Resampling.BILINEAR)
    bx, by = gap + 2 * (pw + gap), top + ph + gap
    canvas.paste(bar, (bx, by))
    draw.text((bx, by + bar_h + 2), "0", fill=_INK, font=font)
    right = f"{scale:.3g}"
    draw.text(
        (bx + pw - _text_size(draw, right, font)[0], by + bar_h + 2),
        right,
        fill=_INK,
        font=font,
    )


def comparison_image(
    original: ImageLike,
    reconstruction: ImageLike,
    *,
    error_scale: float | None = None,
    min_height: int = 256,
    gap: int = 8,
    labels: bool = True,
) -> PILImage:
    """Original | reconstruction | absolute error, side by side, as one RGB Pillow image.

    Each panel is the image enlarged by an integer factor ``max(1, ⌈min_height / h⌉)`` with
    nearest-neighbour sampling (a 32×32 image becomes 256×256, pixels stay visible), with
    ``gap`` white pixels between and around the panels. Values are clipped to [0, 1] and
    rounded to 8 bits as in :func:`~refnn.image.io.to_pil`.

    The error panel shows ``|original − reconstruction|`` per pixel (the mean over
    channels for RGB) through :func:`heat_colour`, with ``error / error_scale`` mapped to
    [0, 1]; ``error_scale=None`` uses the largest error in the image (all black when the
    images are equal). With ``labels`` each panel gets a caption (the error caption
    states the scale) and a colour bar runs under the error panel.
    """
    pil = pil_image("comparison_image")
    a, b = as_image(original), as_image(reconstruction)
    if a.shape != b.shape or a.num_channels != b.num_channels:
        raise ShapeError(
            f"comparison_image needs images of equal shape: {fmt_shape(a.shape)}×"
            f"{a.num_channels} and {fmt_shape(b.shape)}×{b.num_channels}"
        )
    if error_scale is not None and not (error_scale > 0 and math.isfinite(error_scale)):
        raise ImageError(f"error_scale must be positive, got {error_scale!r}", kind="invalid")
    h, w = a.shape
    heat, scale = _error_heat(pil, a, b, error_scale)

    k = max(1, math.ceil(min_height / h))
    pw, ph = w * k, h * k
    nearest = pil.Resampling.NEAREST
    panels = [
        to_pil(a).convert("RGB").resize((pw, ph), nearest),
        to_pil(b).convert("RGB").resize((pw, ph), nearest),
        heat.convert("RGB").resize((pw, ph), nearest),
    ]
    font = _font(max(11, min(16, ph // 16)))
    from PIL import ImageDraw

    probe = ImageDraw.Draw(pil.new("RGB", (1, 1)))
    line_h = _text_size(probe, "Ag|(0.1)", font)[1] + 6 if labels else 0
    bar_h = max(6, ph // 24) if labels else 0
    top = gap + line_h
    canvas_w = 3 * pw + 4 * gap
    canvas_h = top + ph + gap + (bar_h + line_h + gap if labels else 0)
    canvas: PILImage = pil.new("RGB", (canvas_w, canvas_h), _BACKGROUND)
    for n, panel in enumerate(panels):
        canvas.paste(panel, (gap + n * (pw + gap), top))
    if labels:
        _label_panels(pil, canvas, font, scale, pw, ph, gap, top, bar_h)
    return canvas


def _nice_step(span: float, target: int = 5) -> float:
    """A step 1, 2 or 5 × 10ᵏ giving about ``target`` intervals over ``span``."""
    raw = span / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * mag * 1.0000001:
            return m * mag
    return 10.0 * mag


def _axis(lo: float, hi: float) -> tuple[float, float, list[float], int]:
    """Axis bounds widened to whole ticks, the ticks, and decimals for their labels."""
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        pad = max(abs(lo) * 0.05, 0.5)
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    ticks = [k * step for k in range(first, last + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return ticks[0], ticks[-1], ticks, decimals


@dataclass(frozen=True)
class _Frame:
    """The plotting area of a curve image and its data ranges (supersampled pixels)."""

    left: float
    right: float
    top: float
    bottom: float
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    ss: int

    def px(self, x: float) -> float:
        return self.left + (x - self.x_lo) / (self.x_hi - self.x_lo) * (self.right - self.left)

    def py(self, y: float) -> float:
        return self.bottom - (y - self.y_lo) / (self.y_hi - self.y_lo) * (self.bottom - self.top)


_Series = list[tuple[str | None, list[tuple[float, float]]]]
_Legend = list[tuple[str, tuple[int, int, int], bool]]


def _curve_data(
    label: str | None,
    steps: Sequence[float],
    psnr_values: Sequence[float],
    extra: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    baselines: Sequence[tuple[str, float]],
    width: int,
    height: int,
) -> tuple[_Series, list[tuple[str, float]]]:
    """The finite points of each series and the finite baselines, checked."""
    series: _Series = []
    for name, xs, ys in ((label, steps, psnr_values), *extra):
        if len(xs) != len(ys):
            raise ShapeError(f"curve_image needs as many steps as values: {len(xs)} and {len(ys)}")
        pts = [
            (float(x), float(y))
            for x, y in zip(xs, ys, strict=True)
            if math.isfinite(x) and math.isfinite(y)
        ]
        series.append((name, pts))
    lines = [(name, float(v)) for name, v in baselines if math.isfinite(v)]
    if not any(pts for _, pts in series):
        raise ImageError("curve_image has no finite points to plot", kind="invalid")
    if width < 200 or height < 150:
        raise ImageError(
            f"curve_image needs at least 200×150 pixels, got {width}×{height}", kind="invalid"
        )
    return series, lines


def _draw_axes(
    draw: Any,
    f: _Frame,
    x_ticks: list[float],
    x_dec: int,
    y_ticks: list[float],
    y_labels: list[str],
    font: Any,
    tick: int,
) -> None:
    ss = f.ss
    for t, s in zip(y_ticks, y_labels, strict=True):
        y = f.py(t)
        draw.line([(f.left, y), (f.right, y)], fill=_GRID, width=ss)
        draw.line([(f.left - tick, y), (f.left, y)], fill=_INK, width=ss)
        tw, th = _text_size(draw, s, font)
        draw.text((f.left - tick - 4 * ss - tw, y - th / 2), s, fill=_INK, font=font, anchor="la")
    for t in x_ticks:
        x = f.px(t)
        draw.line([(x, f.top), (x, f.bottom)], fill=_GRID, width=ss)
        draw.line([(x, f.bottom), (x, f.bottom + tick)], fill=_INK, width=ss)
        s = f"{t:.{x_dec}f}"
        tw, _ = _text_size(draw, s, font)
        draw.text((x - tw / 2, f.bottom + tick + 3 * ss), s, fill=_INK, font=font)
    draw.rectangle([(f.left, f.top), (f.right, f.bottom)], outline=_INK, width=ss)


def _draw_lines(draw: Any, f: _Frame, series: _Series, lines: list[tuple[str, float]]) -> _Legend:
    """The series as lines (a lone point as a dot), the baselines dashed; the legend rows."""
    ss = f.ss
    legend: _Legend = []
    for n, (name, pts) in enumerate(series):
        colour = _SERIES_COLOURS[n % len(_SERIES_COLOURS)]
        xy = [(f.px(x), f.py(y)) for x, y in pts]
        if len(xy) == 1:
            (cx, cy), r = xy[0], 3 * ss
            draw.ellipse([(cx - r, cy - r), (cx + r, cy + r)], fill=colour)
        elif xy:
            draw.line(xy, fill=colour, width=2 * ss, joint="curve")
        if name:
            legend.append((name, colour, False))
    for n, (name, value) in enumerate(lines):
        colour = (120, 120, 120) if n == 0 else _SERIES_COLOURS[(n + 1) % len(_SERIES_COLOURS)]
        y = f.py(value)
        x = float(f.left)
        while x < f.right:
            draw.line([(x, y), (min(x + 8 * ss, f.right), y)], fill=colour, width=ss)
            x += 14 * ss
        legend.append((name, colour, True))
    return legend


def _draw_legend(draw: Any, f: _Frame, legend: _Legend, font: Any) -> None:
    ss = f.ss
    box_w = 36 * ss + max(_text_size(draw, name, font)[0] for name, _, _ in legend)
    box_h = sum(_text_size(draw, name, font)[1] + 8 * ss for name, _, _ in legend)
    # lower right: the emptiest corner of a rising training curve
    lx, ly = f.right - 10 * ss - box_w, f.bottom - 10 * ss - box_h
    draw.rectangle(
        [(lx - 6 * ss, ly - 4 * ss), (lx + box_w, ly + box_h)],
        fill=_BACKGROUND,
        outline=_GRID,
        width=ss,
    )
    for name, colour, dashed in legend:
        _, th = _text_size(draw, name, font)
        mid = ly + th / 2 + 2 * ss
        if dashed:
            draw.line([(lx, mid), (lx + 8 * ss, mid)], fill=colour, width=ss)
            draw.line([(lx + 14 * ss, mid), (lx + 22 * ss, mid)], fill=colour, width=ss)
        else:
            draw.line([(lx, mid), (lx + 22 * ss, mid)], fill=colour, width=2 * ss)
        draw.text((lx + 28 * ss, ly), name, fill=_INK, font=font)
        ly += th + 8 * ss


def curve_image(
    steps: Sequence[float],
    psnr_values: Sequence[float],
    *,
    title: str = "PSNR during training",
    label: str | None = None,
    extra: Sequence[tuple[str, Sequence[float], Sequence[float]]] = (),
    baselines: Sequence[tuple[str, float]] = (),
    width: int = 720,
    height: int = 440,
) -> PILImage:
    """A line plot of PSNR (dB) against training step, as an RGB Pillow image.

    ``steps`` and ``psnr_values`` are the main series (``label`` names it in the legend);
    ``extra`` adds series ``(label, steps, values)`` (e.g. held-out PSNR) and ``baselines``
    dashed horizontal lines ``(label, value)`` (e.g. the neighbour-average baseline).
    Non-finite values (``inf`` for an exact fit, NaN) are left out of the lines. Axes get
    "nice" ticks (1, 2 or 5 × 10ᵏ), the x axis is labelled "step" and the y axis
    "PSNR (dB)". Drawn at twice the size and downsampled, for smooth lines.
    """
    pil = pil_image("curve_image")
    # the layout arithmetic below is one sequence of dependent measurements (tick labels
    # → margins → frame); the drawing itself is in _draw_axes/_draw_lines/_draw_legend
    from PIL import ImageDraw

    series, lines = _curve_data(label, steps, psnr_values, extra, baselines, width, height)
    all_x = [x for _, pts in series for x, _ in pts]
    all_y = [y for _, pts in series for _, y in pts] + [v for _, v in lines]
    ss = 2  # supersampling factor
    W, H = width * ss, height * ss
    img = pil.new("RGB", (W, H), _BACKGROUND)
    draw = ImageDraw.Draw(img)
    font = _font(12 * ss)
    title_font = _font(15 * ss)
    x_lo, x_hi, x_ticks, x_dec = _axis(min(all_x), max(all_x))
    y_lo, y_hi, y_ticks, y_dec = _axis(min(all_y), max(all_y))
    y_labels = [f"{t:.{y_dec}f}" for t in y_ticks]
    label_w = max(_text_size(draw, s, font)[0] for s in y_labels)
    text_h = _text_size(draw, "0123456789", font)[1]
    yl = "PSNR (dB)"
    yl_w, yl_h = _text_size(draw, yl, font)
    tick = 5 * ss
    strip_x = 10 * ss
    f = _Frame(
        left=strip_x + yl_h + 8 * ss + 8 * ss + label_w + 4 * ss + tick,
        right=W - 24 * ss,
        top=22 * ss + _text_size(draw, title or "A", title_font)[1],
        bottom=H - (text_h * 2 + 24 * ss),
        x_lo=x_lo,
        x_hi=x_hi,
        y_lo=y_lo,
        y_hi=y_hi,
        ss=ss,
    )
    _draw_axes(draw, f, x_ticks, x_dec, y_ticks, y_labels, font, tick)
    legend = _draw_lines(draw, f, series, lines)
    if legend:
        _draw_legend(draw, f, legend, font)
    if title:
        tw, _ = _text_size(draw, title, title_font)
        draw.text(((W - tw) / 2, 10 * ss), title, fill=_INK, font=title_font)
    xl = "step"
    tw, _ = _text_size(draw, xl, font)
    draw.text(((f.left + f.right - tw) / 2, H - text_h - 10 * ss), xl, fill=_INK, font=font)
    strip = pil.new("RGB", (yl_w + 4 * ss, yl_h + 8 * ss), _BACKGROUND)
    ImageDraw.Draw(strip).text((2 * ss, 2 * ss), yl, fill=_INK, font=font)
    strip = strip.rotate(90, expand=True)
    img.paste(strip, (strip_x, int((f.top + f.bottom - strip.size[1]) / 2)))
    out: PILImage = img.resize((width, height), pil.Resampling.LANCZOS)
    return out
