"""Rebuild ``refnn/image/data/camera.png`` (and ``camera.txt``) from the scikit-image wheel.

The default image of ``refnn reconstruct`` is scikit-image's "camera" photograph
(CC0, by Lav Varshney). refnn does not depend on scikit-image; this script extracts the
original 512×512 8-bit grayscale PNG from a scikit-image wheel, box-downsamples it by 2
in each direction to 256×256 and writes the result as an 8-bit grayscale PNG::

    pip download --no-deps scikit-image==0.26.0 -d /tmp/skimg
    python scripts/make_camera.py /tmp/skimg/scikit_image-0.26.0-*.whl

The box filter is computed here in integer arithmetic (each output pixel is the mean of a
2×2 block, rounded half up: ``(sum + 2) // 4``), so the pixel values do not depend on the
Pillow version; only the PNG encoder (zlib) could change the bytes of the file, which is
why ``camera.txt`` also records the sha256 of the raw 256×256 pixel bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

from PIL import Image

MEMBER = "skimage/data/camera.png"
FACTOR = 2
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "refnn" / "image" / "data"


def box_downsample(pixels: bytes, width: int, height: int, factor: int) -> bytes:
    """Mean of each ``factor``×``factor`` block of an 8-bit image, rounded half up."""
    if width % factor or height % factor:
        raise SystemExit(f"{width}×{height} is not divisible by {factor}")
    area = factor * factor
    out_w = width // factor
    out = bytearray()
    for bi in range(height // factor):
        sums = [0] * out_w
        for r in range(bi * factor, (bi + 1) * factor):
            row = pixels[r * width : (r + 1) * width]
            for bj in range(out_w):
                sums[bj] += sum(row[bj * factor : (bj + 1) * factor])
        out.extend((s + area // 2) // area for s in sums)
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to a scikit-image wheel")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()

    with zipfile.ZipFile(args.wheel) as zf:
        original = zf.read(MEMBER)
    src = Image.open(io.BytesIO(original))
    src.load()
    gray = src.convert("L")
    width, height = gray.size
    small = box_downsample(gray.tobytes(), width, height, FACTOR)
    out_size = (width // FACTOR, height // FACTOR)
    result = Image.frombytes("L", out_size, small)

    buf = io.BytesIO()
    result.save(buf, format="PNG", optimize=True)
    png = buf.getvalue()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "camera.png").write_bytes(png)
    wheel_name = args.wheel.name
    text = f"""camera.png: the scikit-image "camera" photograph, reduced for refnn

Source:        {MEMBER} in the scikit-image wheel {wheel_name}
               (PyPI package scikit-image; wheel sha256 not recorded: platform-specific)
Original:      {width}×{height}, mode {src.mode}, {len(original)} bytes
Original sha256: {hashlib.sha256(original).hexdigest()}
Author:        Lav Varshney
Licence:       CC0 1.0 (public-domain dedication). scikit-image's documentation of
               skimage.data.camera states that the photographer, Lav Varshney, released
               it under CC0 with no copyright restrictions (scikit-image issue #3927).

Processing:    converted to 8-bit grayscale (it already is), box-downsampled by {FACTOR} in
               each direction (mean of each {FACTOR}×{FACTOR} block in integer arithmetic,
               rounded half up) to {out_size[0]}×{out_size[1]}, saved as an 8-bit grayscale PNG
               (Pillow, optimize=True, no metadata).
Embedded:      {out_size[0]}×{out_size[1]}, mode L, {len(png)} bytes
Embedded sha256: {hashlib.sha256(png).hexdigest()}
Pixel sha256:  {hashlib.sha256(small).hexdigest()}  (raw row-major 8-bit pixel bytes)

Command:       pip download --no-deps scikit-image==0.26.0 -d /tmp/skimg
               python scripts/make_camera.py /tmp/skimg/{wheel_name}
"""
    (args.out_dir / "camera.txt").write_text(text, encoding="utf-8")
    print(f"wrote {args.out_dir / 'camera.png'} ({len(png)} bytes)")


if __name__ == "__main__":
    main()
