"""Depth maps from files: .npy, 8/16-bit PNG, float TIFF / EXR; depth or disparity.

Whatever the file holds, the result is a *disparity* map (larger = nearer) of the photo's size,
plus, for depth maps, the metric depth itself, so that a true depth keeps its true shape.

Relative disparity (MiDaS-style networks, Depth Anything, our own backends) is known only up
to a scale *and a shift*, and is often negative in the distance. It is shifted so that its
farthest point sits at the far clamp (``far_ratio`` times the nearest distance); a map declared
as plain disparity whose non-positive part is a smooth continuation of the rest (not scattered
invalid pixels or a sentinel value) is recognised as shifted and treated the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DepthFileError
from ..settings import PipelineSettings

# Above this fraction of unusable pixels a map is refused rather than repaired.
MAX_REPAIR_FRACTION = 0.5
# A map whose aspect ratio differs from the photo's by more than this is stretched to fit,
# with a warning (network outputs at their own working size differ by a few per cent).
MAX_ASPECT_MISMATCH = 0.01
# Colour channels of a grey map stored as colour may differ by this much (of the value range,
# on average) from lossy compression; more means a colour-mapped visualisation, not depth.
MAX_CHANNEL_DIFFERENCE = 0.02
# A disparity map is recognised as shifted when at least this share of its finite pixels is
# non-positive, ...
SHIFTED_MIN_SHARE = 0.01
# ... at least this share of those lies inside a non-positive region (all four neighbours
# non-positive; scattered invalid pixels have almost none) ...
SHIFTED_MIN_INTERIOR = 0.5
# ... and where that region meets the positive part the values continue smoothly: the median
# jump there is below this fraction of the map's range (a hole filled with a sentinel jumps).
SHIFTED_MAX_JUMP = 0.05


@dataclass
class DepthMap:
    # "DEPTH", "DISPARITY" or "RELATIVE_DISPARITY" (already shifted into the far clamp): what
    # the values mean. Everything but DEPTH is used as disparity.
    kind: str
    values: np.ndarray  # (H, W) float32, finite and > 0 (DEPTH) / >= 0 (disparities)
    warnings: list[str] = field(default_factory=list)

    def disparity(self) -> np.ndarray:
        if self.kind == "DEPTH":
            return (1.0 / self.values).astype(np.float32)
        return self.values


def read_depth_file(
    path: str | os.PathLike[str],
    kind: str,
    size: tuple[int, int] | None = None,
    far_ratio: float = PipelineSettings.far_ratio,
) -> DepthMap:
    """Read a depth map and resize it to ``size`` = (width, height) if given.

    ``kind`` is "DEPTH" (distance along the camera axis; near is small / dark), "DISPARITY"
    (inverse depth; near is large / bright) or "RELATIVE_DISPARITY" (disparity up to scale and
    shift: shifted so that the farthest point is ``far_ratio`` times the nearest distance).
    Non-finite or non-positive pixels are filled from their nearest valid neighbour when they
    are few, else the map is refused. A map that cannot be the photo's (rotated 90 degrees, a
    colour-mapped picture) is refused; one of another aspect ratio is stretched with a warning.
    """
    path = os.fspath(path)
    raw = _read_raw(path)
    warnings = []
    if size is not None:
        warnings += _check_fit(path, raw.shape[1], raw.shape[0], size)
    values, repair_warnings, shift = _repair(path, raw.astype(np.float32), kind)
    warnings += repair_warnings
    if np.issubdtype(raw.dtype, np.integer):
        values = _dequantise(values, kind)
    if size is not None and (values.shape[1], values.shape[0]) != tuple(size):
        values = _resize(values, size, kind)
    if shift:
        values, _ = shift_relative_disparity(values, far_ratio)
    return DepthMap(kind, values, warnings)


def shift_relative_disparity(values: np.ndarray, far_ratio: float) -> tuple[np.ndarray, float]:
    """Add the shift that puts the farthest point at the far clamp: min = max / far_ratio.

    Relative disparity has an unknown shift; this is the smallest positive one that leaves no
    point beyond the clamp, so a map already inside it is unchanged (shift 0) and a true
    disparity offset by a negative constant gets its own shape back when its far point lay
    at the clamp. Returns the shifted map and the shift."""
    lo, hi = float(np.min(values)), float(np.max(values))
    shift = (hi - far_ratio * lo) / (far_ratio - 1.0)
    if not shift > 0:
        return values, 0.0
    return (values + np.float32(shift)).astype(np.float32, copy=False), shift


def relative_disparity_map(values: np.ndarray, far_ratio: float) -> DepthMap:
    """A depth network's output (relative disparity) as a DepthMap, shifted into the clamp."""
    shifted, _ = shift_relative_disparity(values.astype(np.float32, copy=False), far_ratio)
    return DepthMap("RELATIVE_DISPARITY", shifted)


