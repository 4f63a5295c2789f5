"""Tests of refnn.image: metrics against their definitions, I/O round trips, the
decompression-bomb guard, typed errors that leave nothing behind, atomic writes."""

from __future__ import annotations

import hashlib
import io
import math
import os
import random
import subprocess
import sys
import zlib
from fractions import Fraction
from importlib import resources
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image as PILImageModule

from refnn import Matrix, RefnnError, ShapeError, nn
from refnn.image import (
    MAX_PIXELS,
    Image,
    ImageError,
    MissingPillowError,
    atomic_write_bytes,
    atomic_write_text,
    camera_bytes,
    comparison_image,
    coordinate_grid,
    curve_image,
    gaussian_fourier_matrix,
    heat_colour,
    image_to_targets,
    load_image,
    pixel_mse,
    prediction_to_image,
    psnr,
    save_png,
    source_sha256,
    spiral,
    ssim,
    to_pil,
)

C1 = 0.01**2
C2 = 0.03**2


def gray(rows: list[list[float]]) -> Image:
    return Image((Matrix(rows),))


def const(h: int, w: int, v: float) -> Image:
    return Image((Matrix.from_flat(h, w, [v] * (h * w)),))


def random_bytes(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


def write_pil(path: Path, im: PILImageModule.Image, fmt: str = "PNG", **kw: object) -> Path:
    im.save(path, format=fmt, **kw)
    return path


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------------- MSE / PSNR
def test_mse_hand_case() -> None:
    a = gray([[0.0, 1.0], [1.0, 0.0]])
    b = const(2, 2, 0.0)
    assert pixel_mse(a, b) == 0.5
    assert pixel_mse(b, a) == 0.5


def test_constant_error_gives_textbook_psnr() -> None:
    e = 0.125  # exact in binary, so MSE is exactly e²
    a = const(4, 5, 0.25)
    b = const(4, 5, 0.25 + e)
    assert pixel_mse(a, b) == e * e
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / e**2), abs=1e-12)
    assert psnr(a, b, peak=2.0) == pytest.approx(10 * math.log10(4 / e**2), abs=1e-12)


def test_psnr_of_mixed_errors_matches_definition() -> None:
    rng = random.Random(3)
    xs = [rng.random() for _ in range(30)]
    ys = [rng.random() for _ in range(30)]
    expected_mse = sum((x - y) ** 2 for x, y in zip(xs, ys, strict=True)) / 30
    a = Image((Matrix.from_flat(5, 6, xs),))
    b = Image((Matrix.from_flat(5, 6, ys),))
    assert pixel_mse(a, b) == pytest.approx(expected_mse, rel=1e-14)
    assert psnr(a, b) == pytest.approx(-10 * math.log10(expected_mse), rel=1e-13)


def test_psnr_identical_is_inf() -> None:
    a = load_image("spiral")
    assert psnr(a, a) == math.inf


def test_rgb_mse_pools_channels() -> None:
    z = Matrix.from_flat(1, 2, [0.0, 0.0])
    one = Matrix.from_flat(1, 2, [1.0, 1.0])
    a = Image((z, z, z))
    b = Image((one, z, z))  # 2 of 6 values differ by 1
    assert pixel_mse(a, b) == pytest.approx(1 / 3, rel=1e-15)


def test_metrics_refuse_shape_mismatch() -> None:
    with pytest.raises(ShapeError, match="equal shape"):
        pixel_mse(const(2, 2, 0.0), const(2, 3, 0.0))
    with pytest.raises(ShapeError):
        ssim(const(2, 2, 0.0), const(3, 2, 0.0))


# ---------------------------------------------------------------------- SSIM
def test_ssim_identical_is_exactly_one() -> None:
    cam = load_image(size=32)
    assert ssim(cam, cam) == 1.0
    sp = load_image("spiral")
    assert ssim(sp, sp) == 1.0


