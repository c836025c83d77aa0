"""Tiefenrausch, the depth network of *One Shot 3D Photography*, run in modern PyTorch.

The official release (MIT) is a pair of Caffe2 files: ``tiefenrausch.pb`` (the graph: Int8Conv,
Int8Add, Int8ResizeNearest in NHWC, executed by QNNPACK) and ``tiefenrausch_init.pb`` (uint8
weights with scales and zero points, int32 biases). Caffe2 is gone, so this module reads both
files with :mod:`.caffe2_netdef` and rebuilds the network in torch, in one of two modes:

``float`` (default)
    Dequantised weights, activations kept in float, but every activation is clamped to the
    range its uint8 grid can hold — ``[(0 - zp) * s, (255 - zp) * s]``. There are no ReLU ops
    in the graph: with zero point 0 that clamp *is* the ReLU (capped at 255 s), and elsewhere
    the saturation changes the result, so dropping it ruins the output. Channels-last convs
    with the bias folded in and in-place clamps: one fused conv per Caffe2 op.
``exact``
    Emulates QNNPACK's integer arithmetic bit for bit: int32 accumulation of
    ``(x - x_zp) * (w - w_zp) + bias``, "q31" fixed-point requantisation (two roundings) and
    QNNPACK's fixed-point add. Integer convolutions run as float32 oneDNN convolutions whose
    every partial sum provably stays below 2**24 (weights split in two where needed), so they
    are exact; requantisation runs in float64, where each step is exact as well. Several times
    slower than ``float``; for checking. On pumpkin.jpg it matches 64.6 % of the official
    pixels exactly and 97.7 % within one output step: the official output was made with
    OpenCV 3.4.2 on IJG libjpeg 9d (the release's requirements.txt), whose JPEG decoding
    differs slightly from the libjpeg-turbo in current OpenCV wheels, and a one-step change
    of an input pixel flips output pixels. Given the same input codes the arithmetic is
    QNNPACK's (tests compare it with a transcription of QNNPACK's scalar kernels).

Both modes preprocess exactly like the official script: OpenCV INTER_AREA resize of the uint8
RGB photo so that the long side is 384 and both sides are floored to multiples of 32, RGB/255,
quantised to the input grid (scale 0.0077, zero point 128). The net returns log-disparity;
we return ``exp`` of it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..errors import ModelError, SettingsError
from .base import DepthBackend, register
from .caffe2_netdef import NetDef, OperatorDef, read_netdef

if TYPE_CHECKING:
    import torch

    from ..image_io import Photo
    from ..settings import PipelineSettings

NET_FILE = "tiefenrausch.pb"
INIT_FILE = "tiefenrausch_init.pb"
LONG_SIDE = 384  # the network's input: long side 384 px ...
MULTIPLE = 32  # ... both sides floored to a multiple of 32 (five stride-2 stages)


# --- the graph, as read from the two files ------------------------------------------------


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


# --- preprocessing ------------------------------------------------------------------------


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


# --- the float network --------------------------------------------------------------------


def _clamp_range(scale: float, zp: int) -> tuple[float, float]:
    return (0 - zp) * scale, (255 - zp) * scale


class _FloatRunner:
    """The float network: dequantised weights, bias folded into each conv, every activation
    clamped in place to its uint8 grid's range. Plain functional calls over a precomputed
    program (no nn.Module machinery); activations are released after their last reader."""

    def __init__(self, graph: QGraph, device: str) -> None:
        import torch

        self.device = torch.device(device)
        # (kind, input slots, output slot, weight, bias, stride, pad, groups, lo, hi, free)
        self.program: list[tuple[Any, ...]] = []
        slots: dict[str, int] = {graph.input_name: 0}
        last_use: dict[str, int] = {}
        for k, step in enumerate(graph.steps):
            for name in _inputs(step):
                last_use[name] = k
        for k, step in enumerate(graph.steps):
            ins = tuple(slots[n] for n in _inputs(step))
            slots[step.out] = len(slots)
            free = tuple({slots[n] for n in _inputs(step) if last_use[n] == k})
            lo, hi = _clamp_range(*graph.qparams[step.out])
            if isinstance(step, QConv):
                in_scale = graph.qparams[step.inp][0]
                w = (step.weight.astype(np.float32) - step.w_zp) * np.float32(step.w_scale)
                # Channels-last weights and activations: the layout oneDNN's fast depthwise
                # and 1x1 kernels work in (QNNPACK's NHWC too), so no reorders between ops.
                weight = torch.from_numpy(w).to(self.device)
                weight = weight.contiguous(memory_format=torch.channels_last)
                # The int32 bias is added to the accumulator at scale in_scale * w_scale.
                bias = step.bias.astype(np.float64) * (float(in_scale) * float(step.w_scale))
                bias_t = torch.from_numpy(bias.astype(np.float32)).to(self.device)
                conv = (weight, bias_t, step.stride, step.pad, step.groups)
                self.program.append(("conv", ins, slots[step.out], *conv, lo, hi, free))
            elif isinstance(step, QAdd):
                self.program.append(
                    ("add", ins, slots[step.out], None, None, 0, 0, 0, lo, hi, free)
                )
            else:
                self.program.append(
                    ("resize", ins, slots[step.out], None, None, 0, 0, 0, 0, 0, free)
                )
        self.out_slot = slots[graph.output_name]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        vals: dict[int, torch.Tensor] = {0: x.contiguous(memory_format=torch.channels_last)}
        for kind, ins, out, weight, bias, stride, pad, groups, lo, hi, free in self.program:
            if kind == "conv":
                # Zero padding is the input zero point, i.e. real 0, as in QNNPACK.
                y = F.conv2d(vals[ins[0]], weight, bias, stride, pad, 1, groups).clamp_(lo, hi)
            elif kind == "add":
                y = torch.add(vals[ins[0]], vals[ins[1]]).clamp_(lo, hi)
            else:
                y = F.interpolate(vals[ins[0]], scale_factor=2.0, mode="nearest")
            for f in free:
                del vals[f]
            vals[out] = y
        return vals[self.out_slot]


def _inputs(step: QConv | QAdd | QResize) -> tuple[str, ...]:
    return (step.a, step.b) if isinstance(step, QAdd) else (step.inp,)


# --- the exact (integer) network ----------------------------------------------------------


def q31_params(scale: float) -> tuple[int, int]:
    """QNNPACK's requantisation multiplier and shift for a float32 scale in (2**-32, 1)."""
    bits = int(np.float32(scale).view(np.uint32))
    multiplier = ((bits & 0x007FFFFF) | 0x00800000) << 7
    shift = 127 + 31 - 32 - (bits >> 23)
    if not 0 <= shift < 32:
        raise ValueError(f"requantisation scale {scale} is outside QNNPACK's range")
    return multiplier, shift


