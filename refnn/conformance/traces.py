"""Training traces: whole training runs as golden files (``traces/<name>.json``).

Per-op vectors cannot catch wiring mistakes (a weight used transposed, a bias gradient
summed over the wrong axis, an optimiser without bias correction); a whole training step
does. Each trace fixes the data, the model (a list of layers), the loss, the optimiser and
the initial parameters, and records for each of a few steps the loss at the current
parameters, the gradient of every parameter, and every parameter after the update.

**Expected values** are the exact values of that training run at the float64 data, initial
parameters and hyper-parameters, computed at 60 significant digits (the registry's kernels
and VJPs on ``mpmath`` matrices, driven by :mod:`refnn.nn` itself) and then correctly
rounded to float64.

**Tolerances** (absolute, one per number) are derived by first-order error propagation:
the same run is made on the *magnitude backend* of :mod:`refnn.conformance._exact`, whose
every op call returns, beside its exact value, the error a float64 computation of it may
carry when each op meets its own stated bound (``ErrorBound``) and its inputs carry the
errors propagated so far (``|J|·err_in + own allowance``). Errors flow through the forward
pass, the backward pass, the optimiser update and on into the next step. The tolerance is
:data:`TOLERANCE_FACTOR` times that bound, rounded up to a double: the factor covers an
implementation that groups the same mathematics differently from refnn's op sequence
(``g·(1 − y²)`` instead of ``g − g·y²``, the analytic ``(σ(z) − y)/m`` instead of the
softplus VJP) and the second-order terms the first-order bound leaves out.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath

from refnn import nn
from refnn.conformance import _exact as ex
from refnn.matrix import Matrix

__all__ = [
    "TOLERANCE_FACTOR",
    "TRACE_FORMAT",
    "TRACE_NAMES",
    "TRACE_VERSION",
    "StepRecord",
    "TraceCheck",
    "build_model",
    "check_trace",
    "compute_trace",
    "export_traces",
    "record_run",
    "run_trace",
]

TRACE_FORMAT = "refnn-training-trace"
TRACE_VERSION = 2
#: Tolerance = this factor × the first-order error bound of the whole run (module docstring).
TOLERANCE_FACTOR = 4
TRACE_NAMES = ("spiral_mlp_sgd", "siren_adam", "linear_momentum")

_LAYER_MEANING = {
    "dense": "y = x·W + b: x is batch×in (one example per row), W is in×out, b is the 1×out "
    "row added to every row of x·W (ops matmul then add_row)",
    "tanh": "y = tanh(x), element-wise",
    "sine": "y = sin(omega0·x), element-wise; omega0·x is rounded to a double first "
    "(ops scale then sin)",
}
_LOSS_MEANING = {
    "bce_with_logits": "binary cross-entropy of the sigmoid output p = σ(z) against targets "
    "y, from the logits z (the last layer's output), in the stable form "
    "loss = mean(softplus(z) − y·z) = mean(−y·log p − (1 − y)·log(1 − p)); "
    "its gradient with respect to z is (σ(z) − y)/m for m entries",
    "mse": "loss = mean((p − y)²) over all m entries; gradient 2·(p − y)/m",
}
_OPT_MEANING = {
    "sgd": "θ ← θ − lr·g",
    "momentum": "v ← momentum·v + g; θ ← θ − lr·v (v starts at 0; PyTorch's convention)",
    "adam": "t = step number (1 for the first); m ← b1·m + (1 − b1)·g; "
    "v ← b2·v + (1 − b2)·g²; m̂ = m/(1 − b1ᵗ); v̂ = v/(1 − b2ᵗ); "
    "θ ← θ − lr·m̂/(√v̂ + eps) (m and v start at 0; Kingma & Ba with bias "
    "correction). refnn computes it as θ − (lr/(1 − b1ᵗ))·m / (√((1/(1 − b2ᵗ))·v) + eps) "
    "with the scalar constants in float64",
}


# ------------------------------------------------------------------ the definitions
@dataclass(frozen=True)
class _TraceDef:
    name: str
    description: str
    layers: tuple[dict[str, Any], ...]
    loss: str
    optimizer: dict[str, Any]
    X: Matrix[float]
    Y: Matrix[float]
    seed: int
    steps: int


def _spiral_points(n: int) -> tuple[list[list[float]], list[list[float]]]:
    """n points on each arm of a two-arm spiral (label 1 on one arm, 0 on the other)."""
    xs: list[list[float]] = []
    ys: list[list[float]] = []
    for k in range(n):
        r = (k + 1) / n
        t = 2 * math.pi * 1.5 * r
        x, y = round(r * math.cos(t), 3), round(r * math.sin(t), 3)
        xs += [[x, y], [-x, -y]]
        ys += [[1.0], [0.0]]
    return xs, ys


def _definitions() -> dict[str, _TraceDef]:
    # a table of the three traces (data, layers, optimiser), not logic: kept in one place
    sx, sy = _spiral_points(3)
    pix = [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]
    gray = [[0.1], [0.5], [0.9], [0.3], [0.7], [0.2]]
    lx = [
        [0.5, -1.0, 2.0],
        [1.5, 0.25, -0.5],
        [-1.0, 0.75, 1.0],
        [2.0, -0.5, 0.0],
        [0.0, 1.0, -1.5],
        [-0.5, -0.25, 0.5],
    ]
    w_true, b_true = (0.7, -1.2, 0.4), 0.3
    ly = [
        [round(sum(a * w for a, w in zip(r, w_true, strict=True)) + b_true + 0.01 * ((-1) ** k), 6)]
        for k, r in enumerate(lx)
    ]
    defs = [
        _TraceDef(
            "spiral_mlp_sgd",
            "The article's pieces on six spiral points: 2→4→4→1 with tanh hidden layers, a "
            "sigmoid output trained by binary cross-entropy (from the logits), plain SGD.",
            (
                {"kind": "dense", "in": 2, "out": 4},
                {"kind": "tanh"},
                {"kind": "dense", "in": 4, "out": 4},
                {"kind": "tanh"},
                {"kind": "dense", "in": 4, "out": 1},
            ),
            "bce_with_logits",
            {"kind": "sgd", "lr": 0.5},
            Matrix(sx),
            Matrix(sy),
            seed=11,
            steps=4,
        ),
        _TraceDef(
            "siren_adam",
            "A small SIREN (2→6→1: one layer of sine units sin(30·(xW₁ + b₁)), a linear "
            "output; the SIREN initialisation of refnn.nn.siren) fitting six gray levels at "
            "pixel coordinates in [−1, 1]², mean squared error, Adam.",
            (
                {"kind": "dense", "in": 2, "out": 6},
                {"kind": "sine", "omega0": 30.0},
                {"kind": "dense", "in": 6, "out": 1},
            ),
            "mse",
            {"kind": "adam", "lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
            Matrix(pix),
            Matrix(gray),
            seed=12,
            steps=4,
        ),
        _TraceDef(
            "linear_momentum",
            "Linear regression y ≈ x·W + b on six points of three features, mean squared "
            "error, SGD with momentum 0.9.",
            ({"kind": "dense", "in": 3, "out": 1},),
            "mse",
            {"kind": "momentum", "lr": 0.05, "momentum": 0.9},
            Matrix(lx),
            Matrix(ly),
            seed=13,
            steps=4,
        ),
    ]
    return {d.name: d for d in defs}


# ------------------------------------------------------------------ models from a trace
def _param_names(layers: Sequence[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(layer index, key in the layer's params, public name) in the order of the file."""
    out: list[tuple[int, str, str]] = []
    d = 0
    for k, layer in enumerate(layers):
        if layer["kind"] == "dense":
            d += 1
            out += [(k, "W", f"W{d}"), (k, "b", f"b{d}")]
    return out