def test_ssim_symmetric_and_below_one_for_distortions() -> None:
    cam = load_image(size=32)
    rng = random.Random(0)
    noisy = Image((cam.matrix.map(lambda v: min(1.0, max(0.0, v + rng.gauss(0, 0.1)))),))
    dim = Image((cam.matrix.map(lambda v: 0.5 * v),))
    s_noise = ssim(cam, noisy)
    assert s_noise == pytest.approx(ssim(noisy, cam), rel=1e-12)
    assert 0.0 < s_noise < 0.95
    assert ssim(cam, dim) < 1.0
    more_noise = Image((cam.matrix.map(lambda v: min(1.0, max(0.0, v + rng.gauss(0, 0.3)))),))
    assert ssim(cam, more_noise) < s_noise


def test_ssim_constant_images_is_luminance_term() -> None:
    # zero variance: the structure term is C2/C2 = 1, leaving (2ab + C1)/(a² + b² + C1)
    a, b = 0.2, 0.6
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert ssim(const(6, 7, a), const(6, 7, b)) == pytest.approx(expected, rel=1e-12)


def test_ssim_two_by_two_hand_case() -> None:
    # The window shrinks to 2×2; its symmetric Gaussian weights are all 1/4.
    # μx = μy = 1/2, σx² = σy² = 1/4, σxy = 1/4 − 1/4 = 0.
    x = gray([[0.0, 0.0], [1.0, 1.0]])
    y = gray([[0.0, 1.0], [0.0, 1.0]])
    expected = ((0.5 + C1) * C2) / ((0.5 + C1) * (0.5 + C2))
    assert ssim(x, y) == pytest.approx(expected, rel=1e-12)


def test_ssim_three_by_three_gaussian_weights() -> None:
    # One window position; weights w_ij = g_i g_j with g ∝ exp(−(k−1)²/(2·1.5²)), k = 0, 1, 2.
    g = [math.exp(-((k - 1) ** 2) / 4.5) for k in range(3)]
    g = [v / sum(g) for v in g]
    x = [0.1, 0.5, 0.9, 0.3, 0.2, 0.8, 0.7, 0.4, 0.6]
    y = [0.2, 0.4, 0.8, 0.3, 0.1, 0.9, 0.6, 0.5, 0.5]
    w = [g[i] * g[j] for i in range(3) for j in range(3)]
    mx = sum(wi * v for wi, v in zip(w, x, strict=True))
    my = sum(wi * v for wi, v in zip(w, y, strict=True))
    vx = sum(wi * (v - mx) ** 2 for wi, v in zip(w, x, strict=True))
    vy = sum(wi * (v - my) ** 2 for wi, v in zip(w, y, strict=True))
    cxy = sum(wi * (u - mx) * (v - my) for wi, u, v in zip(w, x, y, strict=True))
    expected = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2))
    got = ssim(Image((Matrix.from_flat(3, 3, x),)), Image((Matrix.from_flat(3, 3, y),)))
    assert got == pytest.approx(expected, rel=1e-10)


def test_ssim_rgb_is_channel_mean() -> None:
    rng = random.Random(5)
    chans_a = [Matrix.from_flat(12, 12, [rng.random() for _ in range(144)]) for _ in range(3)]
    chans_b = [Matrix.from_flat(12, 12, [rng.random() for _ in range(144)]) for _ in range(3)]
    per_channel = [ssim(a, b) for a, b in zip(chans_a, chans_b, strict=True)]
    got = ssim(Image(tuple(chans_a)), Image(tuple(chans_b)))
    assert got == pytest.approx(sum(per_channel) / 3, rel=1e-13)


# ---------------------------------------------------------------------- load / save
def test_gray_png_round_trip_is_exact(tmp_path: Path) -> None:
    raw = random_bytes(7 * 5, seed=1)
    src = write_pil(tmp_path / "g.png", PILImageModule.frombytes("L", (5, 7), raw))
    img = load_image(src)
    assert img.shape == (7, 5) and img.mode == "L"
    assert img.matrix.data == tuple(k / 255 for k in raw)
    out = tmp_path / "out.png"
    save_png(out, img)
    with PILImageModule.open(out) as back:
        assert back.mode == "L" and back.tobytes() == raw
    assert load_image(out) == img


