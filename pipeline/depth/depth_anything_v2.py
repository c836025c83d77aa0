"""Depth Anything V2 depth backends (Small by default; Base and Large are non-commercial).

Preprocessing follows the official model: RGB / 255, resized with bicubic interpolation
keeping the aspect ratio so that the short side is at least 518 px and both sides are
multiples of 14 (``Resize(keep_aspect_ratio=True, ensure_multiple_of=14,
resize_method="lower_bound")``), then ImageNet mean/std. The output is relative disparity
(larger = nearer) on that network grid; ``estimate`` resizes it to the photo.

torch is imported only inside functions (the network lives in ``dav2_net``), so importing
this module to register the backends stays cheap.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..errors import ModelError, SettingsError
from ..runtime.models import get_info, resolve_model, safe_torch_load
from .registry import DepthBackend, register

if TYPE_CHECKING:
    from ..io.image_io import Photo
    from ..settings import PipelineSettings

INPUT_SIZE = 518
MULTIPLE = 14
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

# backend name -> (encoder, catalogue model name)
BACKEND_ENCODERS: dict[str, tuple[str, str]] = {
    "depth-anything-v2-small": ("vits", "depth_anything_v2_vits"),
    "depth-anything-v2-base": ("vitb", "depth_anything_v2_vitb"),
    "depth-anything-v2-large": ("vitl", "depth_anything_v2_vitl"),
}
DEFAULT_BACKEND = "depth-anything-v2-small"


# --- preprocessing ------------------------------------------------------------------------------


def _constrain(x: float, min_val: int) -> int:
    # Nearest multiple (NumPy rounds halves to even, as the official code does), but never
    # below the lower bound.
    y = int(np.round(x / MULTIPLE) * MULTIPLE)
    if y < min_val:
        y = int(np.ceil(x / MULTIPLE) * MULTIPLE)
    return y


def network_size(height: int, width: int, input_size: int = INPUT_SIZE) -> tuple[int, int]:
    """(rows, cols) the network sees for a (height, width) photo: aspect kept, short side
    scaled to ``input_size`` (a lower bound), both sides multiples of 14."""
    scale = max(input_size / height, input_size / width)
    return _constrain(scale * height, input_size), _constrain(scale * width, input_size)


def preprocess(rgb: np.ndarray, input_size: int = INPUT_SIZE) -> np.ndarray:
    """(H, W, 3) RGB uint8/uint16/float[0,1] -> (1, 3, h, w) float32 network input."""
    if rgb.dtype == np.uint8:
        image = rgb.astype(np.float32) * np.float32(1 / 255)
    elif rgb.dtype == np.uint16:
        image = rgb.astype(np.float32) * np.float32(1 / 65535)
    else:
        image = rgb.astype(np.float32, copy=False)
    rows, cols = network_size(image.shape[0], image.shape[1], input_size)
    # Bicubic on floats (no clipping), as the official transform does.
    resized = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_CUBIC)
    normalised = (resized - MEAN) / STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


# --- model --------------------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelError(
            "Depth Anything V2 needs PyTorch, which is not installed. Install the dependencies "
            "from the add-on preferences, or choose the depth backend 'FILE'."
        ) from None
    return torch


def build_model(encoder: str = "vits") -> Any:
    """A randomly initialised DepthAnythingV2 network (eval mode) with the official layout."""
    _torch()
    from .dav2_net import DepthAnythingV2

    return DepthAnythingV2(encoder).eval()


def _device(name: str) -> Any:
    torch = _torch()
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device = 'cuda': this PyTorch has no CUDA device; choose cpu.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise SettingsError("device = 'mps': Metal is not available here; choose cpu.")
    return torch.device(name)


_LOAD_LOCK = threading.Lock()


def load_model(path: str | os.PathLike[str], encoder: str = "vits", device: str = "cpu") -> Any:
    """Network with the weights of ``path`` (an official state_dict, read with
    ``weights_only=True``), on ``device``. Cached: a second call with the same unchanged file
    returns the same module without reading it again."""
    try:
        st = os.stat(path)
    except OSError:
        raise ModelError(f"The model file '{path}' does not exist or cannot be read.") from None
    with _LOAD_LOCK:
        return _load_cached(os.path.abspath(path), st.st_size, st.st_mtime_ns, encoder, device)


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, size: int, mtime_ns: int, encoder: str, device: str) -> Any:
    torch = _torch()
    dev = _device(device)
    state = safe_torch_load(path)
    model = build_model(encoder)
    expected = set(model.state_dict())
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise ModelError(
            f"'{path}' is not a Depth Anything V2 {encoder} checkpoint: {len(missing)} "
            f"tensors missing (e.g. {sorted(missing)[:2]}), {len(unexpected)} unexpected "
            f"(e.g. {sorted(unexpected)[:2]}). Use the official depth_anything_v2_{encoder}.pth."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # shape mismatch: e.g. a Base file chosen for Small
        first = str(e).strip().splitlines()[-1]
        raise ModelError(
            f"'{path}' does not fit the Depth Anything V2 {encoder} network ({first.strip()}). "
            f"Use the official depth_anything_v2_{encoder}.pth."
        ) from None
    with torch.no_grad():
        model.to(dev)
    return model.eval()


def predict(model: Any, rgb: np.ndarray, input_size: int = INPUT_SIZE) -> np.ndarray:
    """Relative disparity (float32, >= 0) at the network grid ``network_size(H, W)``."""
    torch = _torch()
    param = next(model.parameters())
    x = torch.from_numpy(preprocess(rgb, input_size)).to(param.device, param.dtype)
    with torch.inference_mode():
        out = model(x)[0]
    return out.float().cpu().numpy().astype(np.float32, copy=False)


# --- backend functions --------------------------------------------------------------------------


def _input_size(settings: "PipelineSettings") -> int:
    # Optional speed/quality knob; part of the depth cache key (extras starting with depth_).
    size = settings.extras.get("depth_input_size", INPUT_SIZE)
    if not isinstance(size, int) or not 126 <= size <= 2044 or size % MULTIPLE:
        raise SettingsError(
            f"extras['depth_input_size'] = {size!r}: must be a multiple of 14 between 126 "
            f"and 2044 (Depth Anything V2 is trained at 518)."
        )
    return size


def _estimate_native(backend: str, photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    encoder, model_name = BACKEND_ENCODERS[backend]
    input_size = _input_size(settings)  # settings first: no model load for a bad setting
    path = resolve_model(model_name, settings.model_dir)
    model = load_model(path, encoder, settings.device)
    return predict(model, photo.rgb, input_size)


def _to_photo(disparity: np.ndarray, photo: "Photo") -> np.ndarray:
    out = cv2.resize(disparity, (photo.width, photo.height), interpolation=cv2.INTER_LINEAR)
    return out.astype(np.float32, copy=False)


def _backend_name(settings: "PipelineSettings") -> str:
    name = settings.depth_backend
    return name if name in BACKEND_ENCODERS else DEFAULT_BACKEND


def estimate_native(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity at the network grid, from the encoder ``settings.depth_backend`` names
    (Small when it names none of these backends)."""
    return _estimate_native(_backend_name(settings), photo, settings)