def _number(x: Any) -> float:
    if isinstance(x, dict):
        return float.fromhex(x["hex"])
    return float(x)


def build_model(layers: Sequence[dict[str, Any]]) -> nn.Sequential:
    """The :mod:`refnn.nn` model a trace's ``layers`` list describes."""
    out: list[nn.Layer] = []
    for layer in layers:
        kind = layer["kind"]
        if kind == "dense":
            out.append(nn.Dense(int(layer["in"]), int(layer["out"])))
        elif kind == "tanh":
            out.append(nn.Tanh())
        elif kind == "sine":
            out.append(nn.Sine(_number(layer["omega0"])))
        else:
            raise ValueError(f"unknown layer kind {kind!r} in a trace")
    return nn.Sequential(*out)


def _loss_fn(kind: str) -> Callable[[Any, Any], Any]:
    if kind == "bce_with_logits":
        return nn.binary_cross_entropy_with_logits
    if kind == "mse":
        return nn.mse
    raise ValueError(f"unknown loss {kind!r} in a trace")


def _optimizer(o: dict[str, Any]) -> nn.Optimizer:
    kind = o["kind"]
    if kind == "sgd":
        return nn.SGD(_number(o["lr"]))
    if kind == "momentum":
        return nn.SGD(_number(o["lr"]), momentum=_number(o["momentum"]))
    if kind == "adam":
        return nn.Adam(_number(o["lr"]), _number(o["b1"]), _number(o["b2"]), _number(o["eps"]))
    raise ValueError(f"unknown optimizer {kind!r} in a trace")