def test_rgb_png_round_trip_is_exact(tmp_path: Path) -> None:
    raw = random_bytes(4 * 6 * 3, seed=2)
    src = write_pil(tmp_path / "c.png", PILImageModule.frombytes("RGB", (6, 4), raw))
    img = load_image(src)
    assert img.mode == "RGB" and img.shape == (4, 6)
    assert img.channels[1].data == tuple(k / 255 for k in raw[1::3])
    out = tmp_path / "c2.png"
    save_png(out, img)
    with PILImageModule.open(out) as back:
        assert back.mode == "RGB" and back.tobytes() == raw


def test_save_clips_and_rounds(tmp_path: Path) -> None:
    img = gray([[-0.5, 0.0, 1.0 / 510 - 1e-9, 1.0 / 510 + 1e-9, 1.0, 7.0, math.inf]])
    out = tmp_path / "clip.png"
    save_png(out, img)
    with PILImageModule.open(out) as back:
        assert list(back.tobytes()) == [0, 0, 0, 1, 255, 255, 255]
    exact = Matrix([[Fraction(1, 2), Fraction(3, 2), Fraction(-1, 3), Fraction(2, 255)]])
    assert list(to_pil(exact).tobytes()) == [128, 255, 0, 2]
    assert list(to_pil(Matrix([[0, 1, 2]])).tobytes()) == [0, 255, 255]


def test_box_downsample_is_block_mean(tmp_path: Path) -> None:
    w, h = 12, 8
    raw = random_bytes(w * h, seed=4)
    src = write_pil(tmp_path / "b.png", PILImageModule.frombytes("L", (w, h), raw))
    img = load_image(src, size=6)  # longer side 12 → 6: 2×2 blocks
    assert img.shape == (4, 6)
    for i in range(4):
        for j in range(6):
            block = [raw[(2 * i + di) * w + 2 * j + dj] for di in (0, 1) for dj in (0, 1)]
            assert img.matrix[i + 1, j + 1] == pytest.approx(sum(block) / 4 / 255, abs=1e-7)


def test_resize_keeps_aspect_ratio(tmp_path: Path) -> None:
    src = write_pil(tmp_path / "r.png", PILImageModule.new("L", (10, 7), 128))
    assert load_image(src, size=5).shape == (4, 5)  # 7·5/10 = 3.5 rounds half up
    assert load_image(src, size=20).shape == (14, 20)


def test_camera_embedded_and_recorded() -> None:
    data = resources.files("refnn.image").joinpath("data/camera.png").read_bytes()
    assert data == camera_bytes()
    text = resources.files("refnn.image").joinpath("data/camera.txt").read_text("utf-8")
    recorded = next(
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Embedded sha256:")
    )
    digest = hashlib.sha256(data).hexdigest()
    assert recorded == digest
    assert "CC0" in text and "Lav Varshney" in text
    cam = load_image()
    assert cam.shape == (256, 256) and cam.mode == "L"
    assert cam.sha256 == digest == source_sha256("camera")
    assert load_image("camera") == cam
    values = cam.matrix.data
    assert 0.0 <= min(values) < 0.1 and 0.9 < max(values) <= 1.0


def test_path_named_camera_is_a_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as info:
        load_image(tmp_path / "camera")
    assert info.value.kind == "missing"


def test_spiral() -> None:
    sp = load_image("spiral")
    assert sp.shape == (25, 25) and sp.mode == "L" and sp.sha256 is None
    values = sp.matrix.data
    assert set(values) == {0.0, 1.0}
    assert 0.35 < sum(values) / len(values) < 0.65
    assert sp == spiral()
    # arm = 1/2: a half turn moves u by 1/2, so rotating by 180° swaps 0 and 1
    m, n = sp.matrix, 25
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            if (i, j) != (13, 13):
                assert m[i, j] + m[n + 1 - i, n + 1 - j] == 1.0
    assert load_image("spiral", size=40).shape == (40, 40)


