"""The scene beyond the photo's frame: the background continued outward, never a mirror.

A moving or zooming camera sees past the frame, so the LDI lattice carries a margin of
synthesised samples on every side. Mirroring the photo there (the obvious padding) copies
whatever touches the border - a head near the top edge reappears upside down above it, a
wheel past the right edge comes back mirrored. Instead the margin continues the *background*
seen along the border:

* the known pixels are the photo's pixels near the frame that lie on the locally farthest
  surface (within the threshold of the minimum disparity around them), or on a surface that
  recedes into it without a depth step (a floor running to the wall), so a foreground object
  touching the border contributes neither its colour nor its depth;
* the margin's depth stays at most at the locally farthest surface's (the margin is sized for
  that surface's slide), a floor's colour included;
* disparity and colour are extrapolated outward from those pixels by push-pull interpolation
  (the same smooth fill the inpainter uses), so the margin is a soft continuation of the
  background, and a foreground object at the border is cut from it like any other edge (and
  background geometry grows behind it from the margin side).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..inpaint import push_pull
from ..io.image_io import full_scale

# Long side of the image the farthest-surface map is computed at.
FAR_SIZE = 128
# Long side of the canvas the margin's fill is computed at.
FILL_SIZE = 512
# The border's detail carried past it: averaged over this many rows next to the border, and
# fading as exp(-distance / (DETAIL_FADE x the photo's long side)). (Ground-truth floor scene,
# 320 px: outside the frame 31.75 dB smooth, 32.45 mirrored, 32.73 with this.)
DETAIL_DEPTH = 2
DETAIL_FADE = 0.04


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
    far += np.float32(threshold)
    background = disp <= far
    # Surfaces that recede smoothly into that farthest one (a floor running to the wall, a
    # slope) are background too, however near they come at the border: anything reached from
    # it without crossing a depth step. An object in front is cut from it by a step.
    background |= _reached_smoothly(
        small, small <= small_far + np.float32(threshold), threshold, (w, h)
    )
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
    # The fill is smooth by nature: it is computed on a canvas at a working size and scaled
    # up (only its margin is used).
    f = min(1.0, FILL_SIZE / max(out_h, out_w))
    sh, sw, sm = max(1, round(h * f)), max(1, round(w * f)), max(1, round(m * f))
    # The margin's depth stays at the locally farthest surface (+ the threshold) even where a
    # nearer receding surface gives it its colour: the margin is sized for the farthest
    # surface's slide (reveal.margin_for_move); nearer content there would slide past it and
    # open holes at the border (a dolly zoom over a photo's near ground).
    # Masked means by area averaging: the photo with the unknown pixels zeroed (kept in its
    # own integer type: no full-size float copy), divided by the averaged mask.
    known8 = known_inside.view(np.uint8) * np.uint8(255)
    small_w = cv2.resize(known8, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    small_w *= np.float32(1.0 / 255.0)
    del known8
    masked = np.where(known_inside[..., None], rgb[..., :3], 0).astype(rgb.dtype, copy=False)
    small_rgb = cv2.resize(masked, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    del masked
    small_d = cv2.resize(
        np.where(known_inside, np.minimum(disp, far), np.float32(0.0)),
        (sw, sh),
        interpolation=cv2.INTER_AREA,
    )
    norm = 1.0 / np.maximum(small_w, 1e-6)
    scale = full_scale(rgb.dtype)
    canvas = np.zeros((sh + 2 * sm, sw + 2 * sm, 4), np.float32)
    canvas[sm : sm + sh, sm : sm + sw, :3] = small_rgb * (norm / np.float32(scale))[..., None]
    canvas[sm : sm + sh, sm : sm + sw, 3] = small_d * norm
    inside = np.zeros(canvas.shape[:2], bool)
    inside[sm : sm + sh, sm : sm + sw] = small_w > 0.5
    if not inside.any():
        inside[sm : sm + sh, sm : sm + sw] = True
    # push_pull fills 3 channels at a time: colour, then disparity (with two spare channels).
    filled_rgb = push_pull(canvas[..., :3], inside)
    filled_d = push_pull(np.repeat(canvas[..., 3:4], 3, axis=2), inside)[..., 0]
    # Scaled up in the photo's own type (the fill is smooth; only the margin is kept).
    small_out = np.clip(filled_rgb * np.float32(scale) + np.float32(0.5), 0, scale)
    out_rgb = cv2.resize(
        small_out.astype(rgb.dtype), (out_w, out_h), interpolation=cv2.INTER_LINEAR
    )
    out_rgb[m : m + h, m : m + w] = rgb[..., :3]
    _continue_detail(out_rgb, rgb, known_inside, m)
    out_d = cv2.resize(filled_d.astype(np.float32), (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    out_d[m : m + h, m : m + w] = disp
    return out_d, out_rgb


def _continue_detail(out_rgb: np.ndarray, rgb: np.ndarray, known: np.ndarray, m: int) -> None:
    """Add the background's detail at each border to the smooth fill beyond it, fading out.

    The push-pull fill keeps only the low frequencies: a texture or a line that runs into the
    border (floor boards, a horizon) stops dead there. Its continuation is best predicted by
    what the border itself holds: the detail (background profile along the border minus the
    smooth fill just past it) is carried straight outward and faded with the distance, as its
    correlation with the unseen scene fades. Only background pixels away from any foreground
    (the known mask eroded) give detail, so nothing of an object touching the border is
    copied; no pixel is mirrored or tiled (no second copy of anything in the photo)."""
    h, w = known.shape
    depth = min(DETAIL_DEPTH, h, w)
    clean = cv2.erode(
        known.view(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE
    )
    dist = np.arange(1, m + 1, dtype=np.float32)
    fade = np.exp(-dist / np.float32(max(DETAIL_FADE * max(h, w), 1.0)))
    scale = np.float32(full_scale(rgb.dtype))
    # Each side seen as the top one: (photo strip from the border inward, margin strip from
    # the border outward), both views into the arrays.
    sides = (
        (rgb[:depth, :, :3], clean[:depth], out_rgb[m - 1 :: -1, m : m + w]),
        (rgb[::-1][:depth, :, :3], clean[::-1][:depth], out_rgb[m + h :, m : m + w]),
        (
            rgb[:, :depth, :3].transpose(1, 0, 2),
            clean[:, :depth].T,
            out_rgb[m : m + h, m - 1 :: -1].transpose(1, 0, 2),
        ),
        (
            rgb[:, ::-1][:, :depth, :3].transpose(1, 0, 2),
            clean[:, ::-1][:, :depth].T,
            out_rgb[m : m + h, m + w :].transpose(1, 0, 2),
        ),
    )
    for photo, ok, margin in sides:
        wgt = ok.astype(np.float32)
        total = wgt.sum(axis=0)
        profile = (photo.astype(np.float32) * wgt[..., None]).sum(axis=0)
        profile /= np.maximum(total, np.float32(1.0))[:, None]
        # Detail only where every pixel of the profile is clean background.
        full = (total >= depth - 0.5)[:, None]
        smooth = margin.astype(np.float32)
        detail = np.where(full, profile - smooth[0], np.float32(0.0))
        smooth += detail[None] * fade[: margin.shape[0], None, None]
        np.clip(smooth + np.float32(0.5), 0, scale, out=smooth)
        margin[...] = smooth.astype(out_rgb.dtype)


def _reached_smoothly(
    small: np.ndarray, seeds: np.ndarray, threshold: float, size: tuple[int, int]
) -> np.ndarray:
    """Pixels (at ``size``) of the surfaces reached from ``seeds`` on ``small`` without crossing
    a step of more than ``threshold`` between neighbours: the nearer pixel of every such step is
    left out, so 4-connected regions of the rest never span a step. Shrunk by one pixel of
    ``small`` before it is scaled up, so no pixel of an object in front is taken along."""
    t = np.float32(threshold)
    dx = small[:, 1:] - small[:, :-1]
    dy = small[1:, :] - small[:-1, :]
    step = np.zeros(small.shape, bool)
    step[:, 1:] |= dx > t  # the right pixel is nearer
    step[:, :-1] |= -dx > t  # the left one is
    step[1:, :] |= dy > t
    step[:-1, :] |= -dy > t
    smooth = (~step).view(np.uint8)
    count, labels = cv2.connectedComponents(smooth, connectivity=4)
    hit = np.zeros(count, bool)
    hit[labels[seeds & ~step]] = True
    hit[0] = False  # the step pixels
    reached = hit[labels].view(np.uint8)
    reached = cv2.erode(reached, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    up = cv2.resize(reached * np.uint8(255), size, interpolation=cv2.INTER_LINEAR)
    return up > 127


def pad_reflect(image: np.ndarray, margin: int) -> np.ndarray:
    """Mirror the image ``margin`` pixels beyond each border (depth and colour alike, so the
    synthesised frame extension stays consistent: an edge in depth is an edge in colour)."""
    if margin <= 0:
        return image
    h, w = image.shape[:2]
    if margin >= min(h, w):
        # Reflection needs the image to be larger than the margin; repeat it if it is not.
        return np.pad(
            image,
            ((margin, margin), (margin, margin)) + ((0, 0),) * (image.ndim - 2),
            mode="symmetric",
        )
    return cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_REFLECT_101)
