"""Render a trained run at any resolution: ``refnn render RUN_DIR --size N``.

A coordinate network is a continuous function f(x, y) of the pixel coordinates, so it can
be sampled on any grid, not only the training image's. :func:`render_run` reads a run
back (finished, or interrupted with a checkpoint), evaluates its network on a finer (or
coarser) grid and writes two files:

* ``render.png``: the network sampled at N pixels along the longer side of the training
  image (the shorter side keeps the aspect ratio, rounded as ``--size`` rounds it when a
  run resizes an image: half up, at least 1);
* ``render_comparison.png``: a bicubic upscale (Pillow's ``BICUBIC``) of the training
  image (the run's ``original.png``) beside the render at the same size, labelled.

**What a render is, and is not.** The render shows the continuous function the network
learned from the training pixels, sampled between them: an interpolation learned from
those pixels, whose character comes from the model (SIREN's sines, the Fourier features'
frequencies, a ReLU network's facets), *not new detail*. Nothing finer than the training
image was ever seen, and nothing constrained the function between the training pixels:
a SIREN at ω₀ = 30 shows ripples there that the training image does not have. Compare
the render with the bicubic upscale beside it, which interpolates the same pixels by a
fixed rule (``benchmarks/render.py`` scores both against the real photograph). At the
training size the render *is* the run's ``reconstruction.png``, pixel for pixel on the
reference backend (``tests/test_render.py`` checks this).

**The grid.** The render's pixel centres cover the same rectangle as the training
image's: column ``j`` (1-based) of a ``H×W`` render of an ``h×w`` image (``m = max(h, w)``)
is at ``x = (2j − W − 1)·w / (W·m)``, row ``i`` at ``y = (2i − H − 1)·h / (H·m)``, each one
correctly rounded division of integers. For ``H×W = h×w`` these are exactly the numbers of
:func:`refnn.image.coordinate_grid` (the same rationals, rounded once), so rendering at
the training size reproduces the training grid bit for bit.

**Cost.** The grid is evaluated a band of rows at a time (about :data:`CHUNK_PIXELS`
pixels on the reference backend, 16 times more on the array backends), and each band is
rounded to 8 bits at once, so memory is the activations of one band plus the 8-bit
images: the render, the bicubic panel and the side-by-side, about ``5·N²·channels``
bytes. Time grows as N² and with the network's size: ``benchmarks/render.py`` measured a
1024×1024 render of the default SIREN at 87 µs a pixel on the reference backend (91 s)
and 15 times faster with ``--backend numpy``, neither process's memory growing by more
than 30 MiB. N is capped at :data:`MAX_RENDER_SIZE`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refnn import nn, scalars
from refnn.atomic import read_regular_file, write_set
from refnn.image import Image, ImageError, load_image, to_pil
from refnn.image._pil import pil_image
from refnn.image.io import _to_bytes
from refnn.image.plots import _INK, _font, _text_size
from refnn.matrix import Matrix
from refnn.nn.serialize import ParamsFormatError, load_params, strict_json
from refnn.reconstruct import (
    MODELS,
    CheckpointError,
    ConfigError,
    ReconstructConfig,
    RunState,
    _Converters,
    build_model,
)

__all__ = [
    "CHUNK_PIXELS",
    "MAX_RENDER_SIZE",
    "RENDER_FILES",
    "RenderError",
    "RenderResult",
    "TrainedRun",
    "check_render_size",
    "load_run",
    "render_files",
    "render_grid",
    "render_run",
    "render_shape",
]

#: The files a render writes (into the run's folder unless told otherwise).
RENDER_FILES = ("render.png", "render_comparison.png")

#: The largest N: the render, its bicubic twin and the side-by-side (2N wide) are held
#: as 8-bit images, about 5·N²·channels bytes (240 MiB for colour at 4096), and at 4096
#: the reference backend already takes about 25 minutes for the default SIREN (87 µs a
#: pixel in ``benchmarks/render.py``), more for larger networks.
MAX_RENDER_SIZE = 4096

#: Pixels evaluated at once on the reference backend (its floats are Python objects, so a
#: band is kept small); array backends take 16 times more.
CHUNK_PIXELS = 4096

#: The PNG text key a render carries: a file with it was written by render itself, and
#: may be replaced without ``force``.
MARKER = "refnn-render"


class RenderError(ConfigError):
    """A folder is not a run that can be rendered (missing, not a run, corrupt, an
    unknown model), a render size is out of range, or an output would replace a file
    that render did not write."""


def check_render_size(n: Any, option: str = "--size") -> int:
    """``n`` if it is a render size (an int from 1 to :data:`MAX_RENDER_SIZE`), else
    :class:`RenderError` naming ``option``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RenderError(f"{option} must be a positive int, got {n!r}")
    if n > MAX_RENDER_SIZE:
        raise RenderError(
            f"{option} {n} is larger than {MAX_RENDER_SIZE}: the images are held in memory "
            f"(about 5·N² bytes per channel) and the time grows as N²"
        )
    return n