# ---------------------------------------------------------------------- modes
def test_rgba_composited_over_white(tmp_path: Path) -> None:
    im = PILImageModule.new("RGBA", (2, 1))
    im.putpixel((0, 0), (0, 0, 0, 0))
    im.putpixel((1, 0), (255, 0, 0, 255))
    img = load_image(write_pil(tmp_path / "a.png", im))
    assert img.mode == "RGB"
    assert [c.data for c in img.channels] == [(1.0, 1.0), (1.0, 0.0), (1.0, 0.0)]


def test_gray_palette_becomes_grayscale(tmp_path: Path) -> None:
    im = PILImageModule.frombytes("L", (4, 1), bytes([0, 85, 170, 255])).convert("P")
    img = load_image(write_pil(tmp_path / "p.png", im))
    assert img.mode == "L"
    assert img.matrix.data == (0.0, 85 / 255, 170 / 255, 1.0)


def test_sixteen_bit_and_bilevel(tmp_path: Path) -> None:
    im16 = PILImageModule.new("I;16", (2, 1))
    im16.putpixel((0, 0), 65535)
    im16.putpixel((1, 0), 32768)
    img = load_image(write_pil(tmp_path / "w.png", im16))
    assert img.matrix.data == (1.0, pytest.approx(32768 / 65535, rel=1e-7))
    bw = PILImageModule.new("1", (3, 1), 0)
    bw.putpixel((1, 0), 1)
    assert load_image(write_pil(tmp_path / "b.pbm", bw, "PPM")).matrix.data == (0.0, 1.0, 0.0)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    raw = bytes(range(0, 6 * 40, 40))  # 3 wide, 2 tall
    im = PILImageModule.frombytes("L", (3, 2), raw)
    exif = PILImageModule.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90° clockwise
    img = load_image(write_pil(tmp_path / "o.png", im, exif=exif))
    assert img.shape == (3, 2)
    expected = im.transpose(PILImageModule.Transpose.ROTATE_270).tobytes()
    assert img.matrix.data == tuple(k / 255 for k in expected)


def test_mode_argument(tmp_path: Path) -> None:
    src = write_pil(tmp_path / "c.png", PILImageModule.new("RGB", (3, 2), (255, 0, 0)))
    assert load_image(src, mode="L").mode == "L"
    assert load_image("spiral", mode="RGB").num_channels == 3


# ---------------------------------------------------------------------- errors
def _expect(kind: str, tmp_path: Path, *args: object, **kw: object) -> ImageError:
    before = listing(tmp_path)
    with pytest.raises(ImageError) as info:
        load_image(*args, **kw)  # type: ignore[arg-type]
    assert info.value.kind == kind
    assert isinstance(info.value, RefnnError)
    assert "\n" not in str(info.value)
    assert listing(tmp_path) == before
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _expect("missing", tmp_path, tmp_path / "nope.png")
    assert "nope.png" in str(err)
    _expect("missing", tmp_path, tmp_path)  # a directory


def test_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_text("this is not a picture\n")
    err = _expect("not-an-image", tmp_path, tmp_path / "fake.png")
    assert "fake.png" in str(err)


def test_truncated_png(tmp_path: Path) -> None:
    buf = io.BytesIO()
    PILImageModule.frombytes("L", (64, 64), random_bytes(4096, 9)).save(buf, "PNG")
    (tmp_path / "t.png").write_bytes(buf.getvalue()[:200])
    _expect("not-an-image", tmp_path, tmp_path / "t.png")


def test_zero_size_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    err = _expect("empty", tmp_path, tmp_path / "empty.png")
    assert "0 bytes" in str(err)


def test_too_large_guard(tmp_path: Path) -> None:
    src = write_pil(tmp_path / "big.png", PILImageModule.new("L", (40, 30), 7))
    err = _expect("too-large", tmp_path, src, max_pixels=1000)
    assert "1200" in str(err) and "1000" in str(err)
    # a PNG must be decoded in full, so size does not lift the limit
    _expect("too-large", tmp_path, src, size=10, max_pixels=1000)
    assert load_image(src, max_pixels=1200).shape == (30, 40)
    assert MAX_PIXELS == 50_000_000


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height 8-bit gray pixels but holds no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [8000, 40000])
def test_bomb_refused_from_header(tmp_path: Path, side: int) -> None:
    # 64 and 1600 megapixels described in under 100 bytes: refused before decoding
    (tmp_path / "bomb.png").write_bytes(_png_header_only(side, side))
    err = _expect("too-large", tmp_path, tmp_path / "bomb.png")
    assert "bomb.png" in str(err)


