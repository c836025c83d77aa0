"""Tiefenrausch without PyTorch: the official int8 graph, translated into an ONNX model in memory
and run by OpenCV's DNN module (the OpenCV wheel the extension bundles anyway).

The translation is the float path of :mod:`.tiefenrausch` (dequantised weights, every
activation clamped to the range its uint8 grid can hold), written as plain ONNX:

    Int8Conv            Conv (float weights, the int32 bias at scale in_scale * w_scale)
                        + Clip to [(0 - zp) * s, (255 - zp) * s] of its output grid
    Int8Add             Add + Clip (the output grid's range)
    Int8ResizeNearest   Resize nearest x2 (replication; keeps its input's range)

OpenCV fuses each Clip into the convolution before it (a ReLU6 with other bounds), so the
clamps cost almost nothing; dropping them would ruin the output (see :mod:`.tiefenrausch`).
The ONNX bytes are written by :mod:`.onnx_writer` (no ``onnx`` package) and handed to
``cv2.dnn.readNetFromONNX`` as a buffer; with a cache folder they are also kept there, so a
fresh worker skips parsing and translating (see ``load_model``). torch is never imported
(neither here nor by the modules this one uses).

Speed (issue #14; per-layer profile at 384 x 288, 1 thread, OpenCV 4.11 on a 2-core AVX2
EPYC): ~6.8 GMAC, 70 % of the time in the 96 1x1 convolutions (the full-resolution 32- and
48-channel ones run at half the FLOP rate of the others), 17 % in the 48 depthwise ones, ~5 %
each in the 39 Add (+ Clip) and the 5 nearest resizes. This plain float graph is the fastest
form found: OpenCV's int8 path (QLinearConv) is about 2x slower per layer here, a depthwise
ConvTranspose in place of Resize + depthwise conv is slower, other Resize modes are up to 3x
slower, Sum maps to the same layer as Add, and every Clip after an Add or a saturating
(zero point 127/128) convolution is needed: none is provably inactive (interval bounds), and
dropping them moves the median error to 1.8 %.

Preprocessing and the output grid are the official script's, shared with the torch backend.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import ModelError
from .registry import DepthBackend, register
from .tiefenrausch_graph import (
    INIT_FILE,
    LONG_SIDE,
    NET_FILE,
    GridNetwork,
    QAdd,
    QConv,
    QGraph,
)
from .translation_cache import TranslatedNetwork

if TYPE_CHECKING:
    pass

NAME = "tiefenrausch-opencv"
INPUT = "x"  # the ONNX graph's input: the dequantised photo, (1, 3, h, w) float32


def onnx_model(graph: QGraph, height: int = LONG_SIDE, width: int = LONG_SIDE) -> bytes:
    """The float network of ``graph`` as serialised ONNX (opset 13). ``height`` and ``width``
    are the declared input size; OpenCV re-plans for whatever size ``setInput`` gets."""
    from .onnx_writer import GraphBuilder  # only when translating: a kept translation is read

    b = GraphBuilder("tiefenrausch")
    b.add_input(INPUT, [1, 3, height, width])
    bounds: dict[float, str] = {}

    def bound(value: float) -> str:
        # Many activations share a scale: one initializer per distinct bound.
        if value not in bounds:
            bounds[value] = b.constant(f"bound{len(bounds)}", np.array(value, np.float32))
        return bounds[value]

    names = {graph.input_name: INPUT}
    for k, step in enumerate(graph.steps):
        out = f"t{k}"
        scale, zp = graph.qparams[step.out]
        lo, hi = float(np.float32((0 - zp) * scale)), float(np.float32((255 - zp) * scale))
        if isinstance(step, QConv):
            in_scale = graph.qparams[step.inp][0]
            w = (step.weight.astype(np.float32) - step.w_zp) * np.float32(step.w_scale)
            bias = step.bias.astype(np.float64) * (float(in_scale) * float(step.w_scale))
            k_size = int(w.shape[2])
            b.node(
                "Conv",
                [names[step.inp], b.constant(f"w{k}", w), b.constant(f"b{k}", bias.astype("f4"))],
                [out + "_raw"],
                kernel_shape=[k_size, k_size],
                strides=[step.stride, step.stride],
                # Zero padding is the input zero point, i.e. real 0, as in QNNPACK.
                pads=[step.pad] * 4,
                group=step.groups,
            )
            b.node("Clip", [out + "_raw", bound(lo), bound(hi)], [out])
        elif isinstance(step, QAdd):
            b.node("Add", [names[step.a], names[step.b]], [out + "_raw"])
            b.node("Clip", [out + "_raw", bound(lo), bound(hi)], [out])
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
    b.add_output(names[graph.output_name], [1, 1, height, width])
    return b.model_bytes(opset=13)


class OpenCVTiefenrausch(GridNetwork):
    """The loaded network (a cv2.dnn.Net, one forward at a time); ``predict`` gives what
    :class:`.tiefenrausch.TiefenrauschModel` does in float mode."""

    runtime = "OpenCV"

    def __init__(
        self, onnx: bytes | np.ndarray, input_scale: float, input_zp: int, paths: tuple[str, str]
    ) -> None:
        self.input_scale = float(input_scale)
        self.input_zp = int(input_zp)
        self.paths = paths
        try:
            self.net = cv2.dnn.readNetFromONNX(np.frombuffer(onnx, np.uint8))
        except cv2.error as e:
            raise ModelError(
                f"OpenCV {cv2.__version__} cannot load the translated Tiefenrausch network "
                f"from '{paths[0]}': {str(e).strip().splitlines()[-1]}"
            ) from None
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._lock = threading.Lock()  # a cv2.dnn.Net runs one forward at a time

    def run(self, q: np.ndarray) -> np.ndarray:
        x = (q.astype(np.float32) - np.float32(self.input_zp)) * np.float32(self.input_scale)
        with self._lock:
            self.net.setInput(x, INPUT)
            return self.net.forward()  # type: ignore[no-any-return]


# Bump the version when onnx_model's output changes, so that older translations are not reused.
NETWORK = TranslatedNetwork(NAME, 1, onnx_model, OpenCVTiefenrausch)
load_model = NETWORK.load  # (net path, init path, cache_dir=None) -> OpenCVTiefenrausch
translation_path = NETWORK.translation_path
estimate_native = NETWORK.estimate_native
estimate = NETWORK.estimate


register(
    DepthBackend(
        name=NAME,
        label="Tiefenrausch (no PyTorch)",
        licence="MIT",
        input_size="long side 384, both sides multiples of 32",
        needs_torch=False,
        estimate=estimate,
        models=(NET_FILE, INIT_FILE),
        description=(
            "The paper's mobile depth network (3.8 MB) run by OpenCV, which the extension "
            "bundles: works right after installing, nothing else to install."
        ),
    )
)
