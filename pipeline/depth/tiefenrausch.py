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
    Emulates QNNPACK's integer arithmetic bit for bit (depth.tiefenrausch_exact). Several
    times slower than ``float``; for checking. On pumpkin.jpg it matches 64.6 % of the official
    pixels exactly and 97.7 % within one output step: the official output was made with
    OpenCV 3.4.2 on IJG libjpeg 9d (the release's requirements.txt), whose JPEG decoding
    differs slightly from the libjpeg-turbo in current OpenCV wheels, and a one-step change
    of an input pixel flips output pixels.

Both modes read the graph and preprocess exactly like the official script
(depth.tiefenrausch_graph). The net returns log-disparity; we return ``exp`` of it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError, SettingsError
from .caffe2_netdef import read_netdef
from .registry import DepthBackend, register
from .tiefenrausch_exact import ExactRunner
from .tiefenrausch_graph import (
    INIT_FILE,
    NET_FILE,
    QAdd,
    QConv,
    QGraph,
    build_graph,
    clamp_range,
    inputs_of,
    model_file_stamps,
    preprocess,
    resize_to_photo,
)

if TYPE_CHECKING:
    import torch

    from ..io.image_io import Photo
    from ..settings import PipelineSettings


# --- the graph, as read from the two files ------------------------------------------------


# --- preprocessing ------------------------------------------------------------------------


# --- the float network --------------------------------------------------------------------


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
            for name in inputs_of(step):
                last_use[name] = k
        for k, step in enumerate(graph.steps):
            ins = tuple(slots[n] for n in inputs_of(step))
            slots[step.out] = len(slots)
            free = tuple({slots[n] for n in inputs_of(step) if last_use[n] == k})
            lo, hi = clamp_range(*graph.qparams[step.out])
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


# --- the exact (integer) network ----------------------------------------------------------


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
            self._runner: Any = ExactRunner(graph, "cpu" if device.startswith("mps") else device)
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
    from ..runtime.models import resolve_model  # lazily: the catalogue is optional for this module

    net = resolve_model(NET_FILE, settings.model_dir)
    init = resolve_model(INIT_FILE, settings.model_dir)
    return load_model(net, init, exact=exact, device=settings.device)


def _estimate_native(photo: "Photo", settings: "PipelineSettings", exact: bool) -> np.ndarray:
    return _load_for(settings, exact).predict(photo.rgb8())


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
