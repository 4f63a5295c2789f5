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
every ``checkpoint_every`` steps and when the run is interrupted; ``resume=True``
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
from refnn.errors import RefnnError
from refnn.image import (
    MAX_PIXELS,
    Image,
    atomic_write_bytes,
    atomic_write_text,
    comparison_image,
    coordinate_grid,
    curve_image,
    gaussian_fourier_matrix,
    image_to_targets,
    load_image,
    prediction_to_image,
    ssim,
    to_pil,
)
from refnn.matrix import Matrix
from refnn.nn.optim import LearningRate, learning_rate_at
from refnn.nn.serialize import decode_tree, encode_tree
from refnn.nn.train import StepReport, TrainState, train_loop

__all__ = [
    "IMAGE_SIZES",
    "MODELS",
    "CheckpointError",
    "ConfigError",
    "Interrupted",
    "ModelSpec",
    "ReconstructConfig",
    "ReconstructResult",
    "RunState",
    "build_model",
    "default_size",
    "neighbour_baseline",
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
    """One row of :data:`MODELS`: a model's defaults and what training it means.

    ``build(config, width, depth, channels)`` makes the network from 2 coordinates to
    ``channels`` outputs. ``loss(output, targets)`` is minimised; ``link`` turns the
    network's output into pixel values (``None``: the output is the pixel values).
    ``settings`` names the further configuration fields the model reads (recorded in
    ``metrics.json``). ``fixed_layers``: the layer sizes are part of the model, so width and
    depth are what the table says and cannot be changed.
    """

    summary: str
    width: int
    depth: int
    lr: float
    build: Builder
    loss: Callable[[Any, Any], Any] = nn.mse
    link: Callable[[Any], Any] | None = None
    settings: tuple[str, ...] = ()
    fixed_layers: bool = False

    @property
    def loss_is_pixel_mse(self) -> bool:
        """The loss is the pixels' MSE, so a step's PSNR is read off its loss."""
        return self.loss is nn.mse and self.link is None


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
    "siren": ModelSpec("sine layers sin(ω₀·(xW + b)), SIREN initialisation", 24, 2, 4e-3, _siren,
                       settings=("omega0",)),
    "fourier": ModelSpec("Gaussian Fourier features + ReLU MLP", 16, 2, 1e-2, _fourier,
                         settings=("fourier_features", "fourier_sigma")),
    "relu": ModelSpec("plain ReLU MLP", 24, 2, 3e-3, _mlp("relu")),
    "tanh": ModelSpec("plain tanh MLP", 24, 2, 3e-3, _mlp("tanh")),
    "article": ModelSpec(
        "the article's 2→64→64→128→64→32→1 tanh network, sigmoid output, cross-entropy",
        64, 5, 1e-3, _article, loss=nn.binary_cross_entropy_with_logits, link=ops.sigmoid,
        fixed_layers=True,
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
    ``seed + 1`` the Fourier-feature matrix and ``seed + 2`` the mini-batches. How the
    defaults were chosen, with the figures measured, is in the README.
    """

    image: str | None = None
    size: int | None = None
    model: str = "siren"
    width: int | None = None
    depth: int | None = None
    steps: int = 800
    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    holdout: bool = False
    omega0: float = 30.0
    fourier_features: int = 8
    fourier_sigma: float = 1.0
    checkpoint_every: int = 100
    eval_every: int = 50
    max_pixels: int = MAX_PIXELS
    backend: str = "reference"
    lr_decay: float = 0.1

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
        )
        out._check()
        return out

    def _check(self) -> None:
        for name in ("steps", "checkpoint_every", "eval_every", "fourier_features"):
            _require(_positive_int(getattr(self, name)), f"{name} must be a positive int",
                     getattr(self, name))
        for name in ("width", "depth", "size"):
            _require(_positive_int(getattr(self, name)), f"--{name} must be a positive int",
                     getattr(self, name))
        if self.batch_size is not None:
            _require(_positive_int(self.batch_size), "--batch-size must be a positive int",
                     self.batch_size)
        _require(isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1,
                 "lr_decay must be in (0, 1]", self.lr_decay)
        for name in ("lr", "omega0", "fourier_sigma"):
            v = getattr(self, name)
            _require(isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
                     f"{name} must be a positive finite number", v)

    def identity(self) -> dict[str, Any]:
        """The fields a checkpoint must agree on to be resumed (all but the step budget,
        the bookkeeping intervals and the backend: a checkpoint stores exact floats, so a
        run may be continued on another backend, though only the same backend continues
        bit for bit). With a decaying learning rate the step budget counts too."""
        d = dataclasses.asdict(self)
        for k in ("checkpoint_every", "eval_every", "max_pixels", "backend"):
            d.pop(k)
        if self.lr_decay == 1.0:  # a decaying schedule depends on the step budget
            d.pop("steps")
        return d

    def learning_rate(self) -> LearningRate:
        """Adam's rate: ``lr``, or its cosine decay to ``lr·lr_decay`` over ``steps``."""
        lr = float(_resolved(self, "lr"))
        return lr if self.lr_decay == 1.0 else nn.cosine(lr, self.steps, lr * self.lr_decay)


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
    ``step`` steps; ``history`` the training curve so far; ``seconds`` the training time.
    :meth:`to_json` and :meth:`from_json` are inverse (floats bit-exact).
    """

    config: dict[str, Any]
    image_sha256: str | None
    step: int
    params: Any
    adam: nn.AdamState
    batch_rng: tuple[Any, ...]
    history: History = field(default_factory=_new_history)
    seconds: float = 0.0

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
            "adam": {"step": self.adam.step, "m": encode_tree(self.adam.m),
                     "v": encode_tree(self.adam.v)},
            "batch_rng": [version, list(internal), gauss],
            "history": {k: [repr(x) for x in v] for k, v in self.history.items()},
        }

    @classmethod
    def from_json(cls, doc: Any) -> RunState:
        """The run state of a checkpoint document; :class:`CheckpointError` (its message
        says what is wrong, to follow the file's name) for anything else."""
        if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("is not a refnn reconstruction checkpoint")
        if doc.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"has unsupported version {doc.get('version')!r}")
        try:
            adam = doc["adam"]
            version, internal, gauss = doc["batch_rng"]
            return cls(
                config=dict(doc["config"]),
                image_sha256=doc["image_sha256"],
                step=int(doc["step"]),
                params=decode_tree(doc["params"]),
                adam=nn.AdamState(int(adam["step"]), tuple(decode_tree(adam["m"])),
                                  tuple(decode_tree(adam["v"]))),
                batch_rng=(version, tuple(internal), gauss),
                history={k: [float(x) for x in vals] for k, vals in doc["history"].items()},
                seconds=float(doc["seconds"]),
            )
        except (KeyError, TypeError, ValueError, RefnnError) as exc:
            raise CheckpointError(f"is corrupt ({exc})") from None


def _fresh_state(cfg: ReconstructConfig, image: Image, model: nn.Sequential) -> RunState:
    params = model.init(random.Random(cfg.seed))
    return RunState(cfg.identity(), image.sha256, 0, params, nn.Adam().init(params),
                    random.Random(cfg.seed + 2).getstate())


def _load_checkpoint(path: Path, fresh: RunState) -> RunState:
    """The run state saved in ``path``, checked to continue the run that starts at
    ``fresh``."""
    if not path.is_file():
        raise CheckpointError(f"--resume: no checkpoint at {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"--resume: {path} is not a readable checkpoint ({exc})") from None
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
    theirs, ours = (run.params, run.adam.m, run.adam.v), (fresh.params, fresh.adam.m,
                                                          fresh.adam.v)
    if not _same_shapes(theirs, ours):
        raise CheckpointError(f"--resume: {path} is corrupt (its parameters do not fit the "
                              f"model)")
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
        return self.targets if not self.held_rows else nn.take_rows(self.targets,
                                                                    self.train_rows)


def _load_data(cfg: ReconstructConfig) -> _Data:
    image = load_image(cfg.image, size=cfg.size, max_pixels=cfg.max_pixels)
    h, w = image.shape
    if cfg.holdout:
        train_rows, held_rows = _checkerboard(h, w)
        if not held_rows:
            raise ValueError("--holdout needs an image of at least 2 pixels")
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
    def load(cls, backend: str) -> _Converters:
        if backend == "reference":
            return cls(_identity, _identity)
        from refnn import backends

        try:
            be = backends.load(backend)
        except ImportError as exc:  # numpy or torch is an optional extra
            raise ConfigError(
                f"the {backend!r} backend needs the module {exc.name!r}, which is not "
                f"installed"
            ) from None

        def to_matrix(x: Any) -> Any:
            return x if isinstance(x, Matrix) else be.to_matrix(x)

        def to_backend(x: Any) -> Any:
            return be.from_matrix(x) if isinstance(x, Matrix) else x

        return cls(to_backend, to_matrix)

    def model(self, model: nn.Sequential) -> nn.Sequential:
        """The model with its constant matrices (Fourier features' B) on the backend."""
        return nn.Sequential(*(
            dataclasses.replace(layer, B=self.to_backend(layer.B))
            if isinstance(layer, nn.FourierFeatures) else layer
            for layer in model.layers
        ))


def _identity(x: Any) -> Any:
    return x


def _convert(convert: Callable[[Any], Any], params: Any,
             adam: nn.AdamState) -> tuple[Any, nn.AdamState]:
    """``convert`` applied to every matrix of the parameters and of Adam's state."""
    return nn.tree_map(convert, params), nn.AdamState(
        adam.step, tuple(map(convert, adam.m)), tuple(map(convert, adam.v)))


# ------------------------------------------------------------------------ train
class _Batches:
    """The training batches, one per step: all training pixels every step, or
    ``batch_size`` of them drawn at random with ``rng``."""

    def __init__(self, cfg: ReconstructConfig, data: _Data, conv: _Converters,
                 rng: random.Random, start: int) -> None:
        self.X, self.Y = data.X, data.Y
        self.n = len(data.train_rows)
        bs = cfg.batch_size
        self.k = bs if bs is not None and bs < self.n else None
        self.conv, self.rng = conv, rng
        self.drawn = start  # batches drawn: one per step
        self._before: tuple[int, tuple[Any, ...]] = (start, rng.getstate())  # (drawn, state)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        to_backend = self.conv.to_backend
        if self.k is None:
            whole = (to_backend(self.X), to_backend(self.Y))
            while True:
                yield whole
        while True:
            self._before = (self.drawn, self.rng.getstate())
            rows = self.rng.sample(range(self.n), self.k)
            self.drawn += 1
            yield (to_backend(nn.take_rows(self.X, rows)),
                   to_backend(nn.take_rows(self.Y, rows)))

    def rng_state_after(self, step: int) -> tuple[Any, ...]:
        """The generator's state after the draws of the first ``step`` steps, even when
        Ctrl-C came while the next batch was being drawn."""
        drawn, before = self._before
        state: tuple[Any, ...] = before if drawn == step else self.rng.getstate()
        return state


class _Session:
    """One call of :func:`reconstruct`'s training: the hooks :func:`train_loop` calls
    (progress, held-out PSNR, checkpoints, Ctrl-C) and the curve they record."""

    def __init__(self, cfg: ReconstructConfig, data: _Data, conv: _Converters, run: RunState,
                 ckpt: Path, progress: Callable[[int, float, float], None] | None) -> None:
        self.cfg, self.spec, self.data, self.conv = cfg, cfg.spec, data, conv
        self.run, self.ckpt, self.progress = run, ckpt, progress
        self.model = conv.model(build_model(cfg, data.image.num_channels))
        rng = random.Random()
        rng.setstate(run.batch_rng)
        self.batches = _Batches(cfg, data, conv, rng, run.step)
        self.history = run.history
        self.t0 = time.perf_counter()
        self.interrupted: TrainState | None = None

    def snapshot(self, state: TrainState) -> RunState:
        """The run state after ``state`` (reference matrices, time so far)."""
        params, adam = _convert(self.conv.to_matrix, state.params, state.opt_state)
        return dataclasses.replace(
            self.run, step=state.step, params=params, adam=adam,
            batch_rng=self.batches.rng_state_after(state.step), history=self.history,
            seconds=self.run.seconds + time.perf_counter() - self.t0,
        )

    def save(self, state: TrainState) -> RunState:
        run = self.snapshot(state)
        atomic_write_text(self.ckpt, json.dumps(run.to_json()) + "\n")
        return run

    def predict(self, params: Any, x: Any) -> Matrix[float]:
        y = self.model.apply(params, self.conv.to_backend(x))
        out: Matrix[float] = self.conv.to_matrix(y if self.spec.link is None
                                                 else self.spec.link(y))
        return out

    def batch_psnr(self, r: StepReport) -> float:
        """The PSNR of the step's batch: read off an MSE loss, else measured after the
        update."""
        if self.spec.loss_is_pixel_mse:
            return _psnr_from_mse(r.loss)
        Y = self.conv.to_matrix(r.batch[1])
        pred = self.predict(r.params, r.batch[0])
        return _psnr_from_mse(_mse_rows(pred, Y, list(range(Y.shape[0]))))

    def on_step(self, r: StepReport) -> None:
        psnr_now = self.batch_psnr(r)
        self.history["step"].append(r.step)
        self.history["psnr"].append(psnr_now)
        held = self.data.held_rows
        if held and (r.step % self.cfg.eval_every == 0 or r.step == self.cfg.steps):
            pred = self.predict(r.params, self.data.coords)
            self.history["holdout_step"].append(r.step)
            self.history["holdout"].append(_psnr_from_mse(_mse_rows(pred, self.data.targets,
                                                                    held)))
        if self.progress is not None:
            self.progress(r.step, r.loss, psnr_now)
        if r.step % self.cfg.checkpoint_every == 0:
            self.save(r)

    def on_interrupt(self, state: TrainState) -> None:
        self.save(state)
        self.interrupted = state  # only once the checkpoint is written

    def advice(self, step: int) -> str:
        rate = learning_rate_at(self.cfg.learning_rate(), step - 1)
        return f"try a smaller --lr (the learning rate was {rate!r})"

    def train(self, out_dir: Path) -> RunState:
        """Train to ``cfg.steps`` and save the final checkpoint; :class:`Interrupted` on
        Ctrl-C, after saving a checkpoint of the last finished step."""
        step_fn = nn.make_step(self.model, self.spec.loss, nn.Adam(self.cfg.learning_rate()))
        params, adam = _convert(self.conv.to_backend, self.run.params, self.run.adam)
        batches = itertools.islice(self.batches, max(0, self.cfg.steps - self.run.step))
        self.t0 = time.perf_counter()
        try:
            end = train_loop(step_fn, TrainState(self.run.step, params, adam), batches,
                             on_step=self.on_step, on_interrupt=self.on_interrupt,
                             advice=self.advice)
        except KeyboardInterrupt:
            if self.interrupted is None:  # Ctrl-C again while saving: nothing to report
                raise
            raise Interrupted(self.interrupted.step, out_dir) from None
        return self.save(end)


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
        nbrs = [(i + di) * w + (j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= i + di < h and 0 <= j + dj < w]
        for k in range(c):
            guess = sum(t[q * c + k] for q in nbrs) / len(nbrs)
            total += (guess - t[r * c + k]) ** 2
    return _psnr_from_mse(total / (len(held) * c))


def _measure(cfg: ReconstructConfig, data: _Data, run: RunState) -> tuple[dict[str, Any], Image]:
    """The metrics of the trained run (on the reference path) and its reconstruction."""
    spec, image, targets = cfg.spec, data.image, data.targets
    h, w = image.shape
    y = build_model(cfg, image.num_channels).apply(run.params, data.coords)
    full: Matrix[float] = y if spec.link is None else spec.link(y)
    recon = prediction_to_image(full.map(lambda v: min(max(v, 0.0), 1.0)), h, w)
    metrics: dict[str, Any] = {
        "psnr_db": _psnr_from_mse(_mse_rows(full, targets, data.train_rows)),
        "ssim": ssim(image, recon),
        "steps": run.step,
        "seconds": round(run.seconds, 3),
        "n_params": nn.n_params(run.params),
        "n_pixels": h * w,
        "model": cfg.model, "width": cfg.width, "depth": cfg.depth, "lr": cfg.lr,
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
        metrics["holdout_neighbour_baseline_db"] = neighbour_baseline(targets, h, w,
                                                                      data.held_rows)
    if all(v in (0.0, 1.0) for v in targets.data):
        hits = sum((p > 0.5) == (t > 0.5) for p, t in zip(full.data, targets.data, strict=True))
        metrics["pixel_accuracy"] = hits / len(targets.data)
    return metrics, recon


# ------------------------------------------------------------------------ write
def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OSError(f"the output folder {out} is not writable")


def _write_png(path: Path, pil_image: Any) -> None:
    buf = io.BytesIO()
    pil_image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def _write_outputs(out_dir: Path, cfg: ReconstructConfig, image: Image, recon: Image,
                   run: RunState, metrics: dict[str, Any]) -> None:
    """Every output file but the checkpoint (already written by training)."""
    hist = run.history
    extra = []
    if hist["holdout"]:
        extra.append(("held-out pixels", hist["holdout_step"], hist["holdout"]))
    baselines = []
    if "holdout_neighbour_baseline_db" in metrics:
        baselines.append(("neighbour average", metrics["holdout_neighbour_baseline_db"]))
    _write_png(out_dir / "original.png", to_pil(image))
    _write_png(out_dir / "reconstruction.png", to_pil(recon))
    _write_png(out_dir / "comparison.png", comparison_image(image, recon))
    _write_png(
        out_dir / "curve.png",
        curve_image(hist["step"], hist["psnr"], label="training pixels",
                    title=f"{cfg.model}: PSNR during training", extra=extra,
                    baselines=baselines),
    )
    nn.save_params(out_dir / "params.json", run.params)
    atomic_write_text(out_dir / "metrics.json", json.dumps(_jsonable(metrics), indent=2) + "\n")


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in d.items()}


# ------------------------------------------------------------------------ the run
def reconstruct(
    config: ReconstructConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    progress: Callable[[int, float, float], None] | None = None,
) -> ReconstructResult:
    """Train the configured network on the image and write the results into ``out``.

    ``out`` defaults to ``runs/<image>-<model>-<seed>``. ``progress(step, loss, psnr_db)``
    is called after every step. Raises :class:`~refnn.image.ImageError` for a bad image,
    :class:`ConfigError` for a bad setting, :class:`CheckpointError` for a bad checkpoint
    on ``resume``, :class:`~refnn.TrainingDiverged` when the loss stops being finite,
    :class:`Interrupted` on Ctrl-C (after saving a checkpoint), and ``OSError`` for an
    unusable folder. Nothing is written before the image has loaded and the folder has
    been checked.
    """
    cfg = (config or ReconstructConfig()).resolved()
    data = _load_data(cfg)
    out_dir = Path(out) if out is not None else Path(
        "runs", f"{image_label(cfg.image)}-{cfg.model}-{cfg.seed}"
    )
    conv = _Converters.load(cfg.backend)
    ckpt = out_dir / "checkpoint.json"
    run = _fresh_state(cfg, data.image, build_model(cfg, data.image.num_channels))
    if resume:
        run = _load_checkpoint(ckpt, run)
    _prepare_out(out_dir)
    run = _Session(cfg, data, conv, run, ckpt, progress).train(out_dir)
    metrics, recon = _measure(cfg, data, run)
    _write_outputs(out_dir, cfg, data.image, recon, run, metrics)
    return ReconstructResult(metrics, out_dir, recon)
