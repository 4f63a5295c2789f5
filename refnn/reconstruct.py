"""Image reconstruction: train a coordinate network to redraw an image — the article's goal.

A network f maps a pixel's coordinates (x, y) ∈ (−1, 1)² to its value; trained on every
pixel (or on a checkerboard half, ``holdout=True``), it *reconstructs* the image from
``n_params < n_pixels`` numbers. Everything here is built from :mod:`refnn.nn`, the registry
ops and :func:`refnn.value_and_grad`: the proven primitives, nothing hand-differentiated.

The models are the rows of :data:`MODELS` (one :class:`ModelSpec` each: default width,
depth and rate, loss, output link, how to build it):

* ``siren`` (default): sine layers sin(ω₀(xW + b)), ω₀ = 30, SIREN initialisation
  (Sitzmann et al., 2020), linear output, MSE.
* ``fourier``: Gaussian Fourier features [sin(2π·xB), cos(2π·xB)] (B ~ N(0, σ²), σ = 1)
  followed by a ReLU MLP (Tancik et al., 2020).
* ``relu`` / ``tanh``: plain MLPs on the raw coordinates (the baselines).
* ``article``: the article's own network 2→64→64→128→64→32→1, tanh hidden layers, sigmoid
  output and binary cross-entropy (trained on logits in the stable form).

A run (:func:`reconstruct`) has three steps: *train* (``refnn.nn``'s one training loop,
:func:`refnn.nn.train.train_loop`, with hooks for progress, checkpoints and Ctrl-C),
*measure* (PSNR, SSIM, held-out PSNR) and *write* (``original.png``,
``reconstruction.png``, ``comparison.png``, ``curve.png``, ``metrics.json``, ``params.json``
and ``checkpoint.json``, every file atomically). A checkpoint (:class:`RunState`) is written
every ``checkpoint_every`` steps (default: every :data:`CHECKPOINT_SECONDS` seconds of
training) and when the run is interrupted; ``resume=True``
continues from it to a result bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refnn import __version__, nn, ops
from refnn.atomic import FolderLock, read_regular_file, remove_stale_temporaries, write_set
from refnn.errors import RefnnError
from refnn.image import (
    MAX_PIXELS,
    Image,
    ImageInfo,
    atomic_write_text,
    comparison_image,
    coordinate_grid,
    curve_image,
    gaussian_fourier_matrix,
    image_to_targets,
    load_image,
    prediction_to_image,
    probe_image,
    ssim,
    to_pil,
)
from refnn.matrix import Matrix
from refnn.nn.optim import LearningRate, learning_rate_at
from refnn.nn.serialize import (
    ParamsFormatError,
    decode_tree,
    encode_tree,
    params_json,
    strict_json,
)
from refnn.nn.train import StepReport, TrainState, train_loop

__all__ = [
    "IMAGE_SIZES",
    "MODELS",
    "CheckpointError",
    "ConfigError",
    "Interrupted",
    "ModelSpec",
    "Plan",
    "ReconstructConfig",
    "ReconstructResult",
    "RunState",
    "available_memory",
    "build_model",
    "default_out",
    "default_size",
    "memory_estimate",
    "neighbour_baseline",
    "prepare",
    "reconstruct",
]

CHECKPOINT_FORMAT = "refnn-reconstruct-checkpoint"
CHECKPOINT_VERSION = 1


class ConfigError(RefnnError, ValueError):
    """A reconstruction setting is out of range, or a configuration is used unresolved."""


class CheckpointError(RefnnError, ValueError):
    """A checkpoint is missing, corrupt, or belongs to a different run."""


class Interrupted(RefnnError):
    """Training was interrupted (Ctrl-C); a checkpoint of the last finished step was saved."""

    def __init__(self, step: int, out: Path) -> None:
        super().__init__(
            f"interrupted after step {step}; checkpoint saved in {out}: continue with --resume"
        )
        self.step = step
        self.out = out


# ------------------------------------------------------------------------ the model table
Builder = Callable[["ReconstructConfig", int, int, int], nn.Sequential]


@dataclass(frozen=True)
class ModelSpec:
    """One row of :data:`MODELS`: a model's defaults (width, depth, Adam's rate and the
    step budget) and what training it means.

    ``build(config, width, depth, channels)`` makes the network from 2 coordinates to
    ``channels`` outputs. ``loss(output, targets)`` is minimised; ``link`` turns the
    network's output into pixel values (``None``: the output is the pixel values).
    ``settings`` names the further configuration fields the model reads (recorded in
    ``metrics.json``); ``suits`` says which images it is for (the command's ``--help``).
    ``fixed_layers``: the layer sizes are part of the model, so width and
    depth are what the table says and cannot be changed.
    """

    summary: str
    width: int
    depth: int
    lr: float
    build: Builder
    steps: int = 800
    loss: Callable[[Any, Any], Any] = nn.mse
    link: Callable[[Any], Any] | None = None
    settings: tuple[str, ...] = ()
    fixed_layers: bool = False
    suits: str = ""

    @property
    def loss_is_pixel_mse(self) -> bool:
        """The loss is the pixels' MSE, so a step's PSNR is read off its loss."""
        return self.loss is nn.mse and self.link is None

    def pixels(self, y: Any) -> Any:
        """The network's output ``y`` as pixel values (through :attr:`link`)."""
        return y if self.link is None else self.link(y)


def _siren(cfg: ReconstructConfig, width: int, depth: int, channels: int) -> nn.Sequential:
    return nn.siren(2, width, depth, channels, omega0=cfg.omega0)


def _fourier(cfg: ReconstructConfig, width: int, depth: int, channels: int) -> nn.Sequential:
    B = gaussian_fourier_matrix(cfg.fourier_features, cfg.fourier_sigma, cfg.seed + 1)
    body = nn.mlp([2 * cfg.fourier_features, *[width] * depth, channels], "relu")
    return nn.Sequential(nn.FourierFeatures(B), *body.layers)


def _mlp(activation: str) -> Builder:
    def build(cfg: ReconstructConfig, width: int, depth: int, channels: int) -> nn.Sequential:
        return nn.mlp([2, *[width] * depth, channels], activation)

    return build


ARTICLE_SIZES = (2, 64, 64, 128, 64, 32, 1)


def _article(cfg: ReconstructConfig, width: int, depth: int, channels: int) -> nn.Sequential:
    return nn.mlp([*ARTICLE_SIZES[:-1], channels], "tanh")


#: model name → its spec; the command line takes its choices and defaults from here.
MODELS: dict[str, ModelSpec] = {
    "siren": ModelSpec(
        "sine layers sin(ω₀·(xW + b)), SIREN initialisation",
        18,
        3,
        5e-3,
        _siren,
        steps=500,
        settings=("omega0",),
        suits="photographs and any detailed grayscale or colour image",
    ),
    "fourier": ModelSpec(
        "Gaussian Fourier features + ReLU MLP",
        16,
        2,
        1e-2,
        _fourier,
        settings=("fourier_features", "fourier_sigma"),
        suits="photographs, a little smoother than siren",
    ),
    "relu": ModelSpec(
        "plain ReLU MLP",
        24,
        2,
        3e-3,
        _mlp("relu"),
        suits="a baseline: it learns only a blurred image",
    ),
    "tanh": ModelSpec(
        "plain tanh MLP",
        24,
        2,
        3e-3,
        _mlp("tanh"),
        suits="a baseline: it learns only a blurred image",
    ),
    "article": ModelSpec(
        "the article's 2→64→64→128→64→32→1 tanh network, sigmoid output, cross-entropy",
        64,
        5,
        3e-3,
        _article,
        loss=nn.binary_cross_entropy_with_logits,
        link=ops.sigmoid,
        fixed_layers=True,
        suits="black-and-white images such as the spiral (its output is one probability "
        "per pixel); 23,041 parameters, about 1-2 s a step on the reference: use "
        "--backend numpy",
    ),
}

#: The longer side an image is resized to unless ``size`` says otherwise: the spiral's is
#: the article's 25; every other image's is ``IMAGE_SIZES[None]``.
IMAGE_SIZES: dict[str | None, int] = {None: 32, "spiral": 25}


def default_size(image: str | None) -> int:
    """The longer side ``image`` is resized to by default (see :data:`IMAGE_SIZES`)."""
    return IMAGE_SIZES.get(image, IMAGE_SIZES[None])


# ------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class ReconstructConfig:
    """Everything that determines a reconstruction run (``None`` = the default that
    :meth:`resolved` fills in).

    ``image``: a file path, ``"camera"`` (the embedded photograph, also ``None``) or
    ``"spiral"`` (the article's binary spiral). ``size``: the longer side after a box
    resize (default :func:`default_size`: 25 for the spiral, 32 otherwise). ``model``: a
    key of :data:`MODELS`, whose row gives the defaults of ``width`` (units per hidden
    layer), ``depth`` (hidden layers) and ``lr`` (Adam's rate). ``batch_size``: pixels per
    step (``None``: all training pixels, full-batch). ``holdout``: train on the pixels with
    i + j even and report PSNR on the others. ``lr_decay``: the learning rate follows a
    cosine from ``lr`` down to ``lr·lr_decay`` over ``steps`` (1.0: constant). ``seed``
    fixes every random choice: ``random.Random(seed)`` draws the initial parameters,
    ``seed + 1`` the Fourier-feature matrix and ``seed + 2`` the mini-batches.
    ``checkpoint_every``: write ``checkpoint.json`` every that many steps (``None``: every
    :data:`CHECKPOINT_SECONDS` seconds of training, so that saving costs little whatever a
    step costs). ``render_size``: also write ``render.png`` and ``render_comparison.png``,
    the trained network sampled at that many pixels along the longer side
    (:mod:`refnn.render`). ``device``: where the torch backend trains (``"cpu"``,
    ``"cuda"``, ``"cuda:N"`` or ``"mps"``, which has no float64 and so trains in float32;
    ``None``: the CPU), only with ``backend="torch"``. How the defaults were chosen, with
    the figures measured, is in the README.
    """

    image: str | None = None
    size: int | None = None
    model: str = "siren"
    width: int | None = None
    depth: int | None = None
    steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    holdout: bool = False
    omega0: float = 30.0
    fourier_features: int = 8
    fourier_sigma: float = 1.0
    checkpoint_every: int | None = None
    eval_every: int = 50
    max_pixels: int = MAX_PIXELS
    backend: str = "reference"
    lr_decay: float = 0.1
    render_size: int | None = None
    device: str | None = None

    @property
    def spec(self) -> ModelSpec:
        """The model's row of :data:`MODELS`."""
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        return MODELS[self.model]

    def resolved(self) -> ReconstructConfig:
        """The same configuration with every default filled in (and checked)."""
        spec = self.spec
        if spec.fixed_layers and any(
            v is not None and v != fixed
            for v, fixed in ((self.width, spec.width), (self.depth, spec.depth))
        ):
            raise ConfigError(
                f"the {self.model} model has fixed layer sizes (width {spec.width}, depth "
                f"{spec.depth} in the model table): leave width and depth unset"
            )
        out = dataclasses.replace(
            self,
            size=default_size(self.image) if self.size is None else self.size,
            width=spec.width if self.width is None else self.width,
            depth=spec.depth if self.depth is None else self.depth,
            lr=spec.lr if self.lr is None else self.lr,
            steps=spec.steps if self.steps is None else self.steps,
        )
        out._check()
        return out

    def _check(self) -> None:
        if self.checkpoint_every is not None:
            _require(
                _positive_int(self.checkpoint_every),
                "checkpoint_every must be a positive int or None",
                self.checkpoint_every,
            )
        for name in ("steps", "eval_every", "fourier_features"):
            _require(
                _positive_int(getattr(self, name)),
                f"{name} must be a positive int",
                getattr(self, name),
            )
        for name in ("width", "depth", "size"):
            _require(
                _positive_int(getattr(self, name)),
                f"--{name} must be a positive int",
                getattr(self, name),
            )
        if self.batch_size is not None:
            _require(
                _positive_int(self.batch_size),
                "--batch-size must be a positive int",
                self.batch_size,
            )
        if self.render_size is not None:
            from refnn.render import check_render_size

            check_render_size(self.render_size, "--render-size")
        _require(
            isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1,
            "lr_decay must be in (0, 1]",
            self.lr_decay,
        )
        for name in ("lr", "omega0", "fourier_sigma"):
            v = getattr(self, name)
            _require(
                isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
                f"{name} must be a positive finite number",
                v,
            )
        if self.device is not None:
            _require(isinstance(self.device, str), "--device must be a string", self.device)
            if self.backend != "torch":
                raise ConfigError(
                    f"--device {self.device} is for the torch backend: add --backend torch "
                    f"(the {self.backend} backend runs on the CPU)"
                )

    def identity(self) -> dict[str, Any]:
        """The fields a checkpoint must agree on to be resumed (all but the step budget,
        the bookkeeping intervals, the backend and its device: a checkpoint stores exact
        floats, so a run may be continued on another backend, though only the same backend
        continues bit for bit). With a decaying learning rate the step budget counts too."""
        d = dataclasses.asdict(self)
        for k in (
            "checkpoint_every",
            "eval_every",
            "max_pixels",
            "backend",
            "render_size",
            "device",
        ):
            d.pop(k)
        if self.lr_decay == 1.0:  # a decaying schedule depends on the step budget
            d.pop("steps")
        return d

    def learning_rate(self) -> LearningRate:
        """Adam's rate: ``lr``, or its cosine decay to ``lr·lr_decay`` over ``steps``."""
        lr = float(_resolved(self, "lr"))
        steps = _resolved(self, "steps")
        return lr if self.lr_decay == 1.0 else nn.cosine(lr, steps, lr * self.lr_decay)


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and v >= 1


def _require(ok: bool, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{rule}, got {value!r}")


def _resolved(cfg: ReconstructConfig, name: str) -> Any:
    v = getattr(cfg, name)
    if v is None:
        raise ConfigError(
            f"the configuration is unresolved ({name}=None): pass config.resolved(), which "
            f"fills in the model's defaults"
        )
    return v


def build_model(cfg: ReconstructConfig, channels: int) -> nn.Sequential:
    """The network of a resolved configuration (see :meth:`ReconstructConfig.resolved`),
    mapping 2 coordinates to ``channels`` values (before the model's output link).
    Raises :class:`ConfigError` for an unresolved configuration."""
    return cfg.spec.build(cfg, _resolved(cfg, "width"), _resolved(cfg, "depth"), channels)


def image_label(image: str | None) -> str:
    """A short name of the image for folder names: ``camera``, ``spiral`` or the file stem."""
    if image is None or image == "camera":
        return "camera"
    if image == "spiral":
        return "spiral"
    return Path(image).stem or "image"


@dataclass(frozen=True)
class ReconstructResult:
    """What a run produced: its metrics (as in ``metrics.json``), folder and reconstruction."""

    metrics: dict[str, Any]
    out: Path
    reconstruction: Image


# ------------------------------------------------------------------------ run state
History = dict[str, list[float]]


def _new_history() -> History:
    return {"step": [], "psnr": [], "holdout_step": [], "holdout": []}


@dataclass
class RunState:
    """Where a run stands after ``step`` finished steps: what ``checkpoint.json`` holds.

    ``config`` is the run's :meth:`ReconstructConfig.identity`, ``image_sha256`` the
    image's; ``params`` and ``adam`` hold reference matrices; ``batch_rng`` is the
    ``random.Random.getstate()`` of the mini-batch generator after the draws of the first
    ``step`` steps; ``history`` the training curve so far; ``seconds`` the training time;
    ``full_accuracy`` (images of black and white pixels, full-batch training) the
    ``(steps, seconds)`` after which every training pixel was first on the right side of ½,
    or ``None``. :meth:`to_json` and :meth:`from_json` are inverse (floats bit-exact).
    """

    config: dict[str, Any]
    image_sha256: str | None
    step: int
    params: Any
    adam: nn.AdamState
    batch_rng: tuple[Any, ...]
    history: History = field(default_factory=_new_history)
    seconds: float = 0.0
    full_accuracy: tuple[int, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The checkpoint document (JSON-ready)."""
        version, internal, gauss = self.batch_rng
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "refnn": __version__,
            "config": self.config,
            "image_sha256": self.image_sha256,
            "step": self.step,
            "seconds": self.seconds,
            "params": encode_tree(self.params),
            "adam": {
                "step": self.adam.step,
                "m": encode_tree(self.adam.m),
                "v": encode_tree(self.adam.v),
            },
            "batch_rng": [version, list(internal), gauss],
            "history": {k: [repr(x) for x in v] for k, v in self.history.items()},
            "full_accuracy": None if self.full_accuracy is None else list(self.full_accuracy),
        }

    @classmethod
    def from_json(cls, doc: Any) -> RunState:
        """The run state of a checkpoint document, validated against the checkpoint's
        schema: every field's type, range and length, and their consistency with each
        other (the curve has one entry per step; Adam's state has the parameters'
        structure and shapes and counts the same steps; the generator state is one
        ``random.Random`` accepts). :class:`CheckpointError` (its message says what is
        wrong, to follow the file's name) for anything else. Consistency with a
        configuration is :func:`_load_checkpoint`'s part."""
        if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("is not a refnn reconstruction checkpoint")
        if doc.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"has unsupported version {_short(doc.get('version'))}")
        missing = [k for k in _CHECKPOINT_KEYS if k not in doc]
        if missing:
            raise CheckpointError(f"is corrupt (it lacks {', '.join(map(repr, missing))})")
        try:
            return cls._validated(doc)
        except ParamsFormatError as exc:
            raise CheckpointError(f"is corrupt ({exc})") from None

    @classmethod
    def _validated(cls, doc: dict[str, Any]) -> RunState:
        config = _field(doc, "config", dict, "an object")
        if not all(isinstance(k, str) for k in config):
            raise _corrupt("'config' has keys that are not strings")
        sha = doc["image_sha256"]
        if sha is not None and not (
            isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
        ):
            raise _corrupt(f"'image_sha256' must be null or 64 hex digits, got {_short(sha)}")
        step = _count(doc["step"], "'step'")
        seconds = doc["seconds"]
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not (math.isfinite(seconds) and seconds >= 0)
        ):
            raise _corrupt(f"'seconds' must be a finite number ≥ 0, got {_short(seconds)}")
        params = decode_tree(doc["params"])
        adam = _field(doc, "adam", dict, "an object")
        for key in ("step", "m", "v"):
            if key not in adam:
                raise _corrupt(f"'adam' lacks {key!r}")
        if _count(adam["step"], "'adam.step'") != step:
            raise _corrupt(
                f"'adam.step' is {adam['step']} but 'step' is {step}: Adam counts the run's steps"
            )
        leaves = nn.tree_leaves(params)
        moments = []
        for key in ("m", "v"):
            moment = decode_tree(adam[key])
            if not (
                isinstance(moment, tuple)
                and all(isinstance(x, Matrix) for x in moment)
                and [x.shape for x in moment] == [x.shape for x in leaves]
            ):
                raise _corrupt(
                    f"'adam.{key}' must hold one matrix per parameter matrix, of "
                    f"the same shapes ({len(leaves)} of them)"
                )
            moments.append(moment)
        return cls(
            config=dict(config),
            image_sha256=sha,
            step=step,
            params=params,
            adam=nn.AdamState(step, moments[0], moments[1]),
            batch_rng=_rng_state(doc["batch_rng"]),
            history=_history(doc["history"], step),
            seconds=float(seconds),
            full_accuracy=_milestone(doc.get("full_accuracy"), step, float(seconds)),
        )


_CHECKPOINT_KEYS = (
    "config",
    "image_sha256",
    "step",
    "seconds",
    "params",
    "adam",
    "batch_rng",
    "history",
)
#: A step count beyond this is not a run refnn made (about 30 years at 1 ms a step).
MAX_STEPS = 10**12


def _corrupt(why: str) -> CheckpointError:
    return CheckpointError(f"is corrupt ({why})")


def _short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (a tampered field can be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(doc: dict[str, Any], key: str, kind: type, what: str) -> Any:
    value = doc[key]
    if not isinstance(value, kind):
        raise _corrupt(f"{key!r} must be {what}, got {_short(value)}")
    return value


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STEPS:
        raise _corrupt(f"{what} must be an integer from 0 to {MAX_STEPS}, got {_short(value)}")
    return value


def _rng_state(value: Any) -> tuple[Any, ...]:
    """A ``random.Random`` state ``(3, (625 words), None)`` from its JSON form."""
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and value[0] == 3
        and value[2] is None
        and isinstance(value[1], list)
        and len(value[1]) == 625
        and all(type(w) is int and 0 <= w < 2**32 for w in value[1])
        and value[1][-1] <= 624
    )
    if not ok:
        raise _corrupt(
            "'batch_rng' is not the state of a random.Random: [3, [625 words, "
            "the last ≤ 624], null]"
        )
    state = (3, tuple(value[1]), None)
    try:
        random.Random().setstate(state)
    except (TypeError, ValueError) as exc:
        raise _corrupt(f"'batch_rng' is refused by random.Random ({exc})") from None
    return state


def _milestone(value: Any, step: int, seconds: float) -> tuple[int, float] | None:
    """The optional ``full_accuracy`` entry: null (or absent, in checkpoints written
    before it existed), or ``[steps, seconds]`` within the run so far."""
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and not any(isinstance(v, bool) for v in value)
        and isinstance(value[0], int)
        and isinstance(value[1], (int, float))
        and 0 <= value[0] < step
        and math.isfinite(value[1])
        and 0 <= value[1] <= seconds
    ):
        raise _corrupt(
            f"'full_accuracy' must be null or [steps, seconds] within the run's {step} "
            f"steps and {seconds!r} s, got {_short(value)}"
        )
    return value[0], float(value[1])


def _history(value: Any, step: int) -> History:
    """The training curve, checked: the four series, numbers written as strings, one
    PSNR per step 1…``step``, held-out PSNRs at increasing steps ≤ ``step``."""
    keys = set(_new_history())
    if not isinstance(value, dict) or set(value) != keys:
        raise _corrupt(
            f"'history' must be an object with the lists {sorted(keys)}, got {_short(value)}"
        )
    out: History = {}
    for key in _new_history():
        series = value[key]
        if not isinstance(series, list) or not all(isinstance(x, str) for x in series):
            raise _corrupt(f"'history.{key}' must be a list of numbers written as strings")
        try:
            out[key] = [float(x) for x in series]
        except ValueError:
            raise _corrupt(f"'history.{key}' holds something that is not a number") from None
    if len(out["psnr"]) != step or out["step"] != [float(k) for k in range(1, step + 1)]:
        raise _corrupt(
            f"'history' must have one entry per step 1…{step}, it has "
            f"{len(out['step'])} steps and {len(out['psnr'])} PSNRs"
        )
    held = out["holdout_step"]
    if (
        len(held) != len(out["holdout"])
        or any(b <= a for a, b in itertools.pairwise(held))
        or any(not 1 <= k <= step for k in held)
    ):
        raise _corrupt(
            f"'history' has held-out PSNRs that do not match increasing steps from 1 to {step}"
        )
    return out


def _fresh_state(cfg: ReconstructConfig, image: Image, model: nn.Sequential) -> RunState:
    params = model.init(random.Random(cfg.seed))
    return RunState(
        cfg.identity(),
        image.sha256,
        0,
        params,
        nn.Adam().init(params),
        random.Random(cfg.seed + 2).getstate(),
    )


def _load_checkpoint(path: Path, fresh: RunState, cfg: ReconstructConfig) -> RunState:
    """The run state saved in ``path``, checked to continue the run that starts at
    ``fresh`` (of configuration ``cfg``)."""
    try:
        doc = strict_json(read_regular_file(path, "checkpoint file"))
    except FileNotFoundError:
        raise CheckpointError(f"--resume: no checkpoint at {path}") from None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise CheckpointError(f"--resume: {path} is not a readable checkpoint ({why})") from None
    try:
        run = RunState.from_json(doc)
    except CheckpointError as exc:
        raise CheckpointError(f"--resume: {path} {exc}") from None
    if run.config != fresh.config:
        diff = sorted(k for k, v in fresh.config.items() if run.config.get(k) != v)
        raise CheckpointError(
            f"--resume: the checkpoint in {path} belongs to a different run "
            f"(differs in: {', '.join(diff) or 'everything'})"
        )
    if run.image_sha256 != fresh.image_sha256:
        raise CheckpointError(f"--resume: the checkpoint in {path} was made from another image")
    theirs, ours = (run.params, run.adam.m, run.adam.v), (fresh.params, fresh.adam.m, fresh.adam.v)
    if not _same_shapes(theirs, ours):
        raise CheckpointError(f"--resume: {path} is corrupt (its parameters do not fit the model)")
    if run.step > _resolved(cfg, "steps"):
        raise CheckpointError(
            f"--resume: {path} is at step {run.step}, beyond --steps "
            f"{cfg.steps}: ask for at least as many steps"
        )
    if not cfg.holdout and run.history["holdout"]:
        raise CheckpointError(
            f"--resume: {path} is corrupt (held-out PSNRs in a run without --holdout)"
        )
    return run


def _same_shapes(a: Any, b: Any) -> bool:
    la, ta = nn.tree_flatten(a)
    lb, tb = nn.tree_flatten(b)
    return ta == tb and [x.shape for x in la] == [x.shape for x in lb]


# ------------------------------------------------------------------------ data and backend
@dataclass(frozen=True)
class _Data:
    """The image as training data: every pixel's coordinates and target, the rows trained
    on and the rows held out (0-based row numbers of ``coords``)."""

    image: Image
    coords: Matrix[float]
    targets: Matrix[float]
    train_rows: list[int]
    held_rows: list[int]

    @property
    def X(self) -> Matrix[float]:
        return self.coords if not self.held_rows else nn.take_rows(self.coords, self.train_rows)

    @property
    def Y(self) -> Matrix[float]:
        return self.targets if not self.held_rows else nn.take_rows(self.targets, self.train_rows)


def _load_data(cfg: ReconstructConfig) -> _Data:
    image = load_image(cfg.image, size=cfg.size, max_pixels=cfg.max_pixels)
    h, w = image.shape
    if cfg.holdout:
        train_rows, held_rows = _checkerboard(h, w)
        if not held_rows:
            raise ConfigError("--holdout needs an image of at least 2 pixels")
    else:
        train_rows, held_rows = list(range(h * w)), []
    return _Data(image, coordinate_grid(h, w), image_to_targets(image), train_rows, held_rows)


def _checkerboard(h: int, w: int) -> tuple[list[int], list[int]]:
    train = [i * w + j for i in range(h) for j in range(w) if (i + j) % 2 == 0]
    held = [i * w + j for i in range(h) for j in range(w) if (i + j) % 2 == 1]
    return train, held


@dataclass(frozen=True)
class _Converters:
    """Matrix → backend value and back, for the named backend (identities for the
    reference)."""

    to_backend: Callable[[Any], Any]
    to_matrix: Callable[[Any], Any]

    @classmethod
    def load(cls, backend: str, device: str | None = None) -> _Converters:
        if backend == "reference":
            return cls(_identity, _identity)
        from refnn import backends

        try:
            be = backends.load(backend if device is None else _torch_on(device))
        except ConfigError:
            raise
        except ImportError as exc:  # numpy or torch is an optional extra
            raise ConfigError(
                f"the {backend!r} backend needs the module {exc.name!r}, which is not installed"
            ) from None
        except Exception as exc:  # not a backend (os:path), or the adapter's own bug
            raise ConfigError(f"--backend {backend}: {exc}") from None
        if not (
            callable(getattr(be, "to_matrix", None)) and callable(getattr(be, "from_matrix", None))
        ):
            raise ConfigError(
                f"--backend {backend}: not a refnn backend (it needs to_matrix and from_matrix)"
            )

        def to_matrix(x: Any) -> Any:
            return x if isinstance(x, Matrix) else be.to_matrix(x)

        def to_backend(x: Any) -> Any:
            return be.from_matrix(x) if isinstance(x, Matrix) else x

        return cls(to_backend, to_matrix)

    def model(self, model: nn.Sequential) -> nn.Sequential:
        """The model with its constant matrices (Fourier features' B) on the backend."""
        return nn.Sequential(
            *(
                dataclasses.replace(layer, B=self.to_backend(layer.B))
                if isinstance(layer, nn.FourierFeatures)
                else layer
                for layer in model.layers
            )
        )


def _torch_on(device: str) -> Any:
    """The torch backend on ``device`` (float32 on MPS, which has no float64), or a
    :class:`ConfigError` saying why the device cannot be used."""
    from refnn.backends.torch import TorchBackend

    dtype = "float32" if device.partition(":")[0] == "mps" else "float64"
    try:
        return TorchBackend(device=device, dtype=dtype)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"--device {device}: {exc}") from None