def add_params(a_scale: float, b_scale: float, out_scale: float) -> tuple[int, int, int]:
    """QNNPACK's fixed-point add: (a multiplier, b multiplier, shift)."""
    a_rel = np.float32(a_scale) / np.float32(out_scale)
    b_rel = np.float32(b_scale) / np.float32(out_scale)
    exponent = int(np.float32(max(a_rel, b_rel)).view(np.uint32) >> 23) - 127
    shift = 21 - exponent
    if not 13 <= shift < 32:
        raise ValueError("Int8Add scale ratio outside QNNPACK's range")
    scale_mult = np.float32(2.0**shift)
    # lrintf: round half to even, as np.rint does.
    return int(np.rint(a_rel * scale_mult)), int(np.rint(b_rel * scale_mult)), shift


def requantize_q31(
    acc: torch.Tensor, multiplier: int, shift: int, zp: int, inplace: bool = False
) -> torch.Tensor:
    """QNNPACK "q31" requantisation of int64 accumulators, then zero point and [0, 255].

    A rounding doubling high multiply (round half up at bit 31) followed by a rounding shift
    that rounds half away from zero: two roundings, reproduced here exactly (the first can
    lift x.4999 to x.5, which the second then rounds up). ``inplace`` reuses ``acc``."""
    q31 = acc if inplace else acc.clone()
    q31.mul_(multiplier).add_(1 << 30).bitwise_right_shift_(31)
    return _round_shift_(q31, shift).add_(zp).clamp_(0, 255)


