"""Tiefenrausch's ``exact`` mode: QNNPACK's integer arithmetic emulated bit for bit in torch.

int32 accumulation of ``(x - x_zp) * (w - w_zp) + bias``, "q31" fixed-point requantisation
(two roundings) and QNNPACK's fixed-point add. Integer convolutions run as float32 oneDNN
convolutions whose every partial sum provably stays below 2**24 (weights split in two where
needed), so they are exact; requantisation runs in float64, where each step is exact as well.
Given the same input codes the arithmetic is QNNPACK's (tests compare it with a transcription
of QNNPACK's scalar kernels). torch is imported by the caller (depth.tiefenrausch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .tiefenrausch_graph import QAdd, QConv, QGraph, inputs_of

if TYPE_CHECKING:
    import torch

_F32_EXACT = 1 << 24  # float32 holds every integer below this exactly


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


class ExactRunner:
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
            for name in inputs_of(step):
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
            for name in set(inputs_of(step)):
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