def _params_tree(layers: Sequence[dict[str, Any]], named: dict[str, Any]) -> tuple[Any, ...]:
    tree: list[Any] = [() for _ in layers]
    for k, key, name in _param_names(layers):
        if tree[k] == ():
            tree[k] = {}
        tree[k][key] = named[name]
    return tuple(tree)


def _named(layers: Sequence[dict[str, Any]], tree: Any) -> list[tuple[str, Any]]:
    return [(name, tree[k][key]) for k, key, name in _param_names(layers)]


# ------------------------------------------------------------------ numbers in files
def _num(x: float) -> dict[str, str]:
    return {"decimal": repr(x), "hex": x.hex()}


def _matrix(shape: tuple[int, int], values: Sequence[float]) -> dict[str, Any]:
    return {
        "rows": shape[0],
        "cols": shape[1],
        "decimal": [repr(v) for v in values],
        "hex": [v.hex() for v in values],
    }


def _read_matrix(obj: dict[str, Any]) -> Matrix[float]:
    vals = [float.fromhex(h) for h in obj["hex"]]
    if [float(d) for d in obj["decimal"]] != vals:
        raise ValueError("a matrix's decimal and hex forms differ")
    return Matrix.from_flat(int(obj["rows"]), int(obj["cols"]), vals)


def _tol(x: Any) -> float:
    t = ex.round_float(TOLERANCE_FACTOR * x)
    return t if mpmath.mpf(t) >= TOLERANCE_FACTOR * x else math.nextafter(t, math.inf)


# ------------------------------------------------------------------ computing a trace
def _leaf(A: Matrix[float]) -> Any:
    mp = ex.to_mp(A)
    zero = Matrix.from_flat(A.shape[0], A.shape[1], [mpmath.mpf(0)] * A.size)
    absmp = Matrix.from_flat(A.shape[0], A.shape[1], [abs(v) for v in mp.data])
    return ex._Mag(mp, absmp, zero)