def _round_shift_(x: torch.Tensor, shift: int) -> torch.Tensor:
    """In place: x / 2**shift rounded half away from zero, the way QNNPACK writes it
    (remainder against a threshold, the remainder of a negative value lowered by one)."""
    if shift == 0:
        return x
    mask = (1 << shift) - 1
    remainder = (x & mask).sub_((x < 0).to(x.dtype))
    return x.bitwise_right_shift_(shift).add_((remainder > (mask >> 1)).to(x.dtype))


def requantize_q31_f64(acc: torch.Tensor, multiplier: int, shift: int, zp: int) -> torch.Tensor:
    """:func:`requantize_q31` in float64, in place on integer-valued ``acc``, about twice as
    fast. Valid while ``|acc| * (multiplier >> 7) < 2**53`` (the caller checks): the
    multiplier is the scale's 24-bit mantissa shifted left by 7, so ``acc * m / 2**31`` is
    ``acc * mantissa / 2**24``, which float64 holds exactly, and so is every step below."""
    mantissa = multiplier >> 7
    acc.mul_(mantissa * 2.0**-24).add_(0.5).floor_()  # rounding at bit 31: half up
    return _round_half_away_add_clamp_(acc.mul_(2.0**-shift), zp)


def _round_half_away_add_clamp_(u: torch.Tensor, zp: int) -> torch.Tensor:
    """In place: round half away from zero (QNNPACK's rounding shift), add zp, clamp."""
    if zp == 0:  # negative values clamp to 0 whichever way they round
        return u.add_(0.5).floor_().clamp_(0, 255)
    rounded = u.abs().add_(0.5).floor_().copysign_(u)
    return rounded.add_(zp).clamp_(0, 255)


def _exact_add(
    a: torch.Tensor, b: torch.Tensor, params: tuple[int, int, int], a_zp: int, b_zp: int, zp: int
) -> torch.Tensor:
    """QNNPACK's Int8Add on uint8 codes (any dtype) -> float64 codes. The sum of products is
    below 2**31, exact in float64 (QNNPACK's int32 sum wraps on the way but lands on the same
    value); scaling by 2**-shift is exact too."""
    import torch

    am, bm, shift = params
    acc = a.to(torch.float64).sub_(a_zp).mul_(am)
    acc.add_(b.to(torch.float64).sub_(b_zp).mul_(bm))
    return _round_half_away_add_clamp_(acc.mul_(2.0**-shift), zp)


_F32_EXACT = 1 << 24  # float32 holds every integer below this exactly


def _split_weights(w: np.ndarray, x_max: int) -> tuple[np.ndarray, int]:
    """Integer weights -> (weights for one float32 conv, shift) such that every partial sum
    of the conv stays below 2**24, so float32 computes it exactly in any summation order.

    When ``K * max|w| * max|x|`` is too large, w = hi * 2**shift + lo with lo in
    [0, 2**shift) and both halves become output channels of the same conv (hi first)."""
    k = int(np.prod(w.shape[1:]))
    for shift in range(0, 8):
        if shift == 0:
            parts = [w]
        else:
            lo = np.mod(w, 1 << shift)
            parts = [(w - lo) >> shift, lo]
        if all(k * int(np.abs(p).max(initial=0)) * x_max < _F32_EXACT for p in parts):
            return np.concatenate(parts, axis=0), shift
    raise ValueError("convolution too large for exact float32 emulation")