def test_jpeg_reduced_while_decoding(tmp_path: Path) -> None:
    src = write_pil(tmp_path / "big.jpg", PILImageModule.new("L", (400, 320), 100), "JPEG")
    _expect("too-large", tmp_path, src, max_pixels=20_000)
    img = load_image(src, size=50, max_pixels=20_000)  # decoded at 1/8: 50×40
    assert img.shape == (40, 50)
    assert all(abs(v - 100 / 255) < 3 / 255 for v in img.matrix.data)


def test_bad_arguments() -> None:
    for kw in ({"size": 0}, {"size": 2.5}, {"mode": "CMYK"}, {"max_pixels": 0}):
        with pytest.raises(ImageError) as info:
            load_image("spiral", **kw)  # type: ignore[arg-type]
        assert info.value.kind == "invalid"


# ---------------------------------------------------------------------- atomic writes
def test_atomic_save_leaves_only_the_file(tmp_path: Path) -> None:
    save_png(tmp_path / "x.png", load_image("spiral"))
    assert listing(tmp_path) == ["x.png"]
    atomic_write_text(tmp_path / "notes.txt", "héllo\n")
    assert (tmp_path / "notes.txt").read_text("utf-8") == "héllo\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "notes.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert listing(tmp_path) == ["notes.txt", "x.png"]


@pytest.mark.parametrize("fail_in", ["fsync", "replace"])
def test_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous contents")

    def boom(*args: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(ImageError) as info:
        save_png(target, load_image("spiral"))
    assert info.value.kind == "write"
    monkeypatch.undo()
    assert listing(tmp_path) == ["out.png"]
    assert target.read_bytes() == b"previous contents"


def test_failed_atomic_write_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "data.bin", b"x" * 1000)
    monkeypatch.undo()
    assert listing(tmp_path) == []


def test_save_nan_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as info:
        save_png(tmp_path / "nan.png", gray([[0.5, math.nan]]))
    assert info.value.kind == "invalid"
    assert listing(tmp_path) == []


def test_save_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as info:
        save_png(tmp_path / "no" / "such" / "dir.png", load_image("spiral"))
    assert info.value.kind == "write"
    assert listing(tmp_path) == []


# ---------------------------------------------------------------------- grids
def test_coordinate_grid_square() -> None:
    g = coordinate_grid(4, 4)
    assert g.shape == (16, 2)
    centres = [-0.75, -0.25, 0.25, 0.75]
    assert [g[k, 1] for k in range(1, 5)] == centres  # x along the first row
    assert [g[4 * k + 1, 2] for k in range(4)] == centres  # y down the first column
    assert g[1, 1] == -0.75 and g[1, 2] == -0.75  # top-left pixel
    assert g[16, 1] == 0.75 and g[16, 2] == 0.75  # bottom-right pixel
    assert all(-1 < v < 1 for v in g.data)


def test_coordinate_grid_spacing_and_aspect() -> None:
    h, w = 3, 8
    g = coordinate_grid(h, w)
    xs = [g[j, 1] for j in range(1, w + 1)]
    ys = [g[(i - 1) * w + 1, 2] for i in range(1, h + 1)]
    assert all(b - a == pytest.approx(2 / w) for a, b in pairwise(xs))
    assert all(b - a == pytest.approx(2 / w) for a, b in pairwise(ys))
    assert xs[0] == -xs[-1] == -(1 - 1 / w)
    assert ys == [-0.25, 0.0, 0.25]
    assert coordinate_grid(1, 1).data == (0.0, 0.0)
    with pytest.raises(ShapeError):
        coordinate_grid(0, 3)


