"""Tiefenrausch without PyTorch, in both runtimes (ONNX Runtime, OpenCV DNN): the ONNX writer
(decoded with an independent protobuf description), the translated graph's semantics on a small
synthetic network, the official pumpkin output, the registry, which backend is the default, and
the worker with torch made unimportable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pipeline.depth import BACKENDS, translation_cache
from pipeline.depth import onnx_writer as ow
from pipeline.depth import tiefenrausch_float as tf
from pipeline.depth import tiefenrausch_graph as tg
from pipeline.depth import tiefenrausch_onnx as to
from pipeline.depth import tiefenrausch_opencv as tc
from pipeline.depth.availability import (
    TORCH_DEFAULT,
    TORCHLESS_DEFAULT,
    TORCHLESS_FALLBACK,
    backend_status,
    default_network,
    installed,
    torch_installed,
)
from pipeline.errors import ModelError

REPO = Path(__file__).resolve().parents[2]
TR = REPO / ".." / "shared" / "reference" / "tiefenrausch"
NET, INIT = TR / "tiefenrausch.pb", TR / "tiefenrausch_init.pb"
HAVE_FILES = NET.is_file() and INIT.is_file()
needs_files = pytest.mark.skipif(
    not HAVE_FILES, reason=f"official Tiefenrausch files not present in {TR}"
)
HAVE_ORT = installed("onnxruntime")
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason="onnxruntime is not installed here")
# Both torch-free backends' modules; the ONNX Runtime one is skipped where it is not installed.
BACKEND_MODULES = [pytest.param(to, marks=needs_ort, id="onnx"), pytest.param(tc, id="opencv")]
needs_pumpkin = pytest.mark.skipif(
    not (HAVE_FILES and (TR / "pumpkin.npy").is_file() and (TR / "pumpkin.jpg").is_file()),
    reason=f"official pumpkin.jpg / pumpkin.npy not present in {TR}",
)


# --- the ONNX writer, read back with protobuf's own decoder --------------------------------


def _onnx_classes() -> dict[str, Any]:
    """Message classes for the subset of onnx.proto the writer emits, built at run time with
    the protobuf package from the field numbers of onnx/onnx.proto."""
    from google.protobuf import descriptor_pb2
    from helpers import proto_classes

    F = descriptor_pb2.FieldDescriptorProto
    M, S, I64, I32 = F.TYPE_MESSAGE, F.TYPE_STRING, F.TYPE_INT64, F.TYPE_INT32
    messages: list[tuple[str, list[tuple[str, int, int, bool, str]]]] = []

    def message(name: str, fields: list[tuple[str, int, int, bool, str]]) -> None:
        messages.append((name, fields))

    message(
        "Tensor",
        [
            ("dims", 1, I64, True, ""),
            ("data_type", 2, I32, False, ""),
            ("name", 8, S, False, ""),
            ("raw_data", 9, F.TYPE_BYTES, False, ""),
        ],
    )
    message(
        "Attribute",
        [
            ("name", 1, S, False, ""),
            ("f", 2, F.TYPE_FLOAT, False, ""),
            ("i", 3, I64, False, ""),
            ("s", 4, F.TYPE_BYTES, False, ""),
            ("floats", 7, F.TYPE_FLOAT, True, ""),
            ("ints", 8, I64, True, ""),
            ("type", 20, I32, False, ""),
        ],
    )
    message(
        "Node",
        [
            ("input", 1, S, True, ""),
            ("output", 2, S, True, ""),
            ("name", 3, S, False, ""),
            ("op_type", 4, S, False, ""),
            ("attribute", 5, M, True, "Attribute"),
        ],
    )
    message("Dim", [("dim_value", 1, I64, False, ""), ("dim_param", 2, S, False, "")])
    message("Shape", [("dim", 1, M, True, "Dim")])
    message("TensorType", [("elem_type", 1, I32, False, ""), ("shape", 2, M, False, "Shape")])
    message("Type", [("tensor_type", 1, M, False, "TensorType")])
    message("ValueInfo", [("name", 1, S, False, ""), ("type", 2, M, False, "Type")])
    message(
        "Graph",
        [
            ("node", 1, M, True, "Node"),
            ("name", 2, S, False, ""),
            ("initializer", 5, M, True, "Tensor"),
            ("input", 11, M, True, "ValueInfo"),
            ("output", 12, M, True, "ValueInfo"),
        ],
    )
    message("OpSet", [("domain", 1, S, False, ""), ("version", 2, I64, False, "")])
    message(
        "Model",
        [
            ("ir_version", 1, I64, False, ""),
            ("producer_name", 2, S, False, ""),
            ("graph", 7, M, False, "Graph"),
            ("opset_import", 8, M, True, "OpSet"),
        ],
    )
    return proto_classes("onnxtest", messages, ("Model",))


def test_varint_matches_protobuf_encoding() -> None:
    from google.protobuf.internal import encoder

    for value in (0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -2, -(2**31)):
        expected: list[bytes] = []
        encoder._VarintEncoder()(expected.append, value & (2**64 - 1), True)  # type: ignore[attr-defined]
        assert ow.varint(value) == b"".join(expected), value
    assert len(ow.varint(-1)) == 10  # int64 two's complement, as protobuf writes it


def test_model_bytes_decode_with_protobuf() -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = ow.GraphBuilder("g")
    b.add_input("x", [1, 3, "h", 8])
    b.node("Conv", ["x", b.constant("w", w)], ["y"], kernel_shape=[3, 3], group=1, alpha=0.5)
    b.node("Resize", ["y", "", b.constant("s", np.array([1, 1, 2, 2], np.float32))], ["z"])
    b.node("Add", ["z", "z"], ["out"], mode="nearest", pads=[-1, 2])
    b.constant("k", np.array([-5, 7], np.int64))
    b.add_output("out", [1, 4, 16, 16])
    model = _onnx_classes()["Model"].FromString(b.model_bytes(opset=13))
    assert model.ir_version == ow.IR_VERSION and model.producer_name == "oneshot3d"
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    g = model.graph
    assert g.name == "g" and [n.op_type for n in g.node] == ["Conv", "Resize", "Add"]
    assert list(g.node[1].input) == ["y", "", "s"] and g.node[0].name == "y"
    attrs = {a.name: a for a in g.node[0].attribute}
    assert list(attrs["kernel_shape"].ints) == [3, 3] and attrs["kernel_shape"].type == 7
    assert attrs["group"].i == 1 and attrs["group"].type == 2
    assert attrs["alpha"].f == 0.5 and attrs["alpha"].type == 1
    attrs = {a.name: a for a in g.node[2].attribute}
    assert attrs["mode"].s == b"nearest" and attrs["mode"].type == 3
    assert list(attrs["pads"].ints) == [-1, 2]
    inits = {t.name: t for t in g.initializer}
    assert list(inits["w"].dims) == [4, 3, 3, 3] and inits["w"].data_type == ow.FLOAT
    assert np.array_equal(np.frombuffer(inits["w"].raw_data, "<f4").reshape(w.shape), w)
    assert inits["k"].data_type == ow.INT64
    assert np.frombuffer(inits["k"].raw_data, "<i8").tolist() == [-5, 7]
    dims = g.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == [1, 3, "h", 8]
    assert g.output[0].name == "out" and g.output[0].type.tensor_type.elem_type == ow.FLOAT


def test_zero_dimensional_arrays_are_written_as_scalars() -> None:
    b = ow.GraphBuilder("s")
    b.add_input("x", [1, 3])
    lo, hi = (b.constant(n, np.array(v, np.float32)) for n, v in (("lo", -1.5), ("hi", 2.0)))
    b.node("Clip", ["x", lo, hi], ["y"])  # Clip's bounds must be scalars
    b.add_output("y", [1, 3])
    model = _onnx_classes()["Model"].FromString(b.model_bytes())
    inits = {t.name: t for t in model.graph.initializer}
    assert list(inits["lo"].dims) == [] and inits["lo"].data_type == ow.FLOAT
    assert np.frombuffer(inits["hi"].raw_data, "<f4").tolist() == [2.0]


def test_writer_rejects_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="float64"):
        ow.tensor("t", np.zeros(2))
    with pytest.raises(TypeError, match="bool"):
        ow.attribute("a", True)
    with pytest.raises(TypeError, match="unsupported"):
        ow.attribute("a", [1, 2.5])


# --- the translated graph against a numpy reference of the same semantics --------------------


def _conv_reference(x: np.ndarray, conv: tg.QConv, in_scale: float) -> np.ndarray:
    """Float conv with dequantised weights and the bias at in_scale * w_scale, zero padding."""
    w = (conv.weight.astype(np.float64) - conv.w_zp) * conv.w_scale
    bias = conv.bias.astype(np.float64) * in_scale * conv.w_scale
    xp = np.pad(x, ((0, 0), (conv.pad,) * 2, (conv.pad,) * 2))
    o, ipg, k, _ = w.shape
    c, hp, wp = xp.shape
    oh, ow_ = (hp - k) // conv.stride + 1, (wp - k) // conv.stride + 1
    out = np.zeros((o, oh, ow_))
    per_group = o // conv.groups
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, dy : dy + oh * conv.stride : conv.stride, dx : dx + ow_ * conv.stride]
            patch = patch[:, :, :: conv.stride]
            for g in range(conv.groups):
                ws = w[g * per_group : (g + 1) * per_group, :, dy, dx]
                xs = patch[g * ipg : (g + 1) * ipg]
                out[g * per_group : (g + 1) * per_group] += np.einsum("oc,chw->ohw", ws, xs)
    return out + bias[:, None, None]


def _synthetic_graph() -> tg.QGraph:
    """Input -> 3x3 conv stride 2 (ReLU grid) -> depthwise 3x3 (saturating grid) -> add of
    both (saturating) -> nearest x2 -> 1x1 conv to one channel: every kind of step, with
    scales chosen so that the clamps change the result."""
    rng = np.random.default_rng(7)

    def conv(inp: str, out: str, cin: int, cout: int, k: int, stride: int, groups: int) -> tg.QConv:
        return tg.QConv(
            inp=inp,
            out=out,
            weight=rng.integers(0, 256, (cout, cin // groups, k, k)).astype(np.uint8),
            w_zp=128,
            w_scale=0.02,
            bias=rng.integers(-2000, 2000, cout).astype(np.int32),
            stride=stride,
            pad=k // 2,
            groups=groups,
            out_scale=0.0,
            out_zp=0,
        )

    steps: list[tg.QConv | tg.QAdd | tg.QResize] = [
        conv("in", "a", 3, 8, 3, 2, 1),
        conv("a", "b", 8, 8, 3, 1, 8),
        tg.QAdd("a", "b", "c", 0.0, 0),
        tg.QResize("c", "d"),
        conv("d", "out", 8, 1, 1, 1, 1),
    ]
    qparams = {"in": (0.0077, 128), "a": (0.01, 0), "b": (0.004, 128), "c": (0.006, 128)}
    qparams["d"] = qparams["c"]
    qparams["out"] = (0.05, 128)
    for s in steps:
        if not isinstance(s, tg.QResize):
            s.out_scale, s.out_zp = qparams[s.out]
    return tg.QGraph("in", "out", 0.0077, 128, steps, qparams)


def _run_opencv(model: bytes, x: np.ndarray) -> np.ndarray:
    net = cv2.dnn.readNetFromONNX(np.frombuffer(model, np.uint8))
    net.setInput(x, tf.INPUT)
    return net.forward()  # type: ignore[no-any-return]


def _run_onnxruntime(model: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {tf.INPUT: x})[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "run", [pytest.param(_run_onnxruntime, marks=needs_ort, id="onnx"), _run_opencv]
)
def test_translated_graph_matches_numpy_reference(run: Any) -> None:
    graph = _synthetic_graph()
    rng = np.random.default_rng(1)
    x = ((rng.integers(0, 256, (3, 16, 24)) - 128) * 0.0077).astype(np.float64)
    vals = {"in": x}
    clamped = 0
    for step in graph.steps:
        if isinstance(step, tg.QConv):
            y = _conv_reference(vals[step.inp], step, graph.qparams[step.inp][0])
        elif isinstance(step, tg.QAdd):
            y = vals[step.a] + vals[step.b]
        else:
            vals[step.out] = vals[step.inp].repeat(2, axis=1).repeat(2, axis=2)
            continue
        s, zp = graph.qparams[step.out]
        lo, hi = (0 - zp) * s, (255 - zp) * s
        clamped += int(np.sum((y < lo) | (y > hi)))
        vals[step.out] = np.clip(y, lo, hi)
    assert clamped > 100  # the clamps matter in this network
    size = (16, 24) if run is _run_opencv else ("h", "w")  # ONNX Runtime checks sizes
    got = run(tf.onnx_model(graph, *size), x[None].astype(np.float32))
    assert got.shape == (1, 1, 16, 24)
    assert np.allclose(got[0], vals["out"], atol=2e-4, rtol=1e-4), np.abs(
        got[0] - vals["out"]
    ).max()


# --- the official network -------------------------------------------------------------------

# Runs in a fresh interpreter where importing torch raises, so the backend provably needs no
# torch; it reports what ended up in sys.modules.
_NO_TORCH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from pipeline.depth.registry import native_estimator
    from pipeline.io.image_io import read_photo
    from pipeline.settings import PipelineSettings
    photo = read_photo(sys.argv[2])
    settings = PipelineSettings(depth_backend=sys.argv[5], model_dir=sys.argv[3])
    np.save(sys.argv[4], native_estimator(sys.argv[5])(photo, settings))
    print(json.dumps({"torch": "torch" in sys.modules}))
    """
)