def _identity(x: Any) -> Any:
    return x


def _convert(
    convert: Callable[[Any], Any], params: Any, adam: nn.AdamState
) -> tuple[Any, nn.AdamState]:
    """``convert`` applied to every matrix of the parameters and of Adam's state."""
    return nn.tree_map(convert, params), nn.AdamState(
        adam.step, tuple(map(convert, adam.m)), tuple(map(convert, adam.v))
    )


# ------------------------------------------------------------------------ train
class _Batches:
    """The training batches, one per step: all training pixels every step, or
    ``batch_size`` of them drawn at random with ``rng``."""

    def __init__(
        self, cfg: ReconstructConfig, data: _Data, conv: _Converters, rng: random.Random, start: int
    ) -> None:
        self.X, self.Y = data.X, data.Y
        self.n = len(data.train_rows)
        bs = cfg.batch_size
        self.k = bs if bs is not None and bs < self.n else self.n  # pixels per batch
        self.conv, self.rng = conv, rng
        to_backend = conv.to_backend
        full = self.k == self.n
        self.whole = (to_backend(self.X), to_backend(self.Y)) if full else None
        self.drawn = start  # batches drawn: one per step
        self._before: tuple[int, tuple[Any, ...]] = (start, rng.getstate())  # (drawn, state)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        whole = self.whole
        if whole is not None:
            while True:
                yield whole
        to_backend = self.conv.to_backend
        while True:
            self._before = (self.drawn, self.rng.getstate())
            rows = self.rng.sample(range(self.n), self.k)
            self.drawn += 1
            yield (to_backend(nn.take_rows(self.X, rows)), to_backend(nn.take_rows(self.Y, rows)))

    def rng_state_after(self, step: int) -> tuple[Any, ...]:
        """The generator's state after the draws of the first ``step`` steps, even when
        Ctrl-C came while the next batch was being drawn."""
        drawn, before = self._before
        state: tuple[Any, ...] = before if drawn == step else self.rng.getstate()
        return state


