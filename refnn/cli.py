"""The ``refnn`` command: ``refnn reconstruct``, ``refnn render``, ``refnn conform``,
``refnn vectors``.

Errors a user can cause (a bad image, an unwritable folder, a corrupt checkpoint, a
diverging run) print one line on stderr and exit with a non-zero code, without a traceback.
``reconstruct`` validates every input before it draws a progress bar or writes a file; a
warning a library gives on the way (Pillow's DecompressionBombWarning, NumPy's overflow
RuntimeWarning while a run diverges) is folded into that one line, and a control character
in a message (a file name with a newline) is shown escaped:

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
import warnings
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
    # Every choice and default comes from refnn.reconstruct: the model table, the image
    # sizes and the configuration's field defaults (an option's dest is the field's name).
    # None means "the API decides"; its help says what that is.
    from refnn.reconstruct import IMAGE_SIZES, ReconstructConfig

    d = ReconstructConfig()
    size = IMAGE_SIZES[None]
    p = sub.add_parser(
        "reconstruct",
        help="train a network to reconstruct an image from its pixel coordinates",
        description=(
            "Train a coordinate network f(x, y) → pixel value on an image and write "
            "original.png, reconstruction.png, comparison.png (original | reconstruction | "
            "error), curve.png (PSNR against step), metrics.json, params.json and "
            f"checkpoint.json into --out. With no arguments: the embedded 'camera' photograph "
            f"at {size}×{size}, a {d.model.upper()}, Adam, about one to two minutes on two "
            "cores."
        ),
    )
    p.add_argument(
        "image",
        nargs="?",
        default=None,
        help="an image file Pillow reads (PNG, JPEG, PGM, …), 'camera' (the embedded "
        "photograph, the default) or 'spiral' (the article's binary spiral)",
    )
    p.add_argument(
        "--image",
        dest="image_opt",
        default=None,
        metavar="IMAGE",
        help="the same as the positional IMAGE",
    )
    sizes = ", ".join(f"{n} for the {k}" for k, n in IMAGE_SIZES.items() if k is not None)
    p.add_argument(
        "--size",
        type=_positive_int,
        default=d.size,
        metavar="N",
        help=f"resize so the longer side is N pixels (box filter); default {size} ({sizes})",
    )
    _model_options(p, d)
    _run_options(p, d)
    _render_option(p, d)
    p.set_defaults(func=_run_reconstruct)

    def one_line_usage_error(message: str) -> None:  # argparse prints usage + error: 2 lines
        p.exit(2, f"refnn: error: {_one_line(message)} (see refnn reconstruct --help)\n")

    p.error = one_line_usage_error


def _model_options(p: Any, d: Any) -> None:
    from refnn.reconstruct import MODELS

    p.add_argument(
        "--model",
        choices=list(MODELS),
        default=d.model,
        help="; ".join(f"{name}: {spec.summary}, for {spec.suits}" for name, spec in MODELS.items())
        + " (default: %(default)s)",
    )
    defaults = ", ".join(
        f"{m} {s.width}×{s.depth} lr {s.lr:g} {s.steps} steps" for m, s in MODELS.items()
    )
    p.add_argument(
        "--width",
        type=_positive_int,
        default=d.width,
        help=f"units per hidden layer (defaults: {defaults})",
    )
    p.add_argument(
        "--depth",
        type=_positive_int,
        default=d.depth,
        help="number of hidden layers (default: the model's, as for --width)",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=d.lr,
        help="Adam's learning rate (default: the model's, as for --width)",
    )
    p.add_argument(
        "--omega0",
        type=_positive_float,
        default=d.omega0,
        help="SIREN's ω₀, the scale of its first layer's frequencies (default: %(default)s); "
        "with --holdout, --width 24 --depth 2 --lr 4e-3 --omega0 5 --lr-decay 1 --steps 2000 "
        "predicts the held-out pixels "
        "better than the neighbour average on the 32×32 camera (benchmarks/holdout.py)",
    )


def _run_options(p: Any, d: Any) -> None:
    # one add_argument per training option, in --help order: a list, longer than 60
    # lines only because the formatter gives each call several lines
    from refnn.reconstruct import CHECKPOINT_SECONDS

    p.add_argument(
        "--steps",
        type=_positive_int,
        default=d.steps,
        help="training steps (default: the model's, as for --width)",
    )
    p.add_argument(
        "--lr-decay",
        type=_positive_float,
        default=d.lr_decay,
        metavar="F",
        help="cosine decay of the learning rate from --lr to F·lr over the run "
        "(1: constant; default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=d.batch_size,
        help="pixels per step, drawn at random (default: all training pixels)",
    )
    p.add_argument(
        "--seed", type=int, default=d.seed, help="fixes every random choice (default: %(default)s)"
    )
    p.add_argument(
        "--holdout",
        action="store_true",
        default=d.holdout,
        help="train on a checkerboard half of the pixels and report PSNR on the "
        "other half (with the neighbour-average baseline beside it)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder, new or empty (default: runs/<image>-<model>-<seed>, "
        "or the next free <…>-2, <…>-3: a run never replaces another)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from --out/checkpoint.json (same settings) to the result an "
        "uninterrupted run gives, bit for bit (default --out: the latest run)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the run in --out, or write into a folder that is not a refnn run",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=d.checkpoint_every,
        metavar="K",
        help="write checkpoint.json every K steps (default: every "
        f"{CHECKPOINT_SECONDS:.0f} s of training)",
    )
    p.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=d.max_pixels,
        metavar="N",
        help="refuse images with more pixels than this, a decompression-bomb guard "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--backend",
        default=d.backend,
        help="where the training runs: 'reference' (pure Python, the default), "
        "'numpy', 'torch' (PyTorch float64, if installed) or "
        "'package.module:object'; the results are measured on the reference",
    )
    p.add_argument(
        "--device",
        default=d.device,
        help="with --backend torch: where to train, 'cpu' (the default), 'cuda', 'cuda:N' "
        "or 'mps' (float32, the device has no float64); the same command on a GPU",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _render_option(p: Any, d: Any) -> None:
    p.add_argument(
        "--render-size",
        type=_positive_int,
        default=d.render_size,
        metavar="N",
        help="also write render.png, the trained network sampled with N pixels along the "
        "longer side (on --backend), and render_comparison.png beside a bicubic upscale "
        "(see refnn render --help: interpolation, not new detail)",
    )


def _one_line(text: str) -> str:
    """``text`` with its control characters (a newline in a file name) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _fail(message: str, code: int, caught: Sequence[warnings.WarningMessage] = ()) -> int:
    print(f"refnn: error: {_one_line(message)}{_warned(caught)}", file=sys.stderr)
    return code


