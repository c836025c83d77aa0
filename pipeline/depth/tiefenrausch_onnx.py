"""Tiefenrausch without PyTorch, in int8 as the paper runs it on a phone: the official graph
written as a quantised ONNX model in memory and run by ONNX Runtime, whose wheels the extension
zip carries for Linux, Windows and Apple-silicon macOS (Python 3.11 and 3.13).

Each official operator maps onto one quantised ONNX operator with the same quantisation, so the
network computes on the official uint8 grid end to end:

    Int8Conv            QLinearConv (uint8 weights with their zero point, int32 bias at scale
                        in_scale * w_scale; zero padding = the input zero point, as in QNNPACK)
    Int8Add             QLinearAdd (com.microsoft; the output grid saturates, as Caffe2's does)
    Int8ResizeNearest   Resize nearest x2 on uint8 (replication keeps the grid)
    Int8Dequantize      DequantizeLinear of the last grid: log-disparity in float

No clamps are needed (uint8 saturation is the clamp), and the output matches the official one
to within rounding (median relative error ~1e-7 on pumpkin; see the README). Measured on a
2-core AVX2 EPYC at 384 x 288: ~150 ms per network run with 2 threads, against ~270 ms for the
dequantised float graph in OpenCV (:mod:`.tiefenrausch_opencv`, the fallback where ONNX Runtime
is not installed, e.g. Intel macOS, for which it ships no wheel).

``onnxruntime`` is imported only when the network is loaded; torch never is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from . import translation_cache
from .caffe2_netdef import read_netdef
from .registry import DepthBackend, register
from .tiefenrausch_graph import (
    INIT_FILE,
    NET_FILE,
    QAdd,
    QConv,
    QGraph,
    build_graph,
    model_file_stamps,
    network_size,
    preprocess,
    resize_to_photo,
)
from .translation_cache import ModelCache, Translation, cached_model, load_translated

if TYPE_CHECKING:
    from ..io.image_io import Photo
    from ..settings import PipelineSettings

NAME = "tiefenrausch-onnx"
PACKAGE = "onnxruntime"  # the import name the backend needs
INPUT = "x"  # the quantised photo, (1, 3, h, w) uint8
OUTPUT = "log_disparity"  # (1, 1, h, w) float32
MAX_THREADS = 4  # a 384 px network gains nothing from more


def qlinear_model(graph: QGraph) -> bytes:
    """The int8 network of ``graph`` as serialised ONNX (opset 13 + com.microsoft), with a
    dynamic input size (the photo's aspect ratio sets it)."""
    from .onnx_writer import UINT8, GraphBuilder  # only when translating

    b = GraphBuilder("tiefenrausch-int8")
    b.add_input(INPUT, [1, 3, "h", "w"], UINT8)
    shared: dict[tuple[str, float], str] = {}

    def scale(value: float) -> str:  # one scalar initializer per distinct scale / zero point
        return _scalar(b, shared, "s", np.array(value, np.float32))

    def zero(value: int) -> str:
        return _scalar(b, shared, "z", np.array(value, np.uint8))

    def grid(name: str) -> list[str]:
        s, zp = graph.qparams[name]
        return [scale(s), zero(zp)]

    names = {graph.input_name: INPUT}
    for k, step in enumerate(graph.steps):
        out = f"t{k}"
        if isinstance(step, QConv):
            weight = b.constant(f"w{k}", step.weight.astype(np.uint8))
            bias = b.constant(f"b{k}", step.bias.astype(np.int32))
            k_size = int(step.weight.shape[2])
            b.node(
                "QLinearConv",
                [names[step.inp], *grid(step.inp), weight, scale(step.w_scale), zero(step.w_zp)]
                + [*grid(step.out), bias],
                [out],
                kernel_shape=[k_size, k_size],
                strides=[step.stride, step.stride],
                pads=[step.pad] * 4,
                group=step.groups,
            )
        elif isinstance(step, QAdd):
            b.node(
                "QLinearAdd",
                [names[step.a], *grid(step.a), names[step.b], *grid(step.b), *grid(step.out)],
                [out],
                domain="com.microsoft",
            )
        else:
            scales = b.constant(f"scales{k}", np.array([1, 1, 2, 2], np.float32))
            b.node(
                "Resize",
                [names[step.inp], "", scales],
                [out],
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            )
        names[step.out] = out
    b.node("DequantizeLinear", [names[graph.output_name], *grid(graph.output_name)], [OUTPUT])
    b.add_output(OUTPUT, [1, 1, "h", "w"])
    return b.model_bytes(opset=13, domains={"com.microsoft": 1})


def _scalar(b: Any, shared: dict[tuple[str, float], str], kind: str, value: np.ndarray) -> str:
    key = (kind, float(value))
    if key not in shared:
        shared[key] = b.constant(f"{kind}{len(shared)}", value)
    return shared[key]


def threads() -> int:
    """Intra-op threads: the CPUs this process may use (ONNX Runtime would count the
    machine's cores, which oversubscribes containers), at most MAX_THREADS."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, n))


class OnnxTiefenrausch:
    """The loaded network; ``predict`` maps a uint8 RGB photo to disparity on the net's grid,
    like :class:`.tiefenrausch_opencv.OpenCVTiefenrausch`."""

    def __init__(
        self, onnx: bytes | np.ndarray, input_scale: float, input_zp: int, paths: tuple[str, str]
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ModelError(
                f"ONNX Runtime cannot be loaded ({e}); reinstall the extension for this "
                "platform, or choose the depth backend 'tiefenrausch-opencv'."
            ) from None
        self.input_scale = float(input_scale)
        self.input_zp = int(input_zp)
        self.paths = paths
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no warnings on the worker's stderr
        # One prediction per photo: idle pool threads must not spin and take the cores that
        # the LDI stages need right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                bytes(onnx), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail / InvalidGraph types
            raise ModelError(
                f"ONNX Runtime {ort.__version__} cannot load the translated Tiefenrausch network "
                f"from '{paths[0]}': {str(e).strip().splitlines()[-1]}"
            ) from None

    def predict_log(self, rgb8: np.ndarray) -> np.ndarray:
        """Log-disparity (h, w) float32 on the network grid."""
        q = preprocess(rgb8, self.input_scale, self.input_zp)
        out = self.session.run([OUTPUT], {INPUT: q})[0]  # sessions are safe across threads
        h, w = network_size(*np.asarray(rgb8).shape[:2])
        if out.shape != (1, 1, h, w):
            raise ModelError(f"ONNX Runtime returned {out.shape} for the {h}x{w} network input")
        return np.ascontiguousarray(out[0, 0], dtype=np.float32)

    def predict(self, rgb8: np.ndarray) -> np.ndarray:
        """Disparity (h, w) float32 on the network grid, e.g. 384 x 288 for a 4:3 portrait."""
        return np.exp(self.predict_log(rgb8)).astype(np.float32, copy=False)


# (net path, init path) -> (file sizes and mtimes, model)
_CACHE: ModelCache = {}

# Bump when qlinear_model's output changes, so that older translations are not reused.
TRANSLATION_VERSION = 1


def load_model(
    net_path: str | os.PathLike[str],
    init_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> OnnxTiefenrausch:
    """Load (or fetch from the cache) the network from the two official files; with
    ``cache_dir`` the translation is kept there for the next worker (see
    :mod:`.translation_cache`). ModelError names the file when either is missing, corrupt or
    not Tiefenrausch, and says what to do when ONNX Runtime is missing."""
    paths, stamps = model_file_stamps(net_path, init_path)

    def translate() -> Translation:
        graph = build_graph(read_netdef(paths[0]), read_netdef(paths[1]), *paths)
        return qlinear_model(graph), graph.input_scale, graph.input_zp

    def load() -> OnnxTiefenrausch:
        kept = translation_path(paths, cache_dir) if cache_dir else None
        return load_translated(kept, translate, lambda t: OnnxTiefenrausch(*t, paths))

    return cached_model(_CACHE, paths, stamps, load)


def translation_path(paths: tuple[str, str], cache_dir: str | os.PathLike[str]) -> Path:
    """Where the translation of these two files (by content) is kept in ``cache_dir``."""
    return translation_cache.translation_path(NAME, TRANSLATION_VERSION, paths, cache_dir)


def estimate_native(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity on the network grid, comparable to the official outputs."""
    from ..runtime.models import resolve_model
    from . import cache

    net = resolve_model(NET_FILE, settings.model_dir)
    init = resolve_model(INIT_FILE, settings.model_dir)
    # Next to the cached depth maps (the worker points it at the extension's folder).
    return load_model(net, init, cache.default_depth_cache_dir()).predict(photo.rgb8())


def estimate(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity resized to the photo, (H, W) float32."""
    return resize_to_photo(estimate_native(photo, settings), photo.height, photo.width)


register(
    DepthBackend(
        name=NAME,
        label="Tiefenrausch (int8, no PyTorch)",
        licence="MIT",
        input_size="long side 384, both sides multiples of 32",
        needs_torch=False,
        needs_package=PACKAGE,
        estimate=estimate,
        models=(NET_FILE, INIT_FILE),
        description=(
            "The paper's mobile depth network (3.8 MB) in int8, run by ONNX Runtime, which the "
            "extension bundles: works right after installing, and is the fastest."
        ),
    )
)
