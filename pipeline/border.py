"""The scene beyond the photo's frame: the background continued outward, never a mirror.

A moving or zooming camera sees past the frame, so the LDI lattice carries a margin of
synthesised samples on every side. Mirroring the photo there (the obvious padding) copies
whatever touches the border - a head near the top edge reappears upside down above it, a
wheel past the right edge comes back mirrored. Instead the margin continues the *background*
seen along the border:

* the known pixels are the photo's pixels near the frame that lie on the locally farthest
  surface (within the threshold of the minimum disparity around them), so a foreground object
  touching the border contributes neither its colour nor its depth;
* disparity and colour are extrapolated outward from those pixels by push-pull interpolation
  (the same smooth fill the inpainter uses), so the margin is a soft continuation of the
  background, and a foreground object at the border is cut from it like any other edge (and
  background geometry grows behind it from the margin side).
"""

from __future__ import annotations

import cv2
import numpy as np

from .inpaint import push_pull

# Long side of the image the farthest-surface map is computed at.
FAR_SIZE = 128


def extend_frame(
    disp: np.ndarray,
    rgb: np.ndarray,
    margin: int,
    threshold: float,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``disp`` (H, W) float32 and ``rgb`` (H, W, 3) uint8/uint16 padded by ``margin`` on every
    side with the continued background. Returns (disp, rgb) of shape (H + 2m, W + 2m)."""
    if margin <= 0:
        return disp, rgb
    h, w = disp.shape
    m = margin
    # The locally farthest surface: within the threshold of the minimum over a window a third
    # of the photo wide, so a subject touching the border (often large: a person cut off by
    # the frame) is never taken for background. Found at 128 px, where the window is cheap.
    scale = min(1.0, FAR_SIZE / max(h, w))
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(disp, small_size, interpolation=cv2.INTER_AREA)
    k = 2 * max(1, round(max(small_size) / 6)) + 1
    small_far = cv2.erode(small, np.ones((k, k), np.uint8), borderType=cv2.BORDER_REPLICATE)
    far = cv2.resize(small_far, (w, h), interpolation=cv2.INTER_LINEAR)
    background = disp <= far + np.float32(threshold)
    if valid is not None:
        background &= valid
    # Only a band along the frame feeds the extrapolation (the interior is not needed).
    band = np.zeros((h, w), bool)
    b = min(2 * m, h // 2, w // 2)
    band[:b, :] = band[-b:, :] = band[:, :b] = band[:, -b:] = True
    known_inside = background & band
    if not known_inside.any():
        known_inside = band
    out_h, out_w = h + 2 * m, w + 2 * m
    known = np.zeros((out_h, out_w), bool)
    known[m : m + h, m : m + w] = known_inside
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    canvas = np.zeros((out_h, out_w, 4), np.float32)
    canvas[m : m + h, m : m + w, :3] = rgb[..., :3].astype(np.float32) * np.float32(1.0 / scale)
    canvas[m : m + h, m : m + w, 3] = disp
    # push_pull fills 3 channels at a time: colour, then disparity (with two spare channels).
    filled_rgb = push_pull(canvas[..., :3], known)
    filled_d = push_pull(np.repeat(canvas[..., 3:4], 3, axis=2), known)[..., 0]
    out_d = filled_d.astype(np.float32)
    out_d[m : m + h, m : m + w] = disp
    out_rgb = np.clip(filled_rgb * np.float32(scale) + np.float32(0.5), 0, scale).astype(rgb.dtype)
    out_rgb[m : m + h, m : m + w] = rgb[..., :3]
    return out_d, out_rgb