@needs_pumpkin
@pytest.mark.parametrize("module", BACKEND_MODULES)
def test_pumpkin_meets_the_reference_bar_without_torch(tmp_path: Path, module: Any) -> None:
    out = tmp_path / "disp.npy"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _NO_TORCH_SCRIPT,
            str(REPO),
            str(TR / "pumpkin.jpg"),
            str(TR),
            str(out),
            module.NAME,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"torch": False}
    ours, official = np.load(out), np.load(TR / "pumpkin.npy")
    assert ours.shape == official.shape == (384, 288) and ours.dtype == np.float32
    log_ours, log_official = np.log(ours.astype(np.float64)), np.log(official.astype(np.float64))
    corr = np.corrcoef(log_ours.ravel(), log_official.ravel())[0, 1]
    median_rel = float(np.median(np.abs(ours / official - 1)))
    assert corr >= 0.999, corr
    assert median_rel <= 0.01, median_rel


@needs_files
@pytest.mark.parametrize("tc", BACKEND_MODULES)
def test_one_net_serves_every_aspect_and_the_estimate_has_the_photo_size(tc: Any) -> None:
    from pipeline.io.image_io import read_photo
    from pipeline.settings import PipelineSettings

    model = tc.load_model(NET, INIT)
    assert tc.load_model(NET, INIT) is model  # cached per file
    rng = np.random.default_rng(0)
    for h, w in ((480, 640), (640, 480), (300, 300), (100, 700)):
        rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        out = model.predict(rgb)
        assert out.shape == tg.network_size(h, w) and np.isfinite(out).all() and out.min() > 0
    photo = read_photo(TR / "pumpkin.jpg")
    settings = PipelineSettings(depth_backend=tc.NAME, model_dir=str(TR))
    full = BACKENDS[tc.NAME].estimate(photo, settings)
    assert full.shape == (photo.height, photo.width) and full.dtype == np.float32
    assert np.allclose(full, tg.resize_to_photo(tc.estimate_native(photo, settings), *full.shape))