class _Session:
    """One call of :func:`reconstruct`'s training: the hooks :func:`train_loop` calls
    (progress, held-out PSNR, checkpoints, Ctrl-C) and the curve they record.

    The bookkeeping reuses the step's own work: :meth:`loss` keeps the network's output of
    the step's forward pass, so a step's PSNR (and, on a black-and-white image, its pixel
    accuracy) is that of the parameters the step started from, as its loss is, without a
    second forward pass; checkpoints are written by the clock (:data:`CHECKPOINT_SECONDS`)
    unless ``checkpoint_every`` asks for a step count. ``benchmarks/reconstruction.py``
    measures what all of it costs against a bare loop of steps."""

    def __init__(
        self,
        cfg: ReconstructConfig,
        data: _Data,
        conv: _Converters,
        run: RunState,
        ckpt: Path,
        progress: Callable[[int, float, float], None] | None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg, self.spec, self.data, self.conv = cfg, cfg.spec, data, conv
        self.steps: int = _resolved(cfg, "steps")
        self.run, self.ckpt, self.progress, self.notify = run, ckpt, progress, notify
        self.model = conv.model(build_model(cfg, data.image.num_channels))
        rng = random.Random()
        rng.setstate(run.batch_rng)
        self.batches = _Batches(cfg, data, conv, rng, run.step)
        self.history = run.history
        self.t0 = time.perf_counter()
        self.interrupted: TrainState | None = None
        self.output: Any = None  # the network's output in the latest step's forward pass
        self.full_accuracy = run.full_accuracy
        self.watch_accuracy = (
            self.batches.whole is not None
            and run.full_accuracy is None
            and all(v in (0.0, 1.0) for v in data.targets.data)
        )
        self.step_end = self.last_save = self.t0  # clock readings: last step, last checkpoint

    def snapshot(self, state: TrainState) -> RunState:
        """The run state after ``state`` (reference matrices, time so far)."""
        params, adam = _convert(self.conv.to_matrix, state.params, state.opt_state)
        return dataclasses.replace(
            self.run,
            step=state.step,
            params=params,
            adam=adam,
            batch_rng=self.batches.rng_state_after(state.step),
            history=self.history,
            seconds=self.run.seconds + time.perf_counter() - self.t0,
            full_accuracy=self.full_accuracy,
        )

    def save(self, state: TrainState) -> RunState:
        run = self.snapshot(state)
        atomic_write_text(self.ckpt, json.dumps(run.to_json()) + "\n")
        self.last_save = time.perf_counter()
        return run

    def loss(self, output: Any, targets: Any) -> Any:
        """The model's loss, keeping the (concrete) network output for the bookkeeping."""
        self.output = ops.concrete(output)
        return self.spec.loss(output, targets)

    def predict(self, params: Any, x: Any) -> Matrix[float]:
        y = self.model.apply(params, self.conv.to_backend(x))
        out: Matrix[float] = self.conv.to_matrix(self.spec.pixels(y))
        return out

    def all_right(self, pred: Any, targets: Any, steps: int, seconds: float) -> bool:
        """While the accuracy is watched: whether every prediction is right after ``steps``
        updates, and if so the milestone ``(steps, seconds)``, recorded once."""
        if not (self.watch_accuracy and _wrong_pixels(pred, targets) == 0):
            return False
        self.watch_accuracy = False
        self.full_accuracy = (steps, seconds)
        return True

    def batch_psnr(self, r: StepReport) -> float:
        """The PSNR of the step's batch before its update: read off an MSE loss, else
        measured on the output of the step's forward pass (and the step's pixel accuracy
        noted, while it is watched)."""
        if self.spec.loss_is_pixel_mse and not self.watch_accuracy:
            return _psnr_from_mse(r.loss)
        pred, Y = self.spec.pixels(self.output), r.batch[1]
        seconds = self.run.seconds + self.step_end - self.t0  # when the previous step ended
        if self.all_right(pred, Y, r.step - 1, seconds) and self.notify is not None:
            self.notify(
                f"every pixel right ({Y.shape[0]}/{Y.shape[0]}) after {r.step - 1} steps "
                f"({seconds:.1f} s of training)"
            )
        if self.spec.loss_is_pixel_mse:
            return _psnr_from_mse(r.loss)
        return _psnr_from_mse(
            float(nn.scalar(ops.mean(ops.square(ops.sub(ops.clip(pred, 0, 1), Y)))))
        )

    def on_step(self, r: StepReport) -> None:
        psnr_now = self.batch_psnr(r)
        self.history["step"].append(r.step)
        self.history["psnr"].append(psnr_now)
        held = self.data.held_rows
        if held and (r.step % self.cfg.eval_every == 0 or r.step == self.steps):
            pred = self.predict(r.params, self.data.coords)
            self.history["holdout_step"].append(r.step)
            self.history["holdout"].append(_psnr_from_mse(_mse_rows(pred, self.data.targets, held)))
        if self.progress is not None:
            self.progress(r.step, r.loss, psnr_now)
        every = self.cfg.checkpoint_every
        now = time.perf_counter()
        if (now - self.last_save >= CHECKPOINT_SECONDS) if every is None else r.step % every == 0:
            self.save(r)
        if self.notify is not None and r.step - self.run.step == TIMED_STEPS:
            self.notify(self.estimate(r.step))
        self.step_end = time.perf_counter()

    def estimate(self, step: int) -> str:
        """The time the remaining steps will take, from the steps timed so far."""
        done = step - self.run.step
        per_step = (time.perf_counter() - self.t0) / done
        left = self.steps - step
        text = (
            f"about {_duration(per_step * left)} for the {left} remaining steps "
            f"({_duration(per_step)} a step, from {done} timed steps)"
        )
        if per_step * left > SLOW_SECONDS and self.cfg.backend == "reference":
            text += (
                "; --backend numpy computes the same run much faster (pip install 'refnn[numpy]')"
            )
        return text

    def on_interrupt(self, state: TrainState) -> None:
        self.save(state)
        self.interrupted = state  # only once the checkpoint is written

    def advice(self, step: int) -> str:
        rate = learning_rate_at(self.cfg.learning_rate(), step - 1)
        return f"try a smaller --lr (the learning rate was {rate!r})"

    def train(self, out_dir: Path) -> RunState:
        """Train to ``cfg.steps`` and return the final state; :class:`Interrupted` on
        Ctrl-C, after saving a checkpoint of the last finished step."""
        step_fn = nn.make_step(self.model, self.loss, nn.Adam(self.cfg.learning_rate()))
        params, adam = _convert(self.conv.to_backend, self.run.params, self.run.adam)
        batches = itertools.islice(self.batches, max(0, self.steps - self.run.step))
        self.t0 = self.step_end = self.last_save = time.perf_counter()
        try:
            end = train_loop(
                step_fn,
                TrainState(self.run.step, params, adam),
                batches,
                on_step=self.on_step,
                on_interrupt=self.on_interrupt,
                advice=self.advice,
            )
        except KeyboardInterrupt:
            if self.interrupted is None:  # Ctrl-C again while saving: nothing to report
                raise
            raise Interrupted(self.interrupted.step, out_dir) from None
        whole = self.batches.whole
        if self.watch_accuracy and whole is not None:  # right only after the last update
            pred = self.spec.pixels(self.model.apply(end.params, whole[0]))
            self.all_right(
                pred, whole[1], end.step, self.run.seconds + time.perf_counter() - self.t0
            )
        return self.snapshot(end)  # the final checkpoint is written with the other outputs


#: After this many steps a run estimates its remaining time; beyond SLOW_SECONDS it says
#: that the NumPy backend is faster.
TIMED_STEPS = 3
SLOW_SECONDS = 120.0
#: Seconds of training between checkpoints unless ``checkpoint_every`` counts steps (a
#: checkpoint of the article's network takes about 0.1 s to encode: every 100 steps it cost
#: over 10% of a NumPy step).
CHECKPOINT_SECONDS = 30.0


def _wrong_pixels(pred: Any, targets: Any) -> float:
    """How many predictions are not on their black-or-white (0 or 1) target's side of ½
    (right: p > ½ for 1, p ≤ ½ for 0; NaN: not a number, so never 0), computed with the
    registry's ops on the backend's values: step(p − ½) is the predicted pixel, exactly 0
    or 1 (the sign of p − ½ survives rounding), and its squared differences from the
    targets count the wrong ones exactly."""
    guess = ops.step(ops.add_scalar(pred, -0.5))
    wrong: float = nn.scalar(ops.sum(ops.square(ops.sub(guess, targets))))
    return wrong


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ------------------------------------------------------------------------ measure
def _psnr_from_mse(m: float) -> float:
    return math.inf if m == 0 else -10.0 * math.log10(m)


def _mse_rows(pred: Matrix[float], target: Matrix[float], rows: list[int]) -> float:
    c = target.shape[1]
    p, t = pred.data, target.data
    total = 0.0
    for r in rows:
        for k in range(r * c, r * c + c):
            d = min(max(p[k], 0.0), 1.0) - t[k]
            total += d * d
    return total / (len(rows) * c)


def neighbour_baseline(targets: Matrix[float], h: int, w: int, held: list[int]) -> float:
    """PSNR on the held-out pixels of predicting each by the mean of its (up to 4) training
    neighbours — the baseline any held-out PSNR should be read against."""
    c = targets.shape[1]
    t = targets.data
    total = 0.0
    for r in held:
        i, j = divmod(r, w)
        nbrs = [
            (i + di) * w + (j + dj)
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
            if 0 <= i + di < h and 0 <= j + dj < w
        ]
        for k in range(c):
            guess = sum(t[q * c + k] for q in nbrs) / len(nbrs)
            total += (guess - t[r * c + k]) ** 2
    return _psnr_from_mse(total / (len(held) * c))


def _measure(cfg: ReconstructConfig, data: _Data, run: RunState) -> tuple[dict[str, Any], Image]:
    """The metrics of the trained run (on the reference path) and its reconstruction."""
    spec, image, targets = cfg.spec, data.image, data.targets
    h, w = image.shape
    y = build_model(cfg, image.num_channels).apply(run.params, data.coords)
    full: Matrix[float] = spec.pixels(y)
    recon = prediction_to_image(full.map(lambda v: min(max(v, 0.0), 1.0)), h, w)
    metrics: dict[str, Any] = {
        "psnr_db": _psnr_from_mse(_mse_rows(full, targets, data.train_rows)),
        "ssim": ssim(image, recon),
        "steps": run.step,
        "seconds": round(run.seconds, 3),
        "n_params": nn.n_params(run.params),
        "n_pixels": h * w,
        "model": cfg.model,
        "width": cfg.width,
        "depth": cfg.depth,
        "lr": cfg.lr,
        "seed": cfg.seed,
        "size": [h, w],
        "image": cfg.image or "camera",
        "image_sha256": image.sha256,
        "refnn_version": __version__,
    }
    metrics.update({name: getattr(cfg, name) for name in spec.settings})
    if cfg.lr_decay != 1.0:
        metrics["lr_decay"] = cfg.lr_decay
    if cfg.batch_size is not None:
        metrics["batch_size"] = cfg.batch_size
    if data.held_rows:
        metrics["holdout_psnr_db"] = _psnr_from_mse(_mse_rows(full, targets, data.held_rows))
        metrics["holdout_neighbour_baseline_db"] = neighbour_baseline(targets, h, w, data.held_rows)
    if all(v in (0.0, 1.0) for v in targets.data):
        hits = sum((p > 0.5) == (t > 0.5) for p, t in zip(full.data, targets.data, strict=True))
        metrics["pixel_accuracy"] = hits / len(targets.data)
    if run.full_accuracy is not None:
        metrics["full_accuracy_steps"] = run.full_accuracy[0]
        metrics["full_accuracy_seconds"] = round(run.full_accuracy[1], 3)
    return metrics, recon


# ------------------------------------------------------------------------ write
#: The files a run writes; metrics.json is written last, so its presence marks a finished
#: run whose files belong together.
OUTPUT_FILES = frozenset(
    {
        "original.png",
        "reconstruction.png",
        "comparison.png",
        "curve.png",
        "params.json",
        "metrics.json",
        "checkpoint.json",
        "render.png",  # with render_size (refnn/render.py)
        "render_comparison.png",
    }
)


def _png(pil_image: Any) -> bytes:
    buf = io.BytesIO()
    pil_image.save(buf, format="PNG")
    return buf.getvalue()


def _outputs(
    cfg: ReconstructConfig, image: Image, recon: Image, run: RunState, metrics: dict[str, Any]
) -> dict[str, bytes]:
    """Every output file of the finished run, encoded (nothing written yet)."""
    hist = run.history
    extra = []
    if hist["holdout"]:
        extra.append(("held-out pixels", hist["holdout_step"], hist["holdout"]))
    baselines = []
    if "holdout_neighbour_baseline_db" in metrics:
        baselines.append(("neighbour average", metrics["holdout_neighbour_baseline_db"]))
    curve = curve_image(
        hist["step"],
        hist["psnr"],
        label="training pixels",
        title=f"{cfg.model}: PSNR during training",
        extra=extra,
        baselines=baselines,
    )
    return {
        "original.png": _png(to_pil(image)),
        "reconstruction.png": _png(to_pil(recon)),
        "comparison.png": _png(comparison_image(image, recon)),
        "curve.png": _png(curve),
        "params.json": params_json(run.params).encode(),
        "metrics.json": (json.dumps(_jsonable(metrics), indent=2) + "\n").encode(),
        "checkpoint.json": (json.dumps(run.to_json()) + "\n").encode(),
    }


def _render_outputs(cfg: ReconstructConfig, image: Image, run: RunState) -> dict[str, bytes]:
    """``render.png`` and ``render_comparison.png`` with ``render_size``, else nothing."""
    if cfg.render_size is None:
        return {}
    from refnn.render import render_files

    return render_files(cfg, run.params, image, cfg.render_size, run.step)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()
    }


