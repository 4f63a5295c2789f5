"""The PyTorch backend's ``device`` option: values live on the chosen device, a training step
there matches the reference, and a device this machine lacks is refused with a clear error.

Only the CPU path runs everywhere; CUDA and MPS are exercised where PyTorch reports them
available, and otherwise their refusal is checked."""

from __future__ import annotations

import random
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from refnn import Matrix, nn  # noqa: E402
from refnn.backends import load  # noqa: E402
from refnn.backends.torch import TorchBackend, TorchMatrix  # noqa: E402


def _step_on(backend: Any) -> tuple[float, list[Matrix[float]]]:
    rng = random.Random(3)
    model = nn.mlp([2, 5, 1], "tanh")
    params = model.init(rng)
    X = Matrix.from_flat(7, 2, [rng.uniform(-1, 1) for _ in range(14)])
    Y = Matrix.from_flat(7, 1, [rng.uniform(-1, 1) for _ in range(7)])
    opt = nn.Adam(1e-2)
    if backend is not None:
        params = nn.tree_map(backend.from_matrix, params)
        X, Y = backend.from_matrix(X), backend.from_matrix(Y)
    step = nn.make_step(model, nn.mse, opt)
    state = opt.init(params)
    for _ in range(3):
        params, state, loss = step(params, state, X, Y)
    leaves = nn.tree_leaves(params)
    if backend is not None:
        leaves = [backend.to_matrix(p) for p in leaves]
    return float(loss), leaves


def test_cpu_device_keeps_values_on_the_cpu_and_trains_like_the_reference() -> None:
    be = load(TorchBackend(device="cpu"))
    x = be.from_matrix(Matrix([[1.0, -2.0], [0.5, 3.0]]))
    assert isinstance(x, TorchMatrix) and x.device == torch.device("cpu")
    assert (x @ x).device == torch.device("cpu")
    assert "cpu" in repr(be)
    loss_t, leaves_t = _step_on(be)
    loss_r, leaves_r = _step_on(None)
    assert abs(loss_t - loss_r) <= 1e-12 * max(1.0, abs(loss_r))
    for a, b in zip(leaves_t, leaves_r, strict=True):
        assert a.allclose(b, rtol=1e-10, atol=1e-12)


def test_float32_on_the_cpu_is_float32_and_close_to_the_reference() -> None:
    be = load(TorchBackend(device="cpu", dtype="float32"))
    x = be.from_matrix(Matrix([[0.1, 0.2]]))
    assert x.tensor.dtype == torch.float32
    y = be.to_matrix(x @ x.T)
    assert abs(y[1, 1] - 0.05) < 1e-6
    load("torch")  # float64 values again for the tests that follow


@pytest.mark.parametrize(
    "device, message",
    [
        ("tpu", "unknown torch device 'tpu'"),
        ("gpu", "choose cpu, cuda"),
    ],
)
def test_unknown_device_is_refused(device: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TorchBackend(device=device)


def test_unknown_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        TorchBackend(dtype="float16")


def test_cuda_works_where_available_and_is_refused_clearly_elsewhere() -> None:
    if torch.cuda.is_available():
        be = TorchBackend(device="cuda")
        assert be.from_matrix(Matrix([[1.0]])).device.type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no usable CUDA device"):
            TorchBackend(device="cuda")


def test_mps_needs_float32_and_is_refused_clearly_where_missing() -> None:
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        with pytest.raises(ValueError, match="no float64"):
            TorchBackend(device="mps")
        assert TorchBackend(device="mps", dtype="float32").device.type == "mps"
    else:
        with pytest.raises(RuntimeError, match="no usable MPS device"):
            TorchBackend(device="mps")


def test_sqrt_is_correctly_rounded_like_math_sqrt() -> None:
    """torch 2.13's CPU float64 sqrt can be one ulp off (sqrt(0.5), sqrt(2)); the backend's
    kernel must agree with IEEE's correctly rounded square root (Python's math.sqrt)."""
    import math

    from hypothesis import given
    from hypothesis import strategies as st

    from refnn import ops

    be = load("torch")

    edges = [0.5, 2.0, 0.0, -0.0, 5e-324, 2.2e-308, 1.7e308, math.inf]

    @given(st.lists(st.floats(min_value=0.0, allow_infinity=False), min_size=1, max_size=40))
    def check(xs: list[float]) -> None:
        xs = [*edges, *xs]
        got = be.to_matrix(ops.sqrt(be.from_matrix(Matrix([xs])))).data
        want = [math.sqrt(x) for x in xs]
        assert list(got) == want
        assert [math.copysign(1.0, g) for g in got] == [math.copysign(1.0, w) for w in want]

    check()


# ------------------------------------------------------------- refnn reconstruct --device
def _run(tmp: Any, name: str, **kw: Any) -> Any:
    from refnn.reconstruct import ReconstructConfig, reconstruct

    cfg = ReconstructConfig(size=6, width=6, depth=1, steps=4, lr_decay=1.0, **kw)
    return reconstruct(cfg, tmp / name)


def test_reconstruct_on_the_cpu_device_is_the_plain_torch_run_bit_for_bit(tmp_path: Any) -> None:
    on_cpu = _run(tmp_path, "cpu", backend="torch", device="cpu")
    _run(tmp_path, "plain", backend="torch")
    reference = _run(tmp_path, "ref")
    assert (tmp_path / "cpu" / "params.json").read_bytes() == (
        tmp_path / "plain" / "params.json"
    ).read_bytes()
    assert abs(on_cpu.metrics["psnr_db"] - reference.metrics["psnr_db"]) < 1e-9


def test_a_run_on_a_device_resumes_without_it(tmp_path: Any) -> None:
    """The device is not part of a run's identity, like the backend: a checkpoint written on
    one device continues on another (here: the CPU named, then the default)."""
    from refnn.reconstruct import ReconstructConfig, reconstruct

    small = {"size": 6, "width": 6, "depth": 1, "lr_decay": 1.0, "backend": "torch"}
    reconstruct(ReconstructConfig(steps=2, device="cpu", **small), tmp_path / "r")
    reconstruct(ReconstructConfig(steps=4, **small), tmp_path / "r", resume=True)
    reconstruct(ReconstructConfig(steps=4, device="cpu", **small), tmp_path / "whole")
    assert (tmp_path / "r" / "params.json").read_bytes() == (
        tmp_path / "whole" / "params.json"
    ).read_bytes()


def test_the_command_takes_device(tmp_path: Any, capsys: Any) -> None:
    from refnn.cli import main

    out = tmp_path / "run"
    args = ["reconstruct", "--size", "4", "--width", "4", "--depth", "1", "--steps", "2"]
    assert main([*args, "--backend", "torch", "--device", "cpu", "--out", str(out)]) == 0
    assert "(device cpu)" in capsys.readouterr().out
    assert (out / "metrics.json").exists()


@pytest.mark.parametrize(
    "device, message",
    [
        ("tpu", "--device tpu: unknown torch device 'tpu'"),
        *([] if torch.cuda.is_available() else [("cuda", "--device cuda: .*no usable CUDA")]),
    ],
)
def test_an_unusable_device_is_one_line_and_no_folder(
    tmp_path: Any, capsys: Any, device: str, message: str
) -> None:
    import re

    from refnn.cli import main

    out = tmp_path / "run"
    code = main(["reconstruct", "--backend", "torch", "--device", device, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and re.search(message, err), err
    assert not out.exists()