class _ExactRunner:
    """Runs the graph on uint8 codes (held in float64 tensors), bit for bit as QNNPACK does.

    Integer convolutions run as floating-point convolutions of integer-valued tensors: on
    the CPU as float32 convs (oneDNN, fast) whose weights are split so that every partial
    sum stays below 2**24 and is therefore exact; elsewhere in float64 (GPU convs may use
    TF32 or FFT algorithms in float32), rounded back to integers."""

    def __init__(self, graph: QGraph, device: str) -> None:
        import torch

        self.graph = graph
        self.device = torch.device(device)
        self.use_f32 = self.device.type == "cpu" and _float32_conv_is_exact()
        self.dtype = torch.float32 if self.use_f32 else torch.float64
        self.ops: list[tuple[Any, ...]] = []
        for step in graph.steps:
            if isinstance(step, QConv):
                in_scale, in_zp = graph.qparams[step.inp]
                scale = np.float32(in_scale) * np.float32(step.w_scale) / np.float32(step.out_scale)
                w_int = step.weight.astype(np.int64) - step.w_zp
                split = 0
                if self.use_f32:
                    w_int, split = _split_weights(w_int, max(in_zp, 255 - in_zp))
                w = torch.from_numpy(w_int.astype(np.float64)).to(self.device, self.dtype)
                if self.use_f32:
                    w = w.contiguous(memory_format=torch.channels_last)
                b = torch.from_numpy(step.bias.astype(np.float64)).to(self.device)
                b = b.view(1, -1, 1, 1)
                q = q31_params(float(scale))
                # Largest |accumulator|: decides whether float64 requantisation is exact.
                k = int(np.prod(step.weight.shape[1:]))
                acc_max = k * int(np.abs(step.weight.astype(np.int64) - step.w_zp).max())
                acc_max = acc_max * max(in_zp, 255 - in_zp) + int(np.abs(step.bias).max())
                f64_requant = acc_max * (q[0] >> 7) < 1 << 53
                self.ops.append(("conv", step, w, b, split, q, in_zp, f64_requant))
            elif isinstance(step, QAdd):
                sa, za = graph.qparams[step.a]
                sb, zb = graph.qparams[step.b]
                params = add_params(sa, sb, step.out_scale)
                self.ops.append(("add", step, params, za, zb))
            else:
                self.ops.append(("resize", step))
        last_use: dict[str, int] = {}
        for k, step in enumerate(graph.steps):
            for name in _inputs(step):
                last_use[name] = k
        self.last_use = last_use

    def _conv(self, codes: torch.Tensor, op: tuple[Any, ...]) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        _, step, w, b, split, (mult, shift), in_zp, f64_requant = op
        x = codes.to(self.dtype).sub_(in_zp)  # padding with 0 = the input zero point
        if self.use_f32:
            x = x.contiguous(memory_format=torch.channels_last)
        acc = F.conv2d(x, w, None, step.stride, step.pad, 1, step.groups).to(torch.float64)
        if not self.use_f32:
            acc = acc.round_()  # float64 GPU algorithms may leave tiny errors; sums are < 2**53
        if split:
            hi, lo = acc.chunk(2, dim=1)
            acc = hi.mul(2.0**split).add_(lo)
        acc = acc.add_(b)
        if f64_requant:
            return requantize_q31_f64(acc, mult, shift, step.out_zp)
        out = requantize_q31(acc.to(torch.int64), mult, shift, step.out_zp, inplace=True)
        return out.to(torch.float64)

    def __call__(self, q_in: np.ndarray) -> np.ndarray:
        """(1, 3, h, w) uint8 input codes -> (h, w) uint8 output codes."""
        return self.run_codes(q_in)[0, 0]

    def run_codes(self, q_in: np.ndarray) -> np.ndarray:
        """uint8 input codes (N, C, H, W) -> uint8 codes of the graph's output blob."""
        import torch
        import torch.nn.functional as F

        # Codes live in float64 tensors (exact for 0..255, and what the maths below wants).
        vals: dict[str, torch.Tensor] = {
            self.graph.input_name: torch.from_numpy(q_in.astype(np.float64)).to(self.device)
        }
        for k, op in enumerate(self.ops):
            step = op[1]
            if op[0] == "conv":
                y = self._conv(vals[step.inp], op)
            elif op[0] == "add":
                _, step, params, za, zb = op
                y = _exact_add(vals[step.a], vals[step.b], params, za, zb, step.out_zp)
            else:
                y = F.interpolate(vals[step.inp], scale_factor=2.0, mode="nearest")
            for name in set(_inputs(step)):
                if self.last_use[name] == k:
                    del vals[name]
            vals[step.out] = y
        return vals[self.graph.output_name].cpu().numpy().astype(np.uint8)