# ------------------------------------------------------------------------ the output folder
def default_out(image: str | None, model: str, seed: int, *, resume: bool = False) -> Path:
    """The folder a run writes to when none is given: ``runs/<image>-<model>-<seed>``, or,
    if that already holds something, the first free ``…-2``, ``…-3``, …, so that no run
    replaces another. With ``resume``, the last of those that exists (the latest run)."""
    base = Path("runs", f"{image_label(image)}-{model}-{seed}")
    names = [base, *(base.with_name(f"{base.name}-{k}") for k in range(2, 10_000))]
    taken = [p for p in names if p.exists()]
    if resume:
        return max(taken, key=names.index) if taken else base
    for path in names:
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return path
    raise ConfigError(f"{base} and 9998 more run folders exist: choose --out")


def _check_out(out: Path, *, resume: bool, force: bool, locked: bool = False) -> None:
    """Refuse to write where a run would destroy something: a folder another run is using
    (its lock is held; ``locked``: we hold it ourselves), a file, a finished or interrupted
    run (without ``force``; ``resume`` continues one), a folder that is not empty and not a
    refnn run (without ``force``)."""
    if out == Path("."):
        raise ConfigError("--out . would write into the current folder: name a folder for the run")
    if not out.exists():
        if resume:
            raise CheckpointError(f"--resume: no checkpoint at {out / 'checkpoint.json'}")
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} is not a folder")
    if not locked:
        with FolderLock(out, "another refnn run"):  # FolderBusy while a run trains there
            pass
    try:
        entries = {e.name for e in os.scandir(out)}
    except OSError as exc:
        raise OSError(f"cannot read the output folder {out}: {exc.strerror or exc}") from None
    ours = {n for n in entries if n in OUTPUT_FILES or _is_temporary(n)}
    if resume or force or all(_is_temporary(n) for n in entries):
        return  # (only temporaries: left by a killed run, removed once the lock is held)
    if "checkpoint.json" in entries and _is_checkpoint(out / "checkpoint.json"):
        if "metrics.json" in entries:
            raise ConfigError(
                f"--out {out} holds a finished run: choose another folder, or "
                f"pass --force to replace it (or --resume with more --steps)"
            )
        raise ConfigError(
            f"--out {out} holds an interrupted run: continue it with --resume, "
            f"or pass --force to start over"
        )
    foreign = sorted(entries - ours) or sorted(entries)
    raise ConfigError(
        f"--out {out} is not empty and is not a refnn run (it holds "
        f"{_short(foreign[0])[1:-1]}{' and more' if len(foreign) > 1 else ''}): "
        f"choose a new or empty folder, or pass --force to write into it"
    )