@needs_files
def test_without_a_loadable_onnxruntime_the_same_network_runs_in_opencv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (200, 300, 3)).astype(np.uint8)
    expected = tc.load_model(NET, INIT).predict(rgb)
    monkeypatch.setattr(to.NETWORK, "cache", {})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # installed, but import fails
    model = to.load_model(NET, INIT)
    assert isinstance(model, tc.OpenCVTiefenrausch)
    assert "running the same network in OpenCV" in capsys.readouterr().err
    assert np.array_equal(model.predict(rgb), expected)
    # Not installed at all: an error that says what to do (the preferences say so too).
    monkeypatch.setattr(to.NETWORK, "cache", {})
    monkeypatch.setattr(to, "installed", lambda package, paths=(): False)
    with pytest.raises(ModelError, match="tiefenrausch-opencv"):
        to.load_model(NET, INIT)


@pytest.mark.parametrize("tc", BACKEND_MODULES)
def test_missing_and_corrupt_files_name_the_file(tmp_path: Path, tc: Any) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        tc.load_model(tmp_path / "tiefenrausch.pb", tmp_path / "tiefenrausch_init.pb")
    (tmp_path / "tiefenrausch.pb").write_bytes(b"\x0a\x05ab")  # truncated
    (tmp_path / "tiefenrausch_init.pb").write_bytes(b"")
    with pytest.raises(ModelError, match="tiefenrausch.pb"):
        tc.load_model(tmp_path / "tiefenrausch.pb", tmp_path / "tiefenrausch_init.pb")