def _warned(caught: Sequence[warnings.WarningMessage]) -> str:
    """The distinct warnings libraries gave, as the tail of an error line."""
    seen = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if not seen:
        return ""
    more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
    return f" [warned on the way: {seen[0]}{more}]"


def reconstruct_config(args: argparse.Namespace) -> Any:
    """The :class:`~refnn.reconstruct.ReconstructConfig` of parsed ``reconstruct`` options:
    each configuration field takes the option of its name (fields without an option keep
    their defaults). Raises ``ValueError`` if the image is given twice, differently."""
    import dataclasses

    from refnn.reconstruct import ReconstructConfig

    if args.image is not None and args.image_opt is not None and args.image != args.image_opt:
        raise ValueError("give the image once: either IMAGE or --image")
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(ReconstructConfig)
        if hasattr(args, f.name)
    }
    given["image"] = args.image if args.image is not None else args.image_opt
    return ReconstructConfig(**given)


def _progress_bar(steps: int, quiet: bool) -> tuple[Any, Any]:
    """(a tqdm bar or None, the progress hook that updates it or None)."""
    if quiet:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=steps, file=sys.stderr, unit="step", dynamic_ncols=True)

    def progress(step: int, loss: float, psnr: float) -> None:
        bar.update(step - bar.n)
        if step % 10 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss:.3g}", psnr=f"{psnr:.2f} dB", refresh=False)

    return bar, progress


def _run_reconstruct(args: argparse.Namespace) -> int:
    if args.backend in ("numpy", "torch"):
        # Many BLAS threads on few cores slow these small products down by orders of
        # magnitude (measured: 0.6 ms single-threaded vs 200 ms contended for 32×4096 @
        # 4096×32); PyTorch's two intra-op threads made 60 steps at 256×256 2.3× slower on
        # 2 cores under a load of 3.5, and only 1.4× faster on the same cores less loaded
        # (benchmarks/large_images.py); the command owns its process, so it asks for one
        # thread unless told.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = _reconstruct_command(args, caught)
    if code == 0 and caught:  # a finished run: show what the libraries said, one line each
        for line in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
            print(f"refnn: warning: {_one_line(line)}", file=sys.stderr)
    return code


def _reconstruct_command(
    args: argparse.Namespace, caught: Sequence[warnings.WarningMessage]
) -> int:
    from refnn.errors import RefnnError, TrainingDiverged
    from refnn.reconstruct import Interrupted, prepare

    bar = None
    try:
        cfg = reconstruct_config(args)
        plan = prepare(cfg, args.out, resume=args.resume, force=args.force)
        say = _Say(args.quiet)
        for line in plan.notes():
            say(_one_line(line))
        bar, progress = _progress_bar(plan.steps, args.quiet)
        say.bar = bar
        result = plan.run(progress, None if args.quiet else say)
    except Interrupted as exc:
        return _fail(str(exc), 130, caught)
    except KeyboardInterrupt:  # outside the training loop: nothing half-written to report
        return _fail("interrupted", 130, caught)
    except TrainingDiverged as exc:
        return _fail(str(exc), 1, caught)
    except MemoryError:
        return _fail("out of memory: use a smaller --size or a --batch-size", 1, caught)
    except (RefnnError, ValueError, OSError) as exc:
        return _fail(str(exc), 2, caught)
    finally:
        if bar is not None:
            bar.close()
    print(_summary(result.metrics))
    print(f"results in {result.out}")
    return 0