def _is_temporary(name: str) -> bool:
    """A temporary of one of the run's files (``.params.json.k2x9.tmp``)."""
    return name.endswith(".tmp") and any(name.startswith(f".{o}.") for o in OUTPUT_FILES)


def _is_checkpoint(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(200)
    except OSError:
        return False
    return f'"format": "{CHECKPOINT_FORMAT}"'.encode() in head


# ------------------------------------------------------------------------ memory
#: Bytes a float takes on each kind of backend (a Python float object and its pointer,
#: or a packed float64), and the values per hidden unit per row a step keeps alive
#: (activations, their pre-images, the tape's cotangents); measured on the camera image
#: with the models of the table (peak RSS, reference backend) and rounded up.
FLOAT_BYTES = {"reference": 32}
PACKED_FLOAT_BYTES = 8
VALUES_PER_UNIT = 8
BASE_BYTES = 64 * 2**20


def memory_estimate(cfg: ReconstructConfig, pixels: int, channels: int) -> int:
    """Bytes a resolved configuration needs at its peak on an image of ``pixels`` pixels:
    a training step's tape (``batch_size`` rows, or every training pixel), or the
    full-image forward pass measured on the reference, plus the data."""
    spec = cfg.spec
    width, depth = _resolved(cfg, "width"), _resolved(cfg, "depth")
    hidden = sum(ARTICLE_SIZES[1:-1]) if spec.fixed_layers else width * depth
    if cfg.model == "fourier":
        hidden += 2 * cfg.fourier_features
    units = hidden + channels
    train_rows = pixels if not cfg.holdout else (pixels + 1) // 2
    rows = min(cfg.batch_size or train_rows, train_rows)
    per_float = FLOAT_BYTES.get(cfg.backend, PACKED_FLOAT_BYTES)
    step = rows * units * VALUES_PER_UNIT * per_float
    measure = pixels * units * 3 * FLOAT_BYTES["reference"]
    data = pixels * (2 + channels) * 6 * FLOAT_BYTES["reference"]
    return max(step, measure) + data + BASE_BYTES


def available_memory() -> int | None:
    """The memory the machine can give this process now (``MemAvailable`` of
    ``/proc/meminfo``, lowered to a cgroup's limit), or ``None`` where it cannot be read."""
    found: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            found = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            found = int(limit) if found is None else min(found, int(limit))
    except OSError:
        pass
    return found


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _check_memory(cfg: ReconstructConfig, info: ImageInfo) -> None:
    need = memory_estimate(cfg, info.out_width * info.out_height, info.channels)
    have = available_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"a {info.out_width}×{info.out_height} image with the {cfg.model} model needs "
            f"about {_gib(need)} of memory, more than the {_gib(have)} available: use a "
            f"smaller --size or a --batch-size"
        )