@pytest.mark.parametrize("tc", BACKEND_MODULES)
def test_backend_is_registered_without_torch_and_cached(tmp_path: Path, tc: Any) -> None:
    from pipeline.depth import cache, registry

    backend = registry.backend_for(tc.NAME)
    assert backend is BACKENDS[tc.NAME]
    assert not backend.needs_torch and backend.licence == "MIT"
    assert backend.models == (tg.NET_FILE, tg.INIT_FILE)
    assert registry.native_estimator(tc.NAME) is tc.estimate_native
    if not HAVE_FILES:
        pytest.skip(f"official Tiefenrausch files not present in {TR}")
    from pipeline.io.image_io import read_photo
    from pipeline.settings import PipelineSettings

    photo = read_photo(TR / "pumpkin.jpg")
    settings = PipelineSettings(depth_backend=tc.NAME, model_dir=str(TR))
    cache.reset_stats()
    first = cache.cached_estimate(photo, settings, cache_dir=tmp_path)
    second = cache.cached_estimate(photo, settings, cache_dir=tmp_path)
    assert (cache.STATS.misses, cache.STATS.stores, cache.STATS.hits) == (1, 1, 1)
    assert np.array_equal(first, second)


# --- which backend is the default, and what each needs ---------------------------------------


def test_torch_lookup_and_default_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])
    assert not torch_installed([tmp_path])
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('never imported')\n")
    assert torch_installed([tmp_path])  # found on the path, not imported
    assert "torch" not in sys.modules
    assert default_network(True) == TORCH_DEFAULT == "depth-anything-v2-small"
    assert default_network(False, onnxruntime=True) == TORCHLESS_DEFAULT == to.NAME
    assert default_network(False, onnxruntime=False) == TORCHLESS_FALLBACK == tc.NAME
    # Without the argument: whether ONNX Runtime is findable (not imported) here.
    expected = to.NAME if HAVE_ORT else tc.NAME
    monkeypatch.undo()
    assert default_network(False) == expected
    assert not BACKENDS[to.NAME].needs_torch and not BACKENDS[tc.NAME].needs_torch