class _Say:
    """Prints a line on stdout (through the progress bar when there is one)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)


def _summary(m: dict[str, Any]) -> str:
    line = f"PSNR {m['psnr_db']:.2f} dB, SSIM {m['ssim']:.3f}"
    if "holdout_psnr_db" in m:
        line += (
            f"; held-out PSNR {m['holdout_psnr_db']:.2f} dB (neighbour average "
            f"{m['holdout_neighbour_baseline_db']:.2f} dB)"
        )
    if "pixel_accuracy" in m:
        line += f"; pixel accuracy {100 * m['pixel_accuracy']:.1f}%"
    if "full_accuracy_steps" in m:
        line += (
            f" (every pixel right after {m['full_accuracy_steps']} steps, "
            f"{m['full_accuracy_seconds']:.1f} s)"
        )
    return (
        f"{line}; {m['n_params']} parameters, {m['n_pixels']} pixels, {m['steps']} steps "
        f"in {m['seconds']:.0f} s"
    )


def _render_parser(sub: Any) -> None:
    from refnn.render import MAX_RENDER_SIZE, RENDER_FILES

    p = sub.add_parser(
        "render",
        help="sample a trained run's network at any resolution",
        description=(
            f"Evaluate the network of a finished (or checkpointed) refnn reconstruct run on "
            f"a finer grid and write {RENDER_FILES[0]} and {RENDER_FILES[1]} (a bicubic "
            "upscale of the training image | the render, at the same size). The render is "
            "the network's continuous function sampled between the training pixels: an "
            "interpolation learned from them, shaped by the model (a SIREN shows ripples), "
            "NOT new detail; compare it with the bicubic upscale. At the training size it "
            "is the run's reconstruction.png. A run interrupted before its end is rendered "
            "from its checkpoint."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the folder of a refnn reconstruct run")
    p.add_argument(
        "--size",
        type=_positive_int,
        required=True,
        metavar="N",
        help=f"pixels along the longer side of the training image (the other side keeps "
        f"the aspect ratio); at most {MAX_RENDER_SIZE}: time and memory grow as N²",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="the folder to write the two files into (default: RUN_DIR; created if missing)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace files of those names that refnn render did not write (an earlier "
        "render is always replaced)",
    )
    p.add_argument(
        "--backend",
        default="reference",
        help="where the network is evaluated: 'reference' (pure Python, the default, "
        "about 0.1 ms a pixel for the default SIREN), 'numpy' (much faster), 'torch', or "
        "'package.module:object'",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_render)

    def one_line_usage_error(message: str) -> None:
        p.exit(2, f"refnn: error: {_one_line(message)} (see refnn render --help)\n")

    p.error = one_line_usage_error


def _run_render(args: argparse.Namespace) -> int:
    from refnn.errors import RefnnError
    from refnn.render import render_run

    if args.backend == "numpy":  # as for reconstruct: one BLAS thread unless told
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    bars, progress = _rows_bar(args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = render_run(
                args.run_dir,
                args.size,
                out=args.out,
                force=args.force,
                backend=args.backend,
                progress=progress,
            )
        except KeyboardInterrupt:
            return _fail("interrupted", 130, caught)
        except MemoryError:
            return _fail("out of memory: use a smaller --size", 1, caught)
        except (RefnnError, ValueError, OSError) as exc:
            return _fail(str(exc), 2, caught)
        finally:
            for bar in bars:
                bar.close()
    h, w = result.shape
    print(
        f"rendered {result.run.config.model} (step {result.run.step}, trained at "
        f"{result.run.image.width}×{result.run.image.height}) at {w}×{h}: "
        + ", ".join(str(f) for f in result.files)
    )
    return 0


def _rows_bar(quiet: bool) -> tuple[list[Any], Any]:
    """(a list holding the tqdm bar over the render's rows once the first rows are
    done, the progress hook that draws it, or None): no bar before the checks pass."""
    bars: list[Any] = []
    if quiet:
        return bars, None
    try:
        from tqdm import tqdm
    except ImportError:
        return bars, None

    def progress(done: int, rows: int) -> None:
        if not bars:
            bars.append(tqdm(total=rows, file=sys.stderr, unit="row", dynamic_ncols=True))
        bars[0].update(done - bars[0].n)

    return bars, progress


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
    _render_parser(sub)
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
