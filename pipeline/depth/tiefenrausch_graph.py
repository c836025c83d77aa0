"""Tiefenrausch's graph as read from the official Caffe2 files, and the pre- and
post-processing the official script does. No torch here: the torch runners
(depth.tiefenrausch, depth.tiefenrausch_exact) and the OpenCV one (depth.tiefenrausch_opencv)
share it.

Preprocessing is exactly the official script's: OpenCV INTER_AREA resize of the uint8 RGB
photo so that the long side is 384 and both sides are floored to multiples of 32, RGB/255,
quantised to the input grid (scale 0.0077, zero point 128). The net returns log-disparity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from .caffe2_netdef import NetDef, OperatorDef

NET_FILE = "tiefenrausch.pb"


INIT_FILE = "tiefenrausch_init.pb"


LONG_SIDE = 384  # the network's input: long side 384 px ...


MULTIPLE = 32  # ... both sides floored to a multiple of 32 (five stride-2 stages)


@dataclass
class QConv:
    """One Int8Conv with its quantised weights (torch layout [O, I/groups, kH, kW])."""

    inp: str
    out: str
    weight: np.ndarray  # uint8
    w_zp: int
    w_scale: float
    bias: np.ndarray  # int32, added to the accumulator at scale in_scale * w_scale
    stride: int
    pad: int
    groups: int
    out_scale: float
    out_zp: int


@dataclass
class QAdd:
    a: str
    b: str
    out: str
    out_scale: float
    out_zp: int


@dataclass
class QResize:
    """Int8ResizeNearest by 2: replication; keeps its input's scale and zero point."""

    inp: str
    out: str


@dataclass
class QGraph:
    """The quantised network in execution order, with each blob's (scale, zero point)."""

    input_name: str
    output_name: str
    input_scale: float
    input_zp: int
    steps: list[QConv | QAdd | QResize] = field(default_factory=list)
    qparams: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def output_qparams(self) -> tuple[float, int]:
        return self.qparams[self.output_name]


def _f32(v: float) -> float:
    """Caffe2 stores scales as C floats; do all derived arithmetic on the float32 value."""
    return float(np.float32(v))