def _float32_conv_is_exact() -> bool:
    """True when this torch's CPU float32 conv is IEEE float32 (so the split weights give
    exact integers). A user can switch oneDNN to bf16/tf32 maths (ONEDNN_DEFAULT_FPMATH_MODE,
    torch.backends.mkldnn settings); then the exact runner falls back to float64."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = rng.integers(-128, 256, (1, 96, 6, 6))
    w = rng.integers(-128, 129, (4, 96, 3, 3))
    w_split, shift = _split_weights(w, 255)
    got = F.conv2d(torch.from_numpy(x).float(), torch.from_numpy(w_split).float(), padding=1)
    got_i = got.round().to(torch.int64)
    if shift:
        hi, lo = got_i.chunk(2, dim=1)
        got_i = hi.bitwise_left_shift(shift) + lo
    want = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), padding=1)
    ok = torch.equal(got, got.round()) and torch.equal(got_i, want.round().to(torch.int64))
    return bool(ok)


# --- the public model ---------------------------------------------------------------------


@contextlib.contextmanager
def _sensible_threads() -> Iterator[None]:
    """Never run more intra-op threads than the CPUs this process may use (torch counts the
    machine's cores, which oversubscribes containers and affinity-limited workers); restore
    the caller's setting afterwards instead of changing it globally."""
    import torch

    before = torch.get_num_threads()
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or before
    if before > allowed:
        torch.set_num_threads(allowed)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class TiefenrauschModel:
    """The loaded network. ``predict`` maps a uint8 RGB photo to disparity on the net's grid."""

    def __init__(self, graph: QGraph, exact: bool, device: str, paths: tuple[str, str]):
        self.graph = graph
        self.exact = exact
        self.device = device
        self.paths = paths
        self.output_scale, self.output_zp = graph.output_qparams
        self._lock = threading.Lock()  # one inference at a time per model
        if exact:
            # Metal has no float64: the integer emulation runs on the CPU there.
            self._runner: Any = _ExactRunner(graph, "cpu" if device.startswith("mps") else device)
        else:
            self._runner = _FloatRunner(graph, device)

    def predict_codes(self, rgb8: np.ndarray) -> np.ndarray:
        """Exact mode only: the network's uint8 output codes (h, w)."""
        if not self.exact:
            raise ValueError("predict_codes needs a model loaded with exact=True")
        import torch

        q = preprocess(rgb8, self.graph.input_scale, self.graph.input_zp)
        with self._lock, _sensible_threads(), torch.inference_mode():
            return self._runner(q)

    def predict_log(self, rgb8: np.ndarray) -> np.ndarray:
        """Log-disparity (h, w) float32 on the network grid."""
        if self.exact:
            codes = self.predict_codes(rgb8)
            # Int8Dequantize: (q - zp) * scale in float32, as Caffe2 computed it.
            return (codes.astype(np.int32) - self.output_zp).astype(np.float32) * np.float32(
                self.output_scale
            )
        import torch

        q = preprocess(rgb8, self.graph.input_scale, self.graph.input_zp)
        with self._lock, _sensible_threads(), torch.inference_mode():
            x = torch.from_numpy(q).to(self.device)
            x = (x.to(torch.float32) - self.graph.input_zp) * self.graph.input_scale
            out = self._runner(x)
            return out[0, 0].float().cpu().numpy()

    def predict(self, rgb8: np.ndarray) -> np.ndarray:
        """Disparity (h, w) float32 on the network grid, e.g. 384 x 288 for a 4:3 portrait."""
        return np.exp(self.predict_log(rgb8)).astype(np.float32, copy=False)


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


# (net path, init path, exact, device) -> (file sizes and mtimes, model)
_CACHE: dict[tuple[Any, ...], tuple[list[tuple[int, int]], TiefenrauschModel]] = {}
_CACHE_LOCK = threading.Lock()


def load_model(
    net_path: str | os.PathLike[str],
    init_path: str | os.PathLike[str],
    exact: bool = False,
    device: str = "cpu",
) -> TiefenrauschModel:
    """Load (or fetch from the cache) the network from the two official files.

    Raises ModelError naming the file when either is missing, corrupt or not Tiefenrausch.
    """
    _check_device(device)
    paths, stamps = model_file_stamps(net_path, init_path)
    key = (paths, bool(exact), device)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == stamps:
            return cached[1]
        graph = build_graph(read_netdef(paths[0]), read_netdef(paths[1]), *paths)
        model = TiefenrauschModel(graph, bool(exact), device, paths)
        _CACHE[key] = (stamps, model)  # replaces a model of files that have since changed
        return model


def _check_device(device: str) -> None:
    try:
        import torch
    except ImportError:
        raise ModelError(
            "This Tiefenrausch backend needs PyTorch, which is not installed. Choose the depth "
            "backend 'tiefenrausch-opencv' (the same network without PyTorch), install the "
            "dependencies from the add-on preferences, or choose the depth backend 'FILE'."
        ) from None
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"device = {device!r}: this PyTorch has no CUDA device; choose cpu.")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise SettingsError(f"device = {device!r}: Metal is not available here; choose cpu.")
    if kind not in ("cpu", "cuda", "mps"):
        raise SettingsError(f"device = {device!r}: choose cpu, cuda or mps.")