def _out(v: Matrix[Any], m: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An exact value (mpmath matrix) rounded, and its tolerance from the magnitude run."""
    vals = [ex.round_float(x) for x in v.data]
    return _matrix(v.shape, vals), _matrix(v.shape, [_tol(e) for e in m.err.data])


def _steps(d: Any, model: Any, params: Any) -> list[dict[str, Any]]:
    """Every step of a trace at high precision, each number with its tolerance."""
    opt = _optimizer(d.optimizer)
    loss = _loss_fn(d.loss)
    vg = nn.value_and_grad(lambda p, x, y: loss(model.apply(p, x), y))
    steps: list[dict[str, Any]] = []
    with ex.precise():
        # values: refnn.nn on mpmath matrices (every constant exact, 1/m of a mean included);
        # bounds: the same run on the magnitude backend (module docstring)
        P, Pm = nn.tree_map(ex.to_mp, params), nn.tree_map(_leaf, params)
        X, Y, Xm, Ym = ex.to_mp(d.X), ex.to_mp(d.Y), _leaf(d.X), _leaf(d.Y)
        state, state_m = opt.init(P), opt.init(Pm)
        for k in range(1, d.steps + 1):
            L, G = vg(P, X, Y)
            P, state = opt.update(G, state, P)
            Lm, Gm = vg(Pm, Xm, Ym)
            Pm, state_m = opt.update(Gm, state_m, Pm)
            lv, lt = _out(L, Lm)
            grads, after = [], []
            for (gname, g), (_, gm), (_, p), (_, pm) in zip(
                _named(d.layers, G),
                _named(d.layers, Gm),
                _named(d.layers, P),
                _named(d.layers, Pm),
                strict=True,
            ):
                gv, gt = _out(g, gm)
                pv, pt = _out(p, pm)
                grads.append({"name": gname, "value": gv, "tolerance": gt})
                after.append({"name": gname, "value": pv, "tolerance": pt})
            steps.append(
                {
                    "step": k,
                    "loss": {"decimal": lv["decimal"][0], "hex": lv["hex"][0]},
                    "loss_tolerance": {"decimal": lt["decimal"][0], "hex": lt["hex"][0]},
                    "grads": grads,
                    "params_after": after,
                }
            )
    return steps


def _layers_doc(d: Any) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for layer in d.layers:
        entry: dict[str, Any] = {"kind": layer["kind"]}
        for key, val in layer.items():
            if key != "kind":
                entry[key] = _num(val) if isinstance(val, float) else val
        if layer["kind"] == "dense":
            n = sum(1 for x in layers if x["kind"] == "dense") + 1
            entry["weight"], entry["bias"] = f"W{n}", f"b{n}"
        entry["meaning"] = _LAYER_MEANING[layer["kind"]]
        layers.append(entry)
    return layers


@functools.cache
def _compute(name: str) -> str:
    d = _definitions()[name]
    model = build_model(d.layers)
    init_model = nn.siren(2, 6, 1, 1, 30.0) if d.name == "siren_adam" else model
    params = init_model.init(random.Random(d.seed))
    steps = _steps(d, model, params)
    layers = _layers_doc(d)
    optimizer: dict[str, Any] = {"kind": d.optimizer["kind"]}
    optimizer.update({k: _num(float(v)) for k, v in d.optimizer.items() if k != "kind"})
    optimizer["rule"] = _OPT_MEANING[d.optimizer["kind"]]
    doc = {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "name": d.name,
        "description": d.description,
        "digits": ex.DPS,
        "layers": layers,
        "loss": {"kind": d.loss, "meaning": _LOSS_MEANING[d.loss]},
        "optimizer": optimizer,
        "data": {"X": _matrix(d.X.shape, d.X.data), "Y": _matrix(d.Y.shape, d.Y.data)},
        "initial_params": [
            {"name": n, "value": _matrix(p.shape, p.data)} for n, p in _named(d.layers, params)
        ],
        "step_meaning": "each step: loss = the loss at the parameters before the update; "
        "grads = ∂loss/∂θ at those parameters; params_after = θ after the "
        "optimiser's update",
        "tolerance": {
            "method": "first-order error propagation through the whole run (forward, "
            "backward, update, next step), each op allowed its stated bound; "
            f"tolerance = {TOLERANCE_FACTOR} × that bound, rounded up",
            "factor": TOLERANCE_FACTOR,
            "compare": "|got − expected| ≤ tolerance for every number",
        },
        "steps": steps,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def compute_trace(name: str) -> dict[str, Any]:
    """The trace document ``name`` (one of :data:`TRACE_NAMES`), JSON-ready."""
    if name not in TRACE_NAMES:
        raise ValueError(f"unknown trace {name!r}; the traces are {', '.join(TRACE_NAMES)}")
    doc: dict[str, Any] = json.loads(_compute(name))
    return doc


def export_traces(directory: str | os.PathLike[str]) -> list[str]:
    """Write ``<directory>/<name>.json`` for every trace; return the paths written."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name in TRACE_NAMES:
        path = os.path.join(directory, f"{name}.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_compute(name))
        os.replace(tmp, path)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ running and checking
@dataclass
class StepRecord:
    """What an implementation produced at one step (float reference matrices)."""

    loss: float
    grads: dict[str, Matrix[Any]]
    params_after: dict[str, Matrix[Any]]


@dataclass
class TraceCheck:
    """The verdict on one trace: numbers compared, and the first failure (``None``: pass)."""

    name: str
    compared: int = 0
    first_failure: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.first_failure is None


def record_run(
    doc: dict[str, Any],
    step_fn: Callable[[Any, Any, Any, Any], tuple[Any, Any, Any, Any]],
    init_state: Callable[[Any], Any],
    to_matrix: Callable[[Any], Matrix[Any]] = lambda a: a,
    from_matrix: Callable[[Matrix[Any]], Any] = lambda a: a,
) -> list[StepRecord]:
    """Run a trace with any training implementation.

    ``step_fn(params, state, X, Y) -> (loss, grads, new_params, new_state)`` with ``params``
    and ``grads`` the pytree of :func:`build_model` (a tuple over layers of ``{"W", "b"}``
    dicts). ``to_matrix``/``from_matrix`` convert from/to a backend's arrays.
    """
    layers = doc["layers"]
    named = {p["name"]: from_matrix(_read_matrix(p["value"])) for p in doc["initial_params"]}
    params: Any = _params_tree(layers, named)
    X = from_matrix(_read_matrix(doc["data"]["X"]))
    Y = from_matrix(_read_matrix(doc["data"]["Y"]))
    state = init_state(params)
    out = []
    for _ in doc["steps"]:
        loss, grads, params, state = step_fn(params, state, X, Y)
        out.append(
            StepRecord(
                loss=float(to_matrix(loss).data[0]),
                grads={n: to_matrix(g) for n, g in _named(layers, grads)},
                params_after={n: to_matrix(p) for n, p in _named(layers, params)},
            )
        )
    return out


def run_trace(doc: dict[str, Any], backend: str | Any = "reference") -> list[StepRecord]:
    """Run a trace through :mod:`refnn.nn` on a backend (``"reference"``, ``"numpy"``, …)."""
    from refnn.backends import load

    be = load(backend)
    model = build_model(doc["layers"])
    opt = _optimizer(doc["optimizer"])
    loss = _loss_fn(doc["loss"]["kind"])
    vg = nn.value_and_grad(lambda p, x, y: loss(model.apply(p, x), y))

    def step(params: Any, state: Any, X: Any, Y: Any) -> tuple[Any, Any, Any, Any]:
        L, G = vg(params, X, Y)
        new, st = opt.update(G, state, params)
        return L, G, new, st

    return record_run(doc, step, opt.init, be.to_matrix, be.from_matrix)


def _cmp_matrix(
    where: str, got: Matrix[Any], want: dict[str, Any], tol: dict[str, Any], chk: TraceCheck
) -> None:
    w, t = _read_matrix(want), _read_matrix(tol)
    if got.shape != w.shape:
        chk.failures.append(
            f"{where}: shape {got.shape[0]}×{got.shape[1]}, expected {w.shape[0]}×{w.shape[1]}"
        )
        return
    n = w.shape[1]
    for k, (g, e, a) in enumerate(zip(got.data, w.data, t.data, strict=True)):
        chk.compared += 1
        err = abs(float(g) - e)
        if not err <= a:
            chk.failures.append(
                f"{where} entry [{k // n + 1}, {k % n + 1}]: got {float(g)!r}, expected "
                f"{e!r}, |error| {err:.3g} > tolerance {a:.3g}"
            )


def check_trace(doc: dict[str, Any], observed: Sequence[StepRecord]) -> TraceCheck:
    """Compare a run with the trace, step by step in order: the loss, then each parameter's
    gradient, then each parameter after the update. ``first_failure`` names the first step
    and quantity that disagree (later steps are still compared and listed in ``failures``).
    """
    chk = TraceCheck(doc["name"])
    for rec, step in zip(observed, doc["steps"], strict=True):
        k = step["step"]
        chk.compared += 1
        want, tol = _number(step["loss"]), _number(step["loss_tolerance"])
        if not abs(rec.loss - want) <= tol:
            chk.failures.append(
                f"step {k} loss: got {rec.loss!r}, expected {want!r}, "
                f"|error| {abs(rec.loss - want):.3g} > tolerance {tol:.3g}"
            )
        for g in step["grads"]:
            _cmp_matrix(
                f"step {k} gradient of {g['name']}",
                rec.grads[g["name"]],
                g["value"],
                g["tolerance"],
                chk,
            )
        for p in step["params_after"]:
            _cmp_matrix(
                f"step {k} {p['name']} after the update",
                rec.params_after[p["name"]],
                p["value"],
                p["tolerance"],
                chk,
            )
    chk.first_failure = chk.failures[0] if chk.failures else None
    return chk