def build_graph(net: NetDef, init: NetDef, net_path: str, init_path: str) -> QGraph:
    """Turn the two parsed NetDefs into a :class:`QGraph`; ModelError on anything unexpected."""

    def fail(msg: str, path: str = net_path) -> ModelError:
        return ModelError(
            f"Model file '{path}' is not the Tiefenrausch network this add-on knows: {msg}. "
            "Delete the model files and let the add-on download them again."
        )

    tensors: dict[str, OperatorDef] = {}
    for op in init.ops:
        if op.type not in ("Int8GivenTensorFill", "Int8GivenIntTensorFill") or not op.outputs:
            raise fail(f"unexpected operator {op.type!r} in the init net", init_path)
        tensors[op.outputs[0]] = op

    def tensor(name: str, int32: bool) -> tuple[np.ndarray, float, int]:
        op = tensors.get(name)
        if op is None:
            raise fail(f"weight blob {name!r} is missing from the init net", init_path)
        shape = [int(v) for v in op.arg("shape", [])]
        values = op.arg("values")
        if values is None:
            raise fail(f"weight blob {name!r} has no values", init_path)
        arr = np.asarray(values, np.int32) if int32 else np.frombuffer(values, np.uint8)
        if arr.size != int(np.prod(shape)):
            raise fail(f"weight blob {name!r} holds {arr.size} values for shape {shape}", init_path)
        return arr.reshape(shape), _f32(op.arg("Y_scale", 1.0)), int(op.arg("Y_zero_point", 0))

    def qp(op: OperatorDef) -> tuple[float, int]:
        scale = op.arg("Y_scale")
        if scale is None or not scale > 0:
            raise fail(f"operator {op.type} -> {op.outputs} has no valid Y_scale")
        return _f32(scale), int(op.arg("Y_zero_point", 0))

    graph: QGraph | None = None
    qparams: dict[str, tuple[float, int]] = {}
    steps: list[QConv | QAdd | QResize] = []
    alias: dict[str, str] = {}  # layout-only ops (NCHW2NHWC) pass their input through
    output_name = ""
    for op in net.ops:
        ins = [alias.get(i, i) for i in op.inputs]
        if op.type in ("NCHW2NHWC", "NHWC2NCHW"):
            alias[op.outputs[0]] = ins[0]
        elif op.type == "Int8Quantize":
            scale, zp = qp(op)
            # Steps read the quantised input under the Int8Quantize output's name.
            graph = QGraph(op.outputs[0], "", scale, zp)
            qparams[op.outputs[0]] = (scale, zp)
        elif op.type == "Int8Conv":
            if len(ins) != 3:
                raise fail(f"Int8Conv -> {op.outputs} has {len(ins)} inputs, expected 3")
            w, w_scale, w_zp = tensor(op.inputs[1], int32=False)
            b, _, _ = tensor(op.inputs[2], int32=True)
            kernels = op.arg("kernels", [op.arg("kernel", 1)] * 2)
            strides = op.arg("strides", [op.arg("stride", 1)] * 2)
            pads = op.arg("pads", [op.arg("pad", 0)] * 4)
            dil = op.arg("dilations", [op.arg("dilation", 1)] * 2)
            if (
                len(set(kernels)) != 1
                or len(set(strides)) != 1
                or len(set(pads)) != 1
                or set(dil) != {1}
                or w.ndim != 4
                or list(w.shape[1:3]) != list(kernels)
            ):
                raise fail(f"Int8Conv -> {op.outputs} has an unsupported geometry")
            groups = int(op.arg("group", 1))
            if b.shape != (w.shape[0],):
                raise fail(f"bias of Int8Conv -> {op.outputs} does not match its weights")
            steps.append(
                QConv(
                    inp=ins[0],
                    out=op.outputs[0],
                    # Caffe2 NHWC weights are [O, kH, kW, I/group]; torch wants [O, I, kH, kW].
                    weight=np.ascontiguousarray(w.transpose(0, 3, 1, 2)),
                    w_zp=w_zp,
                    w_scale=w_scale,
                    bias=b,
                    stride=int(strides[0]),
                    pad=int(pads[0]),
                    groups=groups,
                    out_scale=qp(op)[0],
                    out_zp=qp(op)[1],
                )
            )
            qparams[op.outputs[0]] = qp(op)
        elif op.type == "Int8Add":
            if len(ins) != 2:
                raise fail(f"Int8Add -> {op.outputs} has {len(ins)} inputs, expected 2")
            steps.append(QAdd(ins[0], ins[1], op.outputs[0], *qp(op)))
            qparams[op.outputs[0]] = qp(op)
        elif op.type == "Int8ResizeNearest":
            if op.arg("width_scale", 2.0) != 2.0 or op.arg("height_scale", 2.0) != 2.0:
                raise fail("only Int8ResizeNearest by a factor of 2 is supported")
            steps.append(QResize(ins[0], op.outputs[0]))
            if ins[0] not in qparams:
                raise fail(f"Int8ResizeNearest reads {ins[0]!r} before it is computed")
            qparams[op.outputs[0]] = qparams[ins[0]]
        elif op.type == "Int8Dequantize":
            alias[op.outputs[0]] = ins[0]
            output_name = ins[0]
        else:
            raise fail(f"operator type {op.type!r} is not supported")
        # Activations (not weights) must have been computed by an earlier operator.
        acts = ins[:1] if op.type in ("Int8Conv", "Int8Dequantize") else ins
        if op.type.startswith("Int8") and op.type != "Int8Quantize":
            for i in acts:
                if i not in qparams:
                    raise fail(f"operator {op.type} reads {i!r} before it is computed")
    if graph is None or not output_name or not steps:
        raise fail("no Int8Quantize -> ... -> Int8Dequantize chain found")
    graph.output_name = output_name
    graph.steps = steps
    graph.qparams = qparams
    return graph