def test_targets_round_trip() -> None:
    rng = random.Random(6)
    chans = tuple(Matrix.from_flat(3, 4, [rng.random() for _ in range(12)]) for _ in range(3))
    img = Image(chans)
    t = image_to_targets(img)
    assert t.shape == (12, 3)
    assert t[6, 2] == chans[1][2, 2]  # pixel (2, 2) is row (2 − 1)·4 + 2
    assert prediction_to_image(t, 3, 4) == img
    g = load_image("spiral")
    assert prediction_to_image(image_to_targets(g), 25, 25) == g
    with pytest.raises(ShapeError):
        prediction_to_image(t, 4, 4)


def test_fourier_features() -> None:
    coords = Matrix([[0.25, 0.0], [0.0, 0.5]])
    b = Matrix([[1.0, 0.0], [0.0, 1.0]])
    f = nn.FourierFeatures(b).apply((), coords)
    assert f.shape == (2, 4)
    expected = [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, -1.0]]  # [sin | cos] of 2π·XB
    for i in range(2):
        for j in range(4):
            assert f[i + 1, j + 1] == pytest.approx(expected[i][j], abs=1e-15)
    bm = gaussian_fourier_matrix(8, 1.0, 42)
    assert bm.shape == (2, 8) and bm == gaussian_fourier_matrix(8, 1.0, random.Random(42))
    feats = nn.FourierFeatures(bm).apply((), coordinate_grid(3, 3))
    for row in feats.rows():
        for s, c in zip(row[:8], row[8:], strict=True):
            assert s * s + c * c == pytest.approx(1.0, abs=1e-14)


# ---------------------------------------------------------------------- pictures
def test_comparison_image() -> None:
    cam = load_image(size=32)
    pic = comparison_image(cam, cam, labels=False, gap=8)
    assert pic.mode == "RGB" and pic.size == (3 * 256 + 4 * 8, 256 + 2 * 8)
    value = round(cam.matrix[1, 1] * 255)
    assert pic.getpixel((8 + 3, 8 + 3)) == (value, value, value)  # original, top-left pixel
    assert pic.getpixel((8 + 256 + 8 + 3, 8 + 3)) == (value, value, value)
    assert pic.getpixel((8 + 2 * 264 + 100, 8 + 100)) == heat_colour(0.0) == (0, 0, 0)
    worse = Image((cam.matrix.map(lambda v: 1.0 - v),))
    labelled = comparison_image(cam, worse)
    assert labelled.size[1] > 256
    assert heat_colour(1.0) == (255, 255, 255)
    assert sum(heat_colour(0.4)) < sum(heat_colour(0.7))


def test_curve_image(tmp_path: Path) -> None:
    steps = list(range(0, 500, 10))
    values = [10 + 15 * (1 - math.exp(-s / 100)) for s in steps]
    values[-1] = math.inf
    pic = curve_image(steps, values, extra=[("held-out", steps, values)], baselines=[("b", 20)])
    assert pic.size == (720, 440) and pic.mode == "RGB"
    save_png(tmp_path / "curve.png", pic)
    assert listing(tmp_path) == ["curve.png"]
    with pytest.raises(ImageError):
        curve_image([1, 2], [math.nan, math.inf])
    with pytest.raises(ShapeError):
        curve_image([1, 2], [3.0])


def test_to_pil_rejects_wrong_channel_count() -> None:
    m = Matrix([[0.0]])
    with pytest.raises(ImageError):
        Image((m, m))
    with pytest.raises(ShapeError):
        Image((m, Matrix([[0.0, 1.0]]), m))
    assert to_pil(m).size == (1, 1)


# ---------------------------------------------------------------------- without Pillow
def test_missing_pillow_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(MissingPillowError, match=r'pip install "refnn\[image\]"'):
        load_image("camera")
    assert load_image("spiral").shape == (25, 25)  # generated: no Pillow needed


def test_core_imports_without_pillow() -> None:
    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "import refnn, refnn.image\n"
        "print(refnn.image.psnr(refnn.image.spiral(), refnn.image.spiral()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "inf"
