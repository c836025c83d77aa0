"""Depth maps from files: .npy, 8/16-bit PNG, float TIFF / EXR; depth or disparity.

Whatever the file holds, the result is a *disparity* map (larger = nearer) of the photo's size,
plus, for depth maps, the metric depth itself, so that a true depth keeps its true shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DepthFileError

# Above this fraction of unusable pixels a map is refused rather than repaired.
MAX_REPAIR_FRACTION = 0.5


@dataclass
class DepthMap:
    kind: str  # "DEPTH" or "DISPARITY": what the values mean
    values: np.ndarray  # (H, W) float32, finite and > 0 (DEPTH) / >= 0 (DISPARITY)
    warnings: list[str] = field(default_factory=list)

    def disparity(self) -> np.ndarray:
        if self.kind == "DEPTH":
            return (1.0 / self.values).astype(np.float32)
        return self.values


def read_depth_file(
    path: str | os.PathLike[str], kind: str, size: tuple[int, int] | None = None
) -> DepthMap:
    """Read a depth map and resize it to ``size`` = (width, height) if given.

    ``kind`` is "DEPTH" (distance along the camera axis; near is small / dark) or
    "DISPARITY" (inverse depth; near is large / bright). Non-finite or non-positive pixels are
    filled from their nearest valid neighbour when they are few, else the map is refused.
    """
    path = os.fspath(path)
    raw = _read_raw(path)
    values, warnings = _repair(path, raw.astype(np.float32), kind)
    if np.issubdtype(raw.dtype, np.integer):
        values = _dequantise(values, kind)
    if size is not None and (values.shape[1], values.shape[0]) != tuple(size):
        values = _resize(values, size, kind)
    return DepthMap(kind, values, warnings)


def _read_raw(path: str) -> np.ndarray:
    if not os.path.exists(path):
        raise DepthFileError(f"The depth map '{path}' does not exist.")
    if os.path.isdir(path):
        raise DepthFileError(f"The depth map '{path}' is a folder, not a file.")
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DepthFileError(
                f"Cannot read depth map '{path}': not a valid .npy file ({e})."
            ) from None
    else:
        if suffix == ".exr":
            # OpenCV reads EXR only when allowed before cv2 is first imported.
            os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
        import cv2

        with open(path, "rb") as f:
            buffer = np.frombuffer(f.read(), np.uint8)
        data = (
            cv2.imdecode(buffer, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_UNCHANGED)
            if buffer.size
            else None
        )
        if data is None:
            raise DepthFileError(
                f"Cannot read depth map '{path}': not an image OpenCV can decode "
                "(use .npy, 8/16-bit PNG, float TIFF or EXR)."
            )
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[2] in (1, 2, 3, 4):
        data = data[:, :, 0]  # gray stored as colour: channels are equal; use the first
    if data.ndim != 2 or min(data.shape) < 2:
        raise DepthFileError(f"Depth map '{path}' has shape {data.shape}; expected a 2D image.")
    if not (np.issubdtype(data.dtype, np.number) and not np.iscomplexobj(data)):
        raise DepthFileError(f"Depth map '{path}' holds {data.dtype} values; expected numbers.")
    return data


# Gaussian blur passes of the dequantisation; sigma = long side / _DEQUANT_DIVISOR pixels.
_DEQUANT_PASSES = 3
_DEQUANT_DIVISOR = 400.0


def _dequantise(values: np.ndarray, kind: str) -> np.ndarray:
    """An 8/16-bit depth map turns every smooth slope into terraces one level high, which the
    mesh would show as steps and could not simplify (an 8-bit map at 12 MP gave 14 M
    triangles). Replace it by a smooth map that still rounds to the same levels: blur, then
    clamp to within half a level of the file's value, a few times. Edges (many levels high)
    stay where they are; no pixel moves by more than the file's own precision."""
    import cv2

    lo = values - np.float32(0.5)
    if kind == "DISPARITY":
        lo = np.maximum(lo, np.float32(0.0))
    else:
        lo = np.maximum(lo, values * np.float32(0.5))  # depth stays positive
    hi = values + np.float32(0.5)
    sigma = max(1.0, max(values.shape) / _DEQUANT_DIVISOR)
    out = values
    for _ in range(_DEQUANT_PASSES):
        out = np.clip(cv2.GaussianBlur(out, (0, 0), sigma), lo, hi)
    return out.astype(np.float32)


def _repair(path: str, values: np.ndarray, kind: str) -> tuple[np.ndarray, list[str]]:
    invalid = ~np.isfinite(values)
    invalid |= values <= 0 if kind == "DEPTH" else values < 0
    fraction = float(invalid.mean())
    what = "non-finite or non-positive" if kind == "DEPTH" else "non-finite or negative"
    if fraction > MAX_REPAIR_FRACTION:
        raise DepthFileError(
            f"Depth map '{path}': {fraction:.0%} of its pixels are {what}; "
            f"is depth_kind ({kind}) right for this file?"
        )
    warnings = []
    if fraction > 0:
        values = _fill_nearest(values, invalid)
        warnings.append(
            f"Depth map '{path}': filled {invalid.sum()} {what} pixels from their neighbours."
        )
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-6 * max(abs(hi), 1e-12):
        raise DepthFileError(
            f"Depth map '{path}' is constant (every pixel is {lo:g}): it holds no depth. "
            "Check that the right file was chosen and that it was saved with enough bit depth."
        )
    if kind == "DISPARITY" and lo <= 0:
        warnings.append(
            f"Depth map '{path}': disparity reaches 0 (infinitely far); far points are clamped."
        )
    return values, warnings


def _fill_nearest(values: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    import cv2

    # distanceTransformWithLabels gives, for each pixel, the label of the nearest zero pixel;
    # labelling every valid pixel separately turns that into a nearest-valid-pixel lookup.
    _, labels = cv2.distanceTransformWithLabels(
        invalid.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    valid_values = values[~invalid]
    # Labels number the zero pixels in raster order, starting at 1.
    return valid_values[labels - 1].astype(np.float32)


def _resize(values: np.ndarray, size: tuple[int, int], kind: str) -> np.ndarray:
    import cv2

    # Interpolate in disparity so that edges between near and far stay where they are
    # (averaging depth would push intermediate values towards the far side).
    disparity = 1.0 / values if kind == "DEPTH" else values
    shrinking = size[0] < values.shape[1]
    resized = cv2.resize(
        disparity, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    if kind == "DEPTH":
        return (1.0 / resized).astype(np.float32)
    return resized.astype(np.float32)