def _check_fit(path: str, width: int, height: int, size: tuple[int, int]) -> list[str]:
    """Refuse a map turned 90 degrees against the photo; warn about a stretched one."""
    photo_w, photo_h = size
    map_aspect, photo_aspect = width / height, photo_w / photo_h

    def orientation(aspect: float) -> int:
        return 0 if abs(aspect - 1.0) <= MAX_ASPECT_MISMATCH else (1 if aspect > 1 else -1)

    if orientation(map_aspect) * orientation(photo_aspect) < 0:
        raise DepthFileError(
            f"Depth map '{path}' is {width}x{height} but the photo is {photo_w}x{photo_h}: "
            "its shape is transposed (rotated 90 degrees, or saved in the stored orientation "
            "of an EXIF-rotated photo). Rotate the depth map to match the photo as displayed."
        )
    mismatch = abs(map_aspect / photo_aspect - 1.0)
    if mismatch > MAX_ASPECT_MISMATCH:
        return [
            f"Depth map '{path}' is {width}x{height}, aspect ratio {map_aspect:.3f}, but the "
            f"photo is {photo_w}x{photo_h}, {photo_aspect:.3f} ({mismatch:.1%} apart): it is "
            "stretched to fit; check that it belongs to this photo and is not cropped."
        ]
    return []


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
    if data.ndim == 3 and data.shape[2] in (3, 4):
        _check_grey(path, data[:, :, :3])
    if data.ndim == 3 and data.shape[2] in (1, 2, 3, 4):
        data = data[:, :, 0]  # gray stored as colour: channels are equal; use the first
    if data.ndim != 2 or min(data.shape) < 2:
        raise DepthFileError(f"Depth map '{path}' has shape {data.shape}; expected a 2D image.")
    if not (np.issubdtype(data.dtype, np.number) and not np.iscomplexobj(data)):
        raise DepthFileError(f"Depth map '{path}' holds {data.dtype} values; expected numbers.")
    return data


def _check_grey(path: str, colour: np.ndarray) -> None:
    """A depth map stored as colour must be grey: a colour-mapped picture (turbo, viridis)
    encodes depth in the hue, and any one of its channels is not depth."""
    if not (np.issubdtype(colour.dtype, np.number) and colour.size):
        return
    c = colour.astype(np.float32)
    span = float(np.nanmax(c) - np.nanmin(c))
    if not span > 0:
        return
    diff = max(
        float(np.nanmean(np.abs(c[:, :, 0] - c[:, :, 1]))),
        float(np.nanmean(np.abs(c[:, :, 0] - c[:, :, 2]))),
    )
    if diff > MAX_CHANNEL_DIFFERENCE * span:
        raise DepthFileError(
            f"Depth map '{path}' has three colour channels that are not equal (they differ by "
            f"{diff / span:.0%} of the range on average): it looks like a colour-mapped "
            "picture of depth, not depth. Save the depth itself as a grey image or .npy."
        )


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
    if kind != "DEPTH":
        lo = np.maximum(lo, np.float32(0.0))
    else:
        lo = np.maximum(lo, values * np.float32(0.5))  # depth stays positive
    hi = values + np.float32(0.5)
    sigma = max(1.0, max(values.shape) / _DEQUANT_DIVISOR)
    out = values
    for _ in range(_DEQUANT_PASSES):
        out = np.clip(cv2.GaussianBlur(out, (0, 0), sigma), lo, hi)
    return out.astype(np.float32)