def test_backend_status_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONESHOT3D_MODEL_DIR", raising=False)
    empty = tmp_path / "empty"
    state = backend_status(tc.NAME, torch=False, model_dir=str(empty), cache_dir=empty)
    assert not state.needs_torch and not state.ready and state.downloadable
    assert state.usable(online=True) and not state.usable(online=False)
    assert "tiefenrausch_init.pb (3.8 MB)" in state.summary(True)
    assert "allow online access" in state.summary(False)
    dav2 = backend_status(
        "depth-anything-v2-small", torch=False, model_dir=str(empty), cache_dir=empty
    )
    assert dav2.needs_torch and not dav2.usable(online=True) and "PyTorch" in dav2.summary(True)
    large = backend_status(
        "depth-anything-v2-large", torch=True, model_dir=str(empty), cache_dir=empty
    )
    assert not large.downloadable and "not downloaded automatically" in large.summary(True)
    from pipeline.depth import availability

    with monkeypatch.context() as m:  # a platform for which the zip has no ONNX Runtime wheel
        m.setattr(availability, "installed", lambda package, paths=(): package != "onnxruntime")
        ort = backend_status(to.NAME, torch=True, model_dir=str(empty), cache_dir=empty)
    assert ort.needs_package == "onnxruntime" and not ort.usable(online=True)
    assert "ONNX Runtime" in ort.summary(True) and "tiefenrausch.pb" in ort.summary(True)
    if HAVE_ORT:
        assert backend_status(to.NAME, True, str(empty), empty).needs_package == ""
    if not HAVE_FILES:
        pytest.skip(f"official Tiefenrausch files not present in {TR}")
    folder = tmp_path / "models"
    folder.mkdir()
    for f in (NET, INIT):
        shutil.copy(f, folder / f.name)
    state = backend_status(tc.NAME, torch=False, model_dir=str(folder), cache_dir=empty)
    assert state.ready and state.summary(False) == "Tiefenrausch (no PyTorch): ready"
    (folder / INIT.name).write_bytes(b"x")  # wrong size: not counted as present
    assert not backend_status(tc.NAME, False, str(folder), empty).ready