def render_shape(height: int, width: int, n: int) -> tuple[int, int]:
    """``(H, W)`` of an ``n``-pixel render of an ``height×width`` image: the longer side
    becomes ``n``, the shorter one ``round(side·n/longer)`` (halves up, at least 1)."""
    longer = max(height, width)

    def scaled(side: int) -> int:
        return max(1, (2 * side * n + longer) // (2 * longer))

    return scaled(height), scaled(width)


def render_grid(height: int, width: int, H: int, W: int, rows: range) -> Matrix[float]:
    """The pixel-centre coordinates ``[x, y]`` of rows ``rows`` (0-based) of an ``H×W``
    render of an ``height×width`` training image, row-major (see the module docstring:
    for ``H×W = height×width`` these are the rows of
    :func:`refnn.image.coordinate_grid`)."""
    m = max(height, width)
    xs = [(2 * j - W - 1) * width / (W * m) for j in range(1, W + 1)]
    data: list[float] = []
    for i in rows:
        y = (2 * i + 1 - H) * height / (H * m)
        for x in xs:
            data += (x, y)
    return Matrix._new(len(rows) * W, 2, tuple(data), scalars.FLOAT)


# ------------------------------------------------------------------------ reading a run
@dataclass(frozen=True)
class TrainedRun:
    """A run read back: its resolved configuration (the fields that build the network),
    its parameters after ``step`` steps (from ``source``: ``params.json`` of a finished
    run, or ``checkpoint.json`` when the run was interrupted, or resumed and interrupted
    again after it finished) and its training image as trained (``original.png``)."""

    folder: Path
    config: ReconstructConfig
    params: Any
    step: int
    image: Image
    source: str


#: What a run records that builds its network; the rest (rates, batches) only trained it.
_NETWORK_FIELDS = ("model", "width", "depth", "seed", "omega0", "fourier_features", "fourier_sigma")


def load_run(run_dir: str | os.PathLike[str]) -> TrainedRun:
    """The run in ``run_dir``, read back and checked: :class:`RenderError` if the folder
    is missing, holds no run (neither ``metrics.json`` nor ``checkpoint.json``), names a
    model this refnn does not know, or holds a corrupt file (not JSON, fields of the wrong
    type, parameters that do not fit the recorded model, an ``original.png`` of the wrong
    size)."""
    folder = Path(run_dir)
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise RenderError(f"{folder} {what}: name the folder of a refnn reconstruct run")
    metrics = _json_file(folder / "metrics.json")
    checkpoint = _checkpoint(folder / "checkpoint.json")
    if metrics is None and checkpoint is None:
        raise RenderError(
            f"{folder} is not a refnn run (it has neither metrics.json nor checkpoint.json)"
        )
    if checkpoint is not None and (metrics is None or checkpoint.step > _steps(metrics, folder)):
        cfg = _config(checkpoint.config, folder / "checkpoint.json")
        image = _training_image(folder, cfg, checkpoint.image_sha256)
        if max(image.shape) != cfg.size:
            raise RenderError(f"{folder} is corrupt: original.png is not the checkpoint's size")
        params = _fit(checkpoint.params, cfg, image, folder / "checkpoint.json")
        return TrainedRun(folder, cfg, params, checkpoint.step, image, "checkpoint.json")
    assert metrics is not None
    cfg = _config(metrics, folder / "metrics.json")
    image = _training_image(folder, cfg, None)
    _check_size(image, metrics, folder)
    try:
        params = load_params(folder / "params.json")
    except FileNotFoundError:
        raise RenderError(f"{folder} has metrics.json but no params.json: it is corrupt") from None
    except ParamsFormatError as exc:
        raise RenderError(f"{folder / 'params.json'} is corrupt ({exc})") from None
    params = _fit(params, cfg, image, folder / "params.json")
    return TrainedRun(folder, cfg, params, _steps(metrics, folder), image, "params.json")


def _json_file(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, ``None`` if there is no such file; corrupt → error."""
    try:
        doc = strict_json(read_regular_file(path, "run file"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RenderError(f"{path} is not readable JSON ({why})") from None
    if not isinstance(doc, dict):
        raise RenderError(f"{path} is corrupt (not a JSON object)")
    return doc


def _checkpoint(path: Path) -> RunState | None:
    doc = _json_file(path)
    if doc is None:
        return None
    try:
        return RunState.from_json(doc)
    except CheckpointError as exc:
        raise RenderError(f"{path} {exc}") from None


def _steps(metrics: dict[str, Any], folder: Path) -> int:
    steps = metrics.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise RenderError(f"{folder / 'metrics.json'} is corrupt ('steps' is {steps!r})")
    return steps


def _config(doc: dict[str, Any], path: Path) -> ReconstructConfig:
    """The resolved configuration of the network a run's file records."""
    model = doc.get("model")
    if model not in MODELS:
        raise RenderError(
            f"{path} names the model {model!r}, which this refnn does not know "
            f"(it knows {', '.join(MODELS)})"
        )
    fields = {k: doc[k] for k in _NETWORK_FIELDS if k in doc}
    image, size = doc.get("image"), doc.get("size")
    if isinstance(size, list) and len(size) == 2 and all(type(s) is int for s in size):
        size = max(size)  # metrics.json records [h, w]; the configuration the longer side
    try:
        if not (image is None or isinstance(image, str)) or type(fields.get("seed", 0)) is not int:
            raise ConfigError(f"'image' is {image!r}, 'seed' is {fields.get('seed')!r}")
        return ReconstructConfig(image=image, size=size, **fields).resolved()
    except (ConfigError, TypeError) as exc:
        raise RenderError(f"{path} is corrupt ({exc})") from None


def _training_image(folder: Path, cfg: ReconstructConfig, sha256: str | None) -> Image:
    """``original.png``, or for a run interrupted before it wrote one, its image loaded
    again as the run did (and checked against the checkpoint's digest)."""
    original = folder / "original.png"
    if original.exists():
        try:
            return load_image(original)
        except ImageError as exc:
            raise RenderError(f"{original} is corrupt ({exc})") from None
    try:
        image = load_image(cfg.image, size=cfg.size)
    except ImageError as exc:
        raise RenderError(
            f"{folder} has no original.png (the run was interrupted before writing it) "
            f"and its image cannot be loaded again: {exc}"
        ) from None
    if image.sha256 != sha256:
        raise RenderError(
            f"{folder} has no original.png and {cfg.image} is no longer the image it trained on"
        )
    return image


def _check_size(image: Image, metrics: dict[str, Any], folder: Path) -> None:
    if list(image.shape) != metrics.get("size"):
        raise RenderError(
            f"{folder} is corrupt: original.png is {image.height}×{image.width} but "
            f"metrics.json records the size {metrics.get('size')!r}"
        )


def _fit(params: Any, cfg: ReconstructConfig, image: Image, path: Path) -> Any:
    """``params`` if they fit the network ``cfg`` builds, else :class:`RenderError`. A
    network has at least ``width·depth`` parameters (its hidden biases) and as many as its
    Fourier features: sizes beyond the file's are refused before the network is built."""
    count = nn.n_params(params)
    sizes = (int(cfg.width or 0) * int(cfg.depth or 0), cfg.fourier_features)
    a, ta = nn.tree_flatten(params)
    if max(sizes) <= count:
        b, tb = nn.tree_flatten(build_model(cfg, image.num_channels).init(random.Random(0)))
        if ta == tb and [x.shape for x in a] == [x.shape for x in b]:
            return params
    raise RenderError(
        f"{path} is corrupt or not this run's (its {count} parameters do not fit the "
        f"{cfg.model} model of width {cfg.width} and depth {cfg.depth})"
    )


# ------------------------------------------------------------------------ rendering
def render_pixels(
    cfg: ReconstructConfig,
    params: Any,
    image: Image,
    n: int,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """The network of ``cfg`` with ``params`` sampled on the ``n``-pixel grid of
    ``image`` (see :func:`render_shape`, :func:`render_grid`), on ``cfg.backend``, as an
    8-bit Pillow image (values clipped to [0, 1] and rounded as
    :func:`refnn.image.to_pil` rounds them). ``progress(rows_done, rows)`` is called
    after each band of rows."""
    check_render_size(n)
    pil = pil_image("render")
    h, w = image.shape
    H, W = render_shape(h, w, n)
    conv = _Converters.load(cfg.backend)
    model = conv.model(build_model(cfg, image.num_channels))
    on_backend = nn.tree_map(conv.to_backend, params)
    band = max(1, (CHUNK_PIXELS if cfg.backend == "reference" else 16 * CHUNK_PIXELS) // W)
    out = bytearray()
    for i0 in range(0, H, band):
        X = conv.to_backend(render_grid(h, w, H, W, range(i0, min(H, i0 + band))))
        y = model.apply(on_backend, X)
        values: Matrix[float] = conv.to_matrix(cfg.spec.pixels(y))
        try:
            out += _to_bytes(values.data)
        except ValueError:  # int(nan)
            raise RenderError(
                f"the network's output is not a number (NaN) in rows {i0 + 1}… of the "
                f"render: the run's parameters are broken"
            ) from None
        if progress is not None:
            progress(min(H, i0 + band), H)
    return pil.frombytes(image.mode, (W, H), bytes(out))


def comparison(image: Image, rendered: Any, step: int, *, min_height: int = 256) -> Any:
    """The side by side: a bicubic upscale of ``image`` to the render's size | the
    render, each enlarged by an integer factor (nearest neighbour) to at least
    ``min_height`` rows, captioned, with a line saying what the render is."""
    pil = pil_image("render")
    from PIL import ImageDraw

    W, H = rendered.size
    bicubic = to_pil(image).resize((W, H), pil.Resampling.BICUBIC)
    k = max(1, math.ceil(min_height / H))
    panels = [
        p.convert("RGB").resize((W * k, H * k), pil.Resampling.NEAREST) for p in (bicubic, rendered)
    ]
    pw, ph, gap = W * k, H * k, 8
    font = _font(max(11, min(16, ph // 16)))
    probe = ImageDraw.Draw(pil.new("RGB", (1, 1)))
    line_h = _text_size(probe, "Ag|(0.1)", font)[1] + 6
    captions = (f"bicubic upscale (Pillow), {W}x{H}", f"network, step {step}, {W}x{H}")
    width = 2 * pw + 3 * gap
    footer = _wrap(
        probe,
        font,
        f"Both from the {image.width}x{image.height} training image. Between its pixels "
        f"the network shows its own interpolation (and the model's artefacts), not new "
        f"detail.",
        width - 2 * gap,
    )
    top = gap + line_h
    canvas = pil.new("RGB", (width, top + ph + gap + len(footer) * line_h + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for n, (panel, text) in enumerate(zip(panels, captions, strict=True)):
        x = gap + n * (pw + gap)
        canvas.paste(panel, (x, top))
        tw = _text_size(draw, text, font)[0]
        draw.text((x + max(0, (pw - tw) // 2), gap), text, fill=_INK, font=font)
    for n, line in enumerate(footer):
        draw.text((gap, top + ph + gap + n * line_h), line, fill=_INK, font=font)
    return canvas


def _wrap(draw: Any, font: Any, text: str, width: int) -> list[str]:
    """``text`` broken into lines at most ``width`` pixels wide (a longer word alone)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_size(draw, f"{lines[-1]} {word}", font)[0] <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def _png(im: Any, description: dict[str, Any]) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(MARKER, json.dumps(description, sort_keys=True))
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def render_files(
    cfg: ReconstructConfig,
    params: Any,
    image: Image,
    n: int,
    step: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, bytes]:
    """``render.png`` and ``render_comparison.png`` of the network (see
    :func:`render_pixels`, :func:`comparison`), encoded, each carrying a PNG text entry
    ``refnn-render`` that describes it and marks it as written by render."""
    rendered = render_pixels(cfg, params, image, n, progress)
    W, H = rendered.size
    description = {
        "model": cfg.model,
        "step": step,
        "size": [H, W],
        "training_size": list(image.shape),
        "backend": cfg.backend,
    }
    return {
        RENDER_FILES[0]: _png(rendered, description),
        RENDER_FILES[1]: _png(comparison(image, rendered, step), description),
    }


# ------------------------------------------------------------------------ writing
@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_run` wrote: the run it read, the render's ``(H, W)`` and the
    paths of its two files."""

    run: TrainedRun
    shape: tuple[int, int]
    files: tuple[Path, ...]


def render_run(
    run_dir: str | os.PathLike[str],
    size: int,
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    backend: str = "reference",
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Render the run in ``run_dir`` at ``size`` pixels along the longer side and write
    :data:`RENDER_FILES` into the folder ``out`` (default: ``run_dir``; created if
    missing), as a set (:func:`refnn.atomic.write_set`).

    A file of that name that render did not write (it lacks the ``refnn-render`` PNG
    entry) is replaced only with ``force``; one that render wrote (an earlier render) is
    replaced. Everything is checked before anything is written: :class:`RenderError` for
    a bad run or size or a file in the way, :class:`ConfigError` for a bad backend,
    ``OSError`` for an unusable folder."""
    check_render_size(size)
    run = load_run(run_dir)
    folder = Path(run_dir) if out is None else Path(out)
    if os.fspath(folder) == "":
        raise RenderError("--out is empty: name a folder for the render")
    _check_targets(folder, force)
    cfg = dataclasses.replace(run.config, backend=backend)
    _Converters.load(backend)  # a bad backend fails before the work
    files = render_files(cfg, run.params, run.image, size, run.step, progress)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_set(folder, files)
    except BaseException:
        for p in created:  # innermost first: what this call created and left empty
            try:
                p.rmdir()
            except OSError:
                break
        raise
    return RenderResult(run, render_shape(*run.image.shape, size), tuple(folder / n for n in files))


def _check_targets(folder: Path, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise RenderError(f"--out {folder} is not a folder")
    for name in RENDER_FILES:
        target = folder / name
        if not target.exists() and not target.is_symlink():
            continue
        if not target.is_file() or target.is_symlink():
            raise RenderError(
                f"{target} exists and is not a regular file: remove it or choose --out"
            )
        if not force and not written_by_render(target):
            raise RenderError(
                f"{target} exists and was not written by refnn render: pass --force to "
                f"replace it, or choose another --out"
            )


def written_by_render(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a PNG carrying render's ``refnn-render`` text entry."""
    pil = pil_image("render")
    try:
        with pil.open(path) as im:
            return im.format == "PNG" and MARKER in im.info
    except (OSError, ValueError, pil.DecompressionBombError):
        return False


def discard_stale_renders(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the render files in ``folder`` that render wrote (they show a network the
    run has since replaced); return their names. Other files of those names stay."""
    removed = []
    for name in RENDER_FILES:
        path = Path(folder) / name
        if path.is_file() and not path.is_symlink() and written_by_render(path):
            path.unlink(missing_ok=True)
            removed.append(name)
    return removed