def _repair(path: str, values: np.ndarray, kind: str) -> tuple[np.ndarray, list[str], bool]:
    """Fill invalid pixels; returns (values, warnings, whether to shift the map)."""
    finite = np.isfinite(values)
    shift = kind == "RELATIVE_DISPARITY"
    warnings = []
    if kind == "DISPARITY" and _looks_shifted(values, finite):
        shift = True
        share = float(((values <= 0) & finite).sum() / max(int(finite.sum()), 1))
        warnings.append(
            f"Depth map '{path}': {share:.0%} of the disparity is zero or negative and "
            "continuous, so it is relative (shifted) disparity; shifted so that the farthest "
            "point sits at the far clamp (depth_kind RELATIVE_DISPARITY does this without "
            "this message)."
        )
    invalid = ~finite
    if not shift:
        invalid |= values <= 0 if kind == "DEPTH" else values < 0
    if kind == "DISPARITY" and not shift:
        invalid |= _isolated(values == 0)  # a zero amid valid pixels is a dropout, not "far"
    fraction = float(invalid.mean())
    if shift:
        what = "non-finite"
    else:
        what = "non-finite or non-positive" if kind == "DEPTH" else "non-finite or negative"
    if fraction > MAX_REPAIR_FRACTION:
        raise DepthFileError(
            f"Depth map '{path}': {fraction:.0%} of its pixels are {what}; "
            f"is depth_kind ({kind}) right for this file?"
        )
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
    if kind == "DISPARITY" and lo <= 0 and not shift:
        warnings.append(
            f"Depth map '{path}': disparity reaches 0 (infinitely far); far points are clamped."
        )
    return values, warnings, shift


def _isolated(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` none of whose 4-neighbours is in ``mask``."""
    padded = np.pad(mask, 1)
    neighbours = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    return mask & ~neighbours


def _looks_shifted(values: np.ndarray, finite: np.ndarray) -> bool:
    """A disparity with an unknown negative shift: many non-positive pixels forming regions
    whose values continue the positive part smoothly. Scattered invalid pixels, a hole filled
    with one sentinel value (0, -1) or a map of the wrong kind do not qualify."""
    nonpos = finite & (values <= 0)
    count = int(nonpos.sum())
    if count == 0 or count < SHIFTED_MIN_SHARE * int(finite.sum()):
        return False
    below = values[nonpos]
    top, bottom = float(below.max()), float(below.min())
    if max(float(np.mean(below == top)), float(np.mean(below == bottom))) > 0.5:
        return False  # a sentinel, not a continuous distribution
    interior = nonpos[1:-1, 1:-1].copy()
    for neighbour in (nonpos[:-2, 1:-1], nonpos[2:, 1:-1], nonpos[1:-1, :-2], nonpos[1:-1, 2:]):
        interior &= neighbour
    if int(interior.sum()) < SHIFTED_MIN_INTERIOR * count:
        return False
    positive = finite & (values > 0)
    if not positive.any():
        return True  # wholly non-positive yet smooth: a shifted map of the far distance
    jumps = []
    for a, b, pa, pb, na, nb in (
        (
            values[:, :-1],
            values[:, 1:],
            positive[:, :-1],
            positive[:, 1:],
            nonpos[:, :-1],
            nonpos[:, 1:],
        ),
        (values[:-1], values[1:], positive[:-1], positive[1:], nonpos[:-1], nonpos[1:]),
    ):
        meet = (pa & nb) | (na & pb)
        jumps.append(np.abs(a[meet] - b[meet]))
    jump = np.concatenate(jumps)
    span = float(values[finite].max() - bottom)
    return bool(jump.size) and float(np.median(jump)) < SHIFTED_MAX_JUMP * span


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
