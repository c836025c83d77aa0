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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from .registry import DepthBackend, register
from .tiefenrausch_graph import (
    INIT_FILE,
    NET_FILE,
    GridNetwork,
    QAdd,
    QConv,
    QGraph,
)
from .translation_cache import TranslatedNetwork

if TYPE_CHECKING:
    pass

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


class OnnxTiefenrausch(GridNetwork):
    """The loaded network (an ONNX Runtime session; safe to run from several threads)."""

    runtime = "ONNX Runtime"

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

    def run(self, q: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUT: q})[0]  # type: ignore[no-any-return]


# Bump the version when qlinear_model's output changes, so that older translations are not reused.
NETWORK = TranslatedNetwork(NAME, 1, qlinear_model, OnnxTiefenrausch)
load_model = NETWORK.load  # (net path, init path, cache_dir=None) -> OnnxTiefenrausch
translation_path = NETWORK.translation_path
estimate_native = NETWORK.estimate_native
estimate = NETWORK.estimate


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