def _load_for(settings: "PipelineSettings", exact: bool) -> TiefenrauschModel:
    from ..models import resolve_model  # lazily: the catalogue is optional for this module

    net = resolve_model(NET_FILE, settings.model_dir)
    init = resolve_model(INIT_FILE, settings.model_dir)
    return load_model(net, init, exact=exact, device=settings.device)


def _estimate_native(photo: "Photo", settings: "PipelineSettings", exact: bool) -> np.ndarray:
    return _load_for(settings, exact).predict(photo.rgb8())


def resize_to_photo(disparity: np.ndarray, height: int, width: int) -> np.ndarray:
    """Network-grid disparity -> (height, width) float32. The net saw the whole photo squeezed
    into its grid, so the grid's outer edges are the photo's; cv2's INTER_LINEAR maps pixel
    centres to pixel centres, which keeps them there (no half-pixel shift)."""
    return cv2.resize(disparity, (width, height), interpolation=cv2.INTER_LINEAR).astype(
        np.float32, copy=False
    )


def estimate_native(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity on the network grid (float path), comparable to the official outputs."""
    return _estimate_native(photo, settings, exact=False)


def estimate(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity resized to the photo, (H, W) float32 (float path)."""
    return resize_to_photo(estimate_native(photo, settings), photo.height, photo.width)


def estimate_native_exact(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity on the network grid from the bit-exact integer emulation."""
    return _estimate_native(photo, settings, exact=True)


def estimate_exact(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity resized to the photo from the bit-exact integer emulation."""
    return resize_to_photo(estimate_native_exact(photo, settings), photo.height, photo.width)


_INPUT = "long side 384, both sides multiples of 32"
register(
    DepthBackend(
        name="tiefenrausch",
        label="Tiefenrausch (fast)",
        licence="MIT",
        input_size=_INPUT,
        needs_torch=True,
        estimate=estimate,
        models=(NET_FILE, INIT_FILE),
        description="The paper's own mobile depth network (3.8 MB), run in float.",
    )
)
register(
    DepthBackend(
        name="tiefenrausch-exact",
        label="Tiefenrausch (bit-exact, slow)",
        licence="MIT",
        input_size=_INPUT,
        needs_torch=True,
        estimate=estimate_exact,
        models=(NET_FILE, INIT_FILE),
        description="Emulates the official int8 arithmetic bit for bit; for checking.",
    )
)