# ------------------------------------------------------------------------ the run
@dataclass
class Plan:
    """A run checked and ready: every input validated into typed values (the resolved
    configuration, the decoded image, the backend, the output folder, the checkpoint to
    resume from), before anything is written. :func:`prepare` makes one; :meth:`run`
    trains and writes. ``size_change`` is the image's size in the file and as trained
    (``"256×256 → 32×32"``)."""

    config: ReconstructConfig
    out: Path
    resume: bool
    force: bool
    size_change: str
    data: _Data
    conv: _Converters
    fresh: RunState

    @property
    def steps(self) -> int:
        """The run's step budget: ``steps``, or the model's default from :data:`MODELS`."""
        steps: int = _resolved(self.config, "steps")
        return steps

    def notes(self) -> list[str]:
        """What a user should know before the run starts: the image's size change, the
        model, the step budget and the folder; and whether the model suits the image."""
        cfg = self.config
        lines = [
            f"{cfg.image or 'camera'}: {self.size_change} pixels, {cfg.model} model, "
            f"{cfg.steps} steps on the {cfg.backend} backend"
            f"{'' if cfg.device is None else ' (device ' + cfg.device + ')'}, into {self.out}"
        ]
        binary = all(v in (0.0, 1.0) for v in self.data.targets.data)
        if cfg.model == "article" and not binary:
            lines.append(
                "note: the article's network suits black-and-white images such as "
                "the spiral; for this one --model siren is the better choice"
            )
        return lines

    def run(
        self,
        progress: Callable[[int, float, float], None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> ReconstructResult:
        """Train and write into the plan's output folder (see :func:`reconstruct`). The folder is
        locked while the run lasts; a folder this call created and left empty is removed."""
        out, cfg = self.out, self.config
        created = [p for p in (out, *out.parents) if not p.exists()]  # innermost first
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
        try:
            if not os.access(out, os.W_OK | os.X_OK):
                raise OSError(f"the output folder {out} is not writable")
            with FolderLock(out, "another refnn run"):
                if not created:  # what the folder holds may have changed since prepare()
                    _check_out(out, resume=self.resume, force=self.force, locked=True)
                remove_stale_temporaries(out, OUTPUT_FILES)
                run = self.fresh
                if self.resume:
                    run = _load_checkpoint(out / "checkpoint.json", self.fresh, cfg)
                session = _Session(
                    cfg, self.data, self.conv, run, out / "checkpoint.json", progress, notify
                )
                run = session.train(out)
                metrics, recon = _measure(cfg, self.data, run)
                files = _outputs(cfg, self.data.image, recon, run, metrics)
                files.update(_render_outputs(cfg, self.data.image, run))
                write_set(out, files, last="metrics.json")
                if cfg.render_size is None:  # an earlier render shows another network
                    from refnn.render import discard_stale_renders

                    discard_stale_renders(out)
        except BaseException:
            for folder in created:  # what this call created and left empty
                if not _remove_if_empty(folder):
                    break
            raise
        return ReconstructResult(metrics, out, recon)


def _remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def prepare(
    config: ReconstructConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    force: bool = False,
) -> Plan:
    """Validate everything a run reads, in the order a user would fix it, and write
    nothing: the settings; the output folder (see :func:`reconstruct`); the backend; the
    image's header and the memory the run needs (against the machine's available memory,
    before decoding); the image; with ``resume``, the checkpoint. Raises the errors
    :func:`reconstruct` lists."""
    cfg = (config or ReconstructConfig()).resolved()
    out_dir = (
        default_out(cfg.image, cfg.model, cfg.seed, resume=resume) if out is None else Path(out)
    )
    if out is not None and os.fspath(out) == "":
        raise ConfigError("--out is empty: name a folder for the run")
    _check_out(out_dir, resume=resume, force=force)
    conv = _Converters.load(cfg.backend, cfg.device)
    info = probe_image(cfg.image, size=cfg.size, max_pixels=cfg.max_pixels)
    _check_memory(cfg, info)
    data = _load_data(cfg)
    fresh = _fresh_state(cfg, data.image, build_model(cfg, data.image.num_channels))
    if resume:
        _load_checkpoint(out_dir / "checkpoint.json", fresh, cfg)
    return Plan(cfg, out_dir, resume, force, info.size_change(), data, conv, fresh)


def reconstruct(
    config: ReconstructConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    force: bool = False,
    progress: Callable[[int, float, float], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> ReconstructResult:
    """Train the configured network on the image and write the results into ``out``.

    ``out`` defaults to ``runs/<image>-<model>-<seed>``, or the next free ``…-2``, ``…-3``
    (see :func:`default_out`). A run never replaces another: ``out`` must be new or empty,
    unless ``resume`` (continue the run in it) or ``force`` (replace whatever run or files
    are there); a non-empty folder that is not a refnn run is refused the same way.
    ``progress(step, loss, psnr_db)`` is called after every step; ``notify(text)`` once,
    after the first few steps, with the estimated time left.

    Everything is checked before anything is written (:func:`prepare`). Raises
    :class:`~refnn.image.ImageError` for a bad image, :class:`ConfigError` for a bad setting
    or output folder, or a run the machine's memory cannot hold, :class:`CheckpointError`
    for a bad checkpoint on ``resume``, :class:`~refnn.TrainingDiverged` when the loss
    stops being finite, :class:`Interrupted` on Ctrl-C (after saving a checkpoint),
    :class:`~refnn.atomic.FolderBusy` when another run holds the folder, and ``OSError``
    for an unusable folder. The outputs are written as a set (:func:`refnn.atomic.write_set`):
    a failure leaves the folder as it was, and a folder this call created and left empty
    is removed.
    """
    plan = prepare(config, out, resume=resume, force=force)
    return plan.run(progress, notify)