def estimate(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity resized (bilinear) to the photo's resolution."""
    return _to_photo(estimate_native(photo, settings), photo)


def _make_estimate(backend: str) -> Any:
    def run(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
        return _to_photo(_estimate_native(backend, photo, settings), photo)

    run.__name__ = f"estimate_{backend.replace('-', '_')}"
    return run


_LABELS = {
    "depth-anything-v2-small": "Depth Anything V2 Small",
    "depth-anything-v2-base": "Depth Anything V2 Base (non-commercial)",
    "depth-anything-v2-large": "Depth Anything V2 Large (non-commercial)",
}

for _name, (_encoder, _model) in BACKEND_ENCODERS.items():
    _info = get_info(_model)
    register(
        DepthBackend(
            name=_name,
            label=_LABELS[_name],
            licence=(
                "Apache-2.0 (code and weights)"
                if _info.licence == "Apache-2.0"
                else "code Apache-2.0; weights CC-BY-NC-4.0: non-commercial use only"
            ),
            input_size="short side 518, multiple of 14",
            needs_torch=True,
            estimate=_make_estimate(_name),
            models=(_model,),
            description=(
                f"Depth Anything V2 ({_encoder}), relative disparity. "
                + (_info.note or f"Weights: {_info.size_text}, downloaded on request.")
            ),
        )
    )