# --- the worker, with torch unimportable ------------------------------------------------------


@needs_files
@pytest.mark.parametrize("tc", BACKEND_MODULES)
def test_worker_builds_a_photo_with_torch_unimportable(tmp_path: Path, tc: Any) -> None:
    from pipeline.runtime.worker_client import State, build_job

    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    marker = tmp_path / "torch-import-attempted"
    # Ahead of site-packages on the worker's path: any attempt to import torch leaves a mark.
    (shadow / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('torch is shadowed in this test')\n"
    )
    job = build_job(
        {"filepath": str(TR / "pumpkin.jpg"), "depth_backend": tc.NAME, "model_dir": str(TR)},
        vendor_dir=shadow,
        depth_cache_dir=tmp_path / "depth",
    ).start()
    assert job.wait() is State.DONE, job.details()
    assert job.result["torch_loaded"] is False
    assert job.result["depth_cache"]["misses"] == 1 and job.result["triangles"] > 0
    assert not marker.exists()
    job.release()


@needs_files
@pytest.mark.parametrize("tc", BACKEND_MODULES)
def test_translation_is_kept_and_a_damaged_one_is_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tc: Any
) -> None:
    rgb = np.random.default_rng(5).integers(0, 256, (240, 320, 3)).astype(np.uint8)
    monkeypatch.setattr(tc.NETWORK, "cache", {})
    first = tc.load_model(NET, INIT, tmp_path)
    expected = first.predict(rgb)
    stored = tc.translation_path(first.paths, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [stored.name]  # no temporary files left

    # A fresh process (empty in-memory cache) reads the translation: no Caffe2 parsing.
    def no_parsing(*_: object) -> None:
        raise AssertionError("the Caffe2 files were parsed again")

    monkeypatch.setattr(tc.NETWORK, "cache", {})
    with monkeypatch.context() as m:
        m.setattr(translation_cache, "read_netdef", no_parsing)
        again = tc.load_model(NET, INIT, tmp_path)
    assert again is not first and np.array_equal(again.predict(rgb), expected)

    stored.write_bytes(stored.read_bytes()[:1000])  # damaged: translated again
    monkeypatch.setattr(tc.NETWORK, "cache", {})
    redone = tc.load_model(NET, INIT, tmp_path)
    assert np.array_equal(redone.predict(rgb), expected)
    assert stored.stat().st_size > 1_000_000