def network_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the network input for a photo: long side 384, both floored to /32 (min 32)."""
    long_side = max(height, width)
    h = max(MULTIPLE, height * LONG_SIDE // long_side // MULTIPLE * MULTIPLE)
    w = max(MULTIPLE, width * LONG_SIDE // long_side // MULTIPLE * MULTIPLE)
    return h, w


def preprocess(rgb8: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """uint8 RGB photo -> the network's quantised input (1, 3, h, w) uint8, as Caffe2 computed
    it: INTER_AREA on uint8 (so every activation lands on the official grid), RGB/255 in
    float32, then Int8Quantize (multiply by the float32 reciprocal, round half to even)."""
    rgb8 = np.asarray(rgb8)
    if rgb8.ndim != 3 or rgb8.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb8.shape}")
    if rgb8.dtype != np.uint8:
        rgb8 = np.clip(rgb8, 0, 255).astype(np.uint8)
    h, w = network_size(*rgb8.shape[:2])
    small = cv2.resize(rgb8, (w, h), interpolation=cv2.INTER_AREA)
    x = small.astype(np.float32) / np.float32(255.0)
    inv = np.float32(1.0) / np.float32(scale)
    q = np.clip(np.rint(x * inv) + zero_point, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(q.transpose(2, 0, 1)[None])


def clamp_range(scale: float, zp: int) -> tuple[float, float]:
    return (0 - zp) * scale, (255 - zp) * scale


def inputs_of(step: QConv | QAdd | QResize) -> tuple[str, ...]:
    return (step.a, step.b) if isinstance(step, QAdd) else (step.inp,)


def model_file_stamps(
    net_path: str | os.PathLike[str], init_path: str | os.PathLike[str]
) -> tuple[tuple[str, str], list[tuple[int, int]]]:
    """(resolved paths, [(size, mtime_ns)] of each) of the two files, the key under which a
    loaded model is cached (a replaced file is loaded afresh); ModelError naming a missing
    file."""
    paths = (str(Path(net_path).resolve()), str(Path(init_path).resolve()))
    stamps: list[tuple[int, int]] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            raise ModelError(
                f"Model file '{p}' does not exist. Download the Tiefenrausch model files "
                "(Preferences > Models) or pick a folder that holds them."
            ) from None
        stamps.append((st.st_size, st.st_mtime_ns))
    return paths, stamps


class GridNetwork:
    """A loaded torch-free network: ``run`` maps the dequantised input (1, 3, h, w) float32 to
    log-disparity (1, 1, h, w) float32; ``predict`` maps a uint8 RGB photo to disparity on the
    network grid, e.g. 384 x 288 for a 4:3 portrait."""

    input_scale: float
    input_zp: int
    runtime = "the runtime"  # named in errors

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_log(self, rgb8: np.ndarray) -> np.ndarray:
        """Log-disparity (h, w) float32 on the network grid."""
        q = preprocess(rgb8, self.input_scale, self.input_zp)  # on the official input grid
        x = (q.astype(np.float32) - np.float32(self.input_zp)) * np.float32(self.input_scale)
        out = self.run(x)
        h, w = network_size(*np.asarray(rgb8).shape[:2])
        if out.shape != (1, 1, h, w):
            raise ModelError(f"{self.runtime} returned {out.shape} for the {h}x{w} network input")
        return np.ascontiguousarray(out[0, 0], dtype=np.float32)

    def predict(self, rgb8: np.ndarray) -> np.ndarray:
        """Disparity (h, w) float32 on the network grid."""
        return np.exp(self.predict_log(rgb8)).astype(np.float32, copy=False)


def resize_to_photo(disparity: np.ndarray, height: int, width: int) -> np.ndarray:
    """Network-grid disparity -> (height, width) float32. The net saw the whole photo squeezed
    into its grid, so the grid's outer edges are the photo's; cv2's INTER_LINEAR maps pixel
    centres to pixel centres, which keeps them there (no half-pixel shift)."""
    return cv2.resize(disparity, (width, height), interpolation=cv2.INTER_LINEAR).astype(
        np.float32, copy=False
    )
