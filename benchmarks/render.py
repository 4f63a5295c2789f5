"""Rendering a trained run at a higher resolution: what it gains, and what it costs.

Part 1 (what it shows). Trains each model on the embedded camera photograph box-resized to
32×32 (``refnn reconstruct``'s defaults, on the numpy backend), renders the network at the
photograph's own 256×256 with ``refnn.render`` and scores that render, and Pillow's
bicubic upscale of the same 32×32 training image, against the real 256×256 photograph
(PSNR). The render has no information the 32×32 pixels lacked: it is an interpolation,
and this says how it compares with bicubic's.

Part 2 (what it costs). Renders the SIREN run at ``--time-size`` on the reference and the
numpy backend, each in a fresh process as ``refnn render`` runs (GC on, as a user gets
it), and prints the wall-clock time, the time per pixel, the ratio of the two backends
and each process's peak resident memory.

    python benchmarks/render.py                      # default steps, 256 render, 1024 timing
    python benchmarks/render.py --steps 5 --size 8 --render 16 --time-size 16   # smoke test
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import load_line, loadavg  # noqa: E402

from refnn.image import from_pil, load_image, psnr, to_pil  # noqa: E402
from refnn.reconstruct import ReconstructConfig, reconstruct  # noqa: E402
from refnn.render import load_run, render_pixels  # noqa: E402

MODELS = ("siren", "fourier", "relu")

CHILD = """
import resource, sys, time
from refnn.render import render_run
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
render_run(sys.argv[1], int(sys.argv[2]), out=sys.argv[3], backend=sys.argv[4])
seconds = time.perf_counter() - t0
print(seconds, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def quality(folder: Path, n: int) -> tuple[float, float]:
    """(render-vs-truth PSNR, bicubic-vs-truth PSNR) of the run in ``folder`` rendered at
    ``n``, the truth being the camera box-resized to ``n`` (at 256: the photograph)."""
    from PIL import Image as PILImage

    run = load_run(folder)
    truth = load_image("camera", size=n)
    rendered = from_pil(render_pixels(run.config, run.params, run.image, n))
    h, w = truth.shape
    bicubic = from_pil(to_pil(run.image).resize((w, h), PILImage.Resampling.BICUBIC))
    return psnr(rendered, truth), psnr(bicubic, truth)


def timing(folder: Path, n: int, backend: str, out: Path) -> tuple[float, int, int]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(n), str(out), backend],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, before, peak = proc.stdout.split()
    return float(seconds), int(before), int(peak)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="default: each model's own")
    ap.add_argument("--size", type=int, default=32, help="training size (default 32)")
    ap.add_argument("--render", type=int, default=256, help="render size (default 256)")
    ap.add_argument("--time-size", type=int, default=1024, help="timed render size")
    args = ap.parse_args()
    load_before = loadavg()
    print(load_line("before"))
    print(
        f"\ncamera trained at {args.size}×{args.size} "
        f"({args.steps or 'the models’ default'} steps, numpy backend), "
        f"rendered at {args.render}×{args.render}; PSNR against the camera at "
        f"{args.render}×{args.render}\n"
    )
    print("| model | train PSNR (dB) | render PSNR (dB) | bicubic PSNR (dB) | render − bicubic |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            folder = Path(tmp, model)
            cfg = ReconstructConfig(size=args.size, model=model, steps=args.steps, backend="numpy")
            train = reconstruct(cfg, folder).metrics["psnr_db"]
            rendered, bicubic = quality(folder, args.render)
            print(
                f"| {model} | {train:.2f} | {rendered:.2f} | {bicubic:.2f} | "
                f"{rendered - bicubic:+.2f} dB |"
            )
        n = args.time_size
        print(f"\nrendering the siren run at {n}×{n} ({n * n} pixels), one fresh process each:")
        results = {}
        for backend in ("numpy", "reference"):
            results[backend] = timing(Path(tmp, "siren"), n, backend, Path(tmp, backend))
            seconds, before, peak = results[backend]
            print(
                f"  {backend}: {seconds:.2f} s, {seconds / (n * n) * 1e6:.2f} µs a pixel, "
                f"peak RSS {peak / 1024:.0f} MiB ({before / 1024:.0f} MiB before rendering)"
            )
        ratio = results["reference"][0] / results["numpy"][0]
        print(f"  reference / numpy: {ratio:.1f}×")
    print()
    print(load_line("after"))
    load_after, cores = loadavg(), os.cpu_count() or 1
    shared = load_before >= 0.5 or load_after >= 1.5  # this script adds about 1
    print(
        f"the machine {'was shared with other work' if shared else 'looked otherwise idle'}: "
        f"load {load_before:.2f} before and {load_after:.2f} after on {cores} cores; each "
        f"timing is a single run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
