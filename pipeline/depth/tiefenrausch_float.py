"""The official int8 Tiefenrausch graph as a float ONNX model, written in memory: what both
torch-free backends run (ONNX Runtime: :mod:`.tiefenrausch_onnx`; OpenCV DNN:
:mod:`.tiefenrausch_opencv`).

The translation is the float path of :mod:`.tiefenrausch` (dequantised weights, every
activation clamped to the range its uint8 grid can hold), written as plain ONNX:

    Int8Conv            Conv (float weights, the int32 bias at scale in_scale * w_scale)
                        + Clip to [(0 - zp) * s, (255 - zp) * s] of its output grid
    Int8Add             Add + Clip (the output grid's range)
    Int8ResizeNearest   Resize nearest x2 (replication; keeps its input's range)

Both runtimes fuse each Clip into the convolution before it, so the clamps cost almost
nothing; dropping them would ruin the output (see :mod:`.tiefenrausch`). The ONNX bytes are
written by :mod:`.onnx_writer` (no ``onnx`` package).

Why float and not the int8 operators themselves (QLinearConv / QLinearAdd, which ONNX Runtime
runs as fast here): the official output is on a uint8 grid of 1.9 % disparity steps, and the
int8 features carry rounding noise; both make the depth map less smooth, and the LDI mesh of a
1 MP photo then has 1.7-2.1 M triangles instead of 1.0 M (flat regions stop simplifying),
which costs more in every later stage than the network saves.
"""

from __future__ import annotations

import numpy as np

from .tiefenrausch_graph import LONG_SIDE, QAdd, QConv, QGraph

INPUT = "x"  # the ONNX graph's input: the dequantised photo, (1, 3, h, w) float32


def onnx_model(graph: QGraph, height: int | str = LONG_SIDE, width: int | str = LONG_SIDE) -> bytes:
    """The float network of ``graph`` as serialised ONNX (opset 13). ``height`` and ``width``
    are the declared input size: OpenCV re-plans for whatever size ``setInput`` gets; ONNX
    Runtime checks the size, so it gets named (free) dimensions."""
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
