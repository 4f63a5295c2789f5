"""The ``refnn`` command: ``refnn reconstruct``, ``refnn conform``, ``refnn vectors``.

Errors a user can cause (a bad image, an unwritable folder, a corrupt checkpoint, a
diverging run) print one line on stderr and exit with a non-zero code, without a traceback:

====  ==========================================================
code  meaning
====  ==========================================================
0     success
1     the run failed (training diverged)
2     bad input: arguments, image, output folder, checkpoint
130   interrupted (Ctrl-C); a checkpoint was saved
====  ==========================================================
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from refnn import __version__

__all__ = ["main"]


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return v


def _reconstruct_parser(sub: Any) -> None:
    from refnn.reconstruct import MODELS

    defaults = ", ".join(f"{m} {w}×{d} lr {lr:g}" for m, (w, d, lr) in MODELS.items())
    p = sub.add_parser(
        "reconstruct",
        help="train a network to reconstruct an image from its pixel coordinates",
        description=(
            "Train a coordinate network f(x, y) → pixel value on an image and write "
            "original.png, reconstruction.png, comparison.png (original | reconstruction | "
            "error), curve.png (PSNR against step), metrics.json, params.json and "
            "checkpoint.json into --out. With no arguments: the embedded 'camera' photograph "
            "at 32×32, a SIREN, Adam, about two to three minutes on two cores."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "image", nargs="?", default=None,
        help="an image file Pillow reads (PNG, JPEG, PGM, …), 'camera' (the embedded "
        "photograph, the default) or 'spiral' (the article's 25×25 binary spiral)",
    )
    p.add_argument("--image", dest="image_opt", default=None, metavar="IMAGE",
                   help="the same as the positional IMAGE")
    p.add_argument("--size", type=_positive_int, default=None,
                   help="resize so the longer side is N pixels (box filter); default 32, "
                   "or 25 for the spiral")
    p.add_argument("--model", choices=["siren", "fourier", "relu", "tanh", "article"],
                   default="siren",
                   help="siren: sine layers (ω₀=30, SIREN init); fourier: Gaussian Fourier "
                   "features + ReLU MLP; relu/tanh: plain MLPs; article: the article's "
                   "2→64→64→128→64→32→1 tanh network, sigmoid output, cross-entropy")
    p.add_argument("--width", type=_positive_int, default=None,
                   help=f"units per hidden layer (defaults: {defaults})")
    p.add_argument("--depth", type=_positive_int, default=None, help="number of hidden layers")
    p.add_argument("--steps", type=_positive_int, default=800, help="training steps")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="Adam learning rate (default depends on the model)")
    p.add_argument("--lr-decay", type=_positive_float, default=0.1, metavar="F",
                   help="cosine decay of the learning rate from --lr to F·lr over the run "
                   "(1: constant)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="pixels per step, drawn at random (default: all training pixels)")
    p.add_argument("--seed", type=int, default=0, help="fixes every random choice")
    p.add_argument("--omega0", type=_positive_float, default=30.0, help="SIREN's ω₀")
    p.add_argument("--holdout", action="store_true",
                   help="train on a checkerboard half of the pixels and report PSNR on the "
                   "other half (with the neighbour-average baseline beside it)")
    p.add_argument("--out", default=None,
                   help="output folder (default: runs/<image>-<model>-<seed>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --out/checkpoint.json (same settings) to the result an "
                   "uninterrupted run gives, bit for bit")
    p.add_argument("--checkpoint-every", type=_positive_int, default=100,
                   help="write checkpoint.json every K steps")
    p.add_argument("--max-pixels", type=_positive_int, default=None,
                   help="refuse images with more pixels than this (decompression-bomb guard)")
    p.add_argument("--backend", default="reference",
                   help="'reference' (pure Python, the default) or 'numpy'")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_reconstruct)


def _fail(message: str, code: int) -> int:
    print(f"refnn: error: {message}", file=sys.stderr)
    return code


def _run_reconstruct(args: argparse.Namespace) -> int:
    from refnn.errors import RefnnError, TrainingDiverged
    from refnn.image import MAX_PIXELS
    from refnn.reconstruct import Interrupted, ReconstructConfig, reconstruct

    if args.backend == "numpy":
        # Many BLAS threads on few cores slow these small products down by orders of
        # magnitude (measured: 0.6 ms single-threaded vs 200 ms contended for 32×4096 @
        # 4096×32); the command owns its process, so it asks for one thread unless told.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    if args.image is not None and args.image_opt is not None and args.image != args.image_opt:
        return _fail("give the image once: either IMAGE or --image", 2)
    image = args.image if args.image is not None else args.image_opt
    size = args.size if args.size is not None else (25 if image == "spiral" else 32)
    cfg = ReconstructConfig(
        image=image, size=size, model=args.model, width=args.width, depth=args.depth,
        steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        holdout=args.holdout, omega0=args.omega0, checkpoint_every=args.checkpoint_every,
        max_pixels=args.max_pixels or MAX_PIXELS, backend=args.backend,
        lr_decay=args.lr_decay,
    )
    bar: Any = None
    progress = None
    if not args.quiet:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=cfg.steps, file=sys.stderr, unit="step", dynamic_ncols=True)

            def progress(step: int, loss: float, psnr: float) -> None:
                bar.update(step - bar.n)
                if step % 10 == 0 or step == cfg.steps:
                    bar.set_postfix(loss=f"{loss:.3g}", psnr=f"{psnr:.2f} dB", refresh=False)
    try:
        result = reconstruct(cfg, args.out, resume=args.resume, progress=progress)
    except Interrupted as exc:
        return _fail(str(exc), 130)
    except KeyboardInterrupt:  # outside the training loop: nothing half-written to report
        return _fail("interrupted", 130)
    except TrainingDiverged as exc:
        return _fail(str(exc), 1)
    except (RefnnError, ValueError, OSError) as exc:
        return _fail(str(exc), 2)
    finally:
        if bar is not None:
            bar.close()
    m = result.metrics
    line = f"PSNR {m['psnr_db']:.2f} dB, SSIM {m['ssim']:.3f}"
    if "holdout_psnr_db" in m:
        line += (f"; held-out PSNR {m['holdout_psnr_db']:.2f} dB (neighbour average "
                 f"{m['holdout_neighbour_baseline_db']:.2f} dB)")
    if "pixel_accuracy" in m:
        line += f"; pixel accuracy {100 * m['pixel_accuracy']:.1f}%"
    print(f"{line}; {m['n_params']} parameters, {m['n_pixels']} pixels, {m['steps']} steps "
          f"in {m['seconds']:.0f} s")
    print(f"results in {result.out}")
    return 0


def _add_passthrough(sub: Any, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=None, passthrough=name)


_HARNESS_COMMANDS = ("conform", "accuracy", "vectors")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``refnn`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _HARNESS_COMMANDS:
        # conform / accuracy / vectors parse their own arguments (--help and options in
        # any order included): hand them the rest of the line untouched
        from refnn.conformance import cli as ccli

        try:
            return int(ccli.COMMANDS[argv[0]](argv[1:]))
        except SystemExit as exit_:
            return int(exit_.code or 0)
    if argv[:1] == ["explain"]:  # its options are its own (see refnn/explain.py)
        from refnn.explain import main as explain_main

        return explain_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="refnn",
        description="refnn: a symbolic-checked reference neural-network library.",
    )
    parser.add_argument("--version", action="version", version=f"refnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _reconstruct_parser(sub)
    _add_passthrough(sub, "conform", "hold a backend against the reference, op by op")
    _add_passthrough(sub, "accuracy", "each op's worst error per backend, side by side")
    _add_passthrough(sub, "vectors", "export golden vectors (refnn vectors export DIR)")
    _add_passthrough(sub, "explain", "watch backpropagation: a 2-layer network, op by op")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    passthrough = getattr(args, "passthrough", None)
    if passthrough is not None:
        from refnn.conformance import cli as ccli

        run = ccli.conform_main if passthrough == "conform" else ccli.vectors_main
        return run(list(args.rest))
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
