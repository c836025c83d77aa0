"""Soft depth edges to steps: colour-guided ramp snapping (before the weighted median).

A depth network predicts at 384-518 px and its occlusion edges are ramps several of its own
pixels wide; upsampled to the photo they span 10-20 px at 1024 px, usually overshooting the
object onto the background ("foreground fattening"). No per-pair threshold finds such an edge:
every single step is small, so the mesh stretches across it and a moving camera drags the
subject's colours over the background in streaks. What tells an occlusion ramp from a slanted
surface is its shape and the photo:

* **Shape.** A slanted plane is affine in disparity (exactly, for a pinhole camera), so a
  local linear fit over a window explains it completely. A ramp between two surfaces is a
  sigmoid: the fit leaves a large residual. Pixels whose window spans more than the threshold
  and whose fit residual is a sizeable fraction of that span are *ramp pixels*.
* **Colour.** Each ramp pixel takes the side whose colour it resembles: the window's *upper*
  core (the nearest ``CORE`` of its disparity span) and *lower* core (the farthest)
  each have a mean colour; the pixel gets the mean disparity of the core it is closer to in
  colour. Where the two cores look alike (no colour edge), the pixel keeps the side of the
  midpoint its own disparity is on, so the ramp is still split into two surfaces rather than
  stretched.
* **One split.** A ramp pixel whose window holds only one of the two cores is left as it is
  (a slope, or a ramp wider than the window), except in a stripe a pixel or two wide between
  the two sides of a split: there it takes the nearer side as well, so that the split is one
  step, which is cut, and not two steps around a layer too thin to mesh, of which the cut
  cleanup keeps one (see ``_close_the_split``).

A map whose edges are mostly steps already (a rendered depth, or a network's prediction at
about the photo's own size) is not snapped as a whole (see ``edges_are_sharp``): a grazing face
next to a step is a real slope there. One soft edge in such a map is still snapped, though:
the ramp pixels whose window holds no sharp step, and only toward the far side (the halo a
network leaves over the background), so that the edge is cut instead of stretched.

It runs at a working size (``WORK_SIZE``) where a network's ramps are narrower than the
window, with box filters only (O(N), a few ms per megapixel); pixels it moves by more than the
threshold take the snapped value at full size, all others keep theirs, and the full-size
weighted median then aligns the new steps with the photo's own edges.
"""

from __future__ import annotations

import cv2
import numpy as np

# Long side of the working image, and the window radius there: 8 px at 512 covers ramps up to
# ~30 px at 1024 (what an upsampled 384 px prediction leaves, with its overshoot).
WORK_SIZE = 512
RADIUS = 8
# A window is a ramp when the linear fit leaves an RMS residual above this fraction of its
# disparity span (an ideal step centred in the window leaves 0.25, a plane 0).
RAMP_RESIDUAL = 0.08
# Mean colours of the two cores closer than this (RGB distance, colours in [0, 1]): no colour
# edge, split by depth instead.
MIN_CONTRAST = 0.08
# Weight of the pixel's own disparity against its colour when choosing a side.
DEPTH_WEIGHT = 0.5
# The cores: the nearest and the farthest this fraction of a window's disparity span.
CORE = 0.12
# Smallest step (fraction of the threshold) on both sides of a pixel inside a ramp.
TRANSIT_STEP = 1.0 / 16.0
# A map whose strong edges have one pixel step carrying more than this share of the jump is
# taken as sharp (see edges_are_sharp).
SHARP_STEP = 0.6
# In a map of sharp edges, an edge is soft (snapped, see snap_ramps_here) when no single step
# carries more than this share of its jump: spread over three pixels or more, as a network's
# ramp is. A step interpolated over two pixels (a map upsampled bilinearly) is not.
SOFT_STEP = 0.4
# Fewer strong-edge pixels than this (at the working size) are no edge to judge or snap.
MIN_EDGE = 16
# Widest stripe of unsnapped ramp pixels between the two sides of a split that joins a side
# (_close_the_split): the layers find_cuts merges into one step (preprocess.STAIR_RULES).
STRIPE = 2


def _mean(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def ramp_pixels(disp: np.ndarray, threshold: float, radius: int = 2 * RADIUS) -> np.ndarray:
    """(H, W) bool: pixels whose window spans more than ``threshold`` and is not a plane (the
    window is twice the snapping one, so that a ramp nearly as wide as that one still shows
    its knees)."""
    d = disp.astype(np.float64)
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    span = cv2.dilate(disp, kernel) - cv2.erode(disp, kernel)
    zone = span > threshold
    if not zone.any():
        return zone
    # Local linear regression over the square window with box filters: the offsets x, y are
    # symmetric and uncorrelated, so slope = E[x d] / E[x^2] per axis, and E[x d] is
    # E[X d] - X E[d] in the map's column coordinate X: box filters only (O(1) per pixel at
    # any window size), on the map reflected by hand so that a reflected sample keeps its
    # position in the window.
    ex2 = float(np.mean(np.arange(-radius, radius + 1, dtype=np.float64) ** 2))
    h, w = d.shape
    padded = cv2.copyMakeBorder(d, radius, radius, radius, radius, cv2.BORDER_REFLECT)
    cols = np.arange(-radius, w + radius, dtype=np.float64)
    rows = np.arange(-radius, h + radius, dtype=np.float64)[:, None]

    def inner_mean(image: np.ndarray) -> np.ndarray:
        return _mean(image, size)[radius : radius + h, radius : radius + w]

    mean = inner_mean(padded)
    exd = inner_mean(padded * cols) - cols[radius : radius + w] * mean
    eyd = inner_mean(padded * rows) - rows[radius : radius + h] * mean
    var = inner_mean(padded * padded) - mean * mean - (exd * exd + eyd * eyd) / ex2
    residual = np.sqrt(np.maximum(var, 0.0))
    return zone & (residual > RAMP_RESIDUAL * span) & _in_transit(disp, threshold * TRANSIT_STEP)


def _biggest_step(disp: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The largest step between 4-neighbours within the window ``kernel`` around each pixel."""
    step = np.zeros_like(disp)
    step[:, :-1] = np.abs(np.diff(disp, axis=1))
    step[:-1, :] = np.maximum(step[:-1, :], np.abs(np.diff(disp, axis=0)))
    return cv2.dilate(step, kernel)


def without_sharp_step(disp: np.ndarray, radius: int = 2 * RADIUS) -> np.ndarray:
    """(H, W) bool: windows (the ramp window) in which no single step carries more than
    ``SHARP_STEP`` of the span: their change is a ramp, not a step beside a slope."""
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    span = cv2.dilate(disp, kernel) - cv2.erode(disp, kernel)
    return _biggest_step(disp, kernel) <= np.float32(SHARP_STEP) * span


def _in_transit(disp: np.ndarray, eps: float) -> np.ndarray:
    """Pixels strictly between their two neighbours along x or y, both steps above ``eps``:
    the inside of a ramp. A plateau pixel next to an exact step (a middle layer between a
    wall and a front object) has one flat side and stays as it is."""
    out = np.zeros(disp.shape, bool)
    for axis in (0, 1):
        d = np.diff(disp, axis=axis)
        a = d.take(np.arange(d.shape[axis] - 1), axis=axis)  # p - before
        b = d.take(np.arange(1, d.shape[axis]), axis=axis)  # after - p
        mono = ((a > eps) & (b > eps)) | ((a < -eps) & (b < -eps))
        if axis == 0:
            out[1:-1, :] |= mono
        else:
            out[:, 1:-1] |= mono
    return out


def snap_ramps_here(
    disp: np.ndarray,
    guide: np.ndarray,
    threshold: float,
    radius: int = RADIUS,
    soft_only: bool = False,
) -> np.ndarray:
    """Snap the ramp pixels of ``disp`` (H, W) float32 to one of the two surfaces around them,
    at this size. ``guide`` is the photo, (H, W, 3) float32 in [0, 1]. With ``soft_only``,
    only ramp pixels near a soft strong edge whose window holds no sharp step
    (``without_sharp_step``) are snapped, and only toward the far side."""
    out = np.array(disp, np.float32, copy=True)
    near_soft = None
    if soft_only:
        edge, share = _edge_step_share(out, threshold)
        soft = (edge & (share <= SOFT_STEP)).view(np.uint8)
        if np.count_nonzero(soft) < MIN_EDGE:
            return out
        near_soft = cv2.dilate(soft, np.ones((4 * radius + 1, 4 * radius + 1), np.uint8))
    ramp = ramp_pixels(out, threshold, 2 * radius)
    if near_soft is not None:
        ramp &= near_soft.view(bool) & without_sharp_step(out, 2 * radius)
    if not ramp.any():
        return out
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    hi = cv2.dilate(out, kernel)
    lo = cv2.erode(out, kernel)
    core = np.float32(CORE) * (hi - lo)
    # Each pixel's own cores; their box means approximate the cores of every window nearby
    # (neighbouring windows over one edge share their extremes).
    upper = (out >= hi - core) & (hi - lo > threshold)
    lower = (out <= lo + core) & (hi - lo > threshold)
    up_w = _mean(upper.astype(np.float32), size)
    lo_w = _mean(lower.astype(np.float32), size)
    ys, xs = np.nonzero(ramp & (up_w > 0) & (lo_w > 0))
    # The cores' mean disparity and colour, divided out at the ramp pixels only.
    uw = np.maximum(up_w[ys, xs], np.float32(1e-6))
    lw = np.maximum(lo_w[ys, xs], np.float32(1e-6))
    du = _mean(np.where(upper, out, 0.0).astype(np.float32), size)[ys, xs] / uw
    dl = _mean(np.where(lower, out, 0.0).astype(np.float32), size)[ys, xs] / lw
    cu = _mean(np.where(upper[..., None], guide, 0.0).astype(np.float32), size)[ys, xs]
    cl = _mean(np.where(lower[..., None], guide, 0.0).astype(np.float32), size)[ys, xs]
    cu /= uw[:, None]
    cl /= lw[:, None]
    c = guide[ys, xs]
    axis = cu - cl
    contrast2 = np.sum(axis * axis, axis=1)
    # Where the pixel's colour lies between the two cores' (0 = like the far side, 1 = like the
    # near side), and where its disparity lies between theirs: the colour decides, the depth
    # breaks near-ties, so a pixel deep in the ramp's far tail needs clear colour evidence to
    # join the foreground (a network's halo is mostly background in the photo).
    t = np.sum((c - cl) * axis, axis=1) / np.maximum(contrast2, 1e-12)
    s = (disp[ys, xs] - dl) / np.maximum(du - dl, 1e-6)
    vote = np.where(
        contrast2 >= MIN_CONTRAST**2,
        (np.clip(t, 0.0, 1.0) - 0.5) + DEPTH_WEIGHT * (np.clip(s, 0.0, 1.0) - 0.5),
        s - 0.5,
    )
    # In a map of sharp edges a soft ramp only gives up the pixels that look like its far
    # side (a network's halo over the background); ramp pixels that look like the near side
    # may be a real surface sloping away from the edge (the grazing face of a box) and stay.
    near = out[ys, xs] if soft_only else du
    up = vote > 0
    out[ys, xs] = np.where(up, near, dl)
    _close_the_split(out, ramp, ys, xs, up, soft_only)
    return out


def _close_the_split(
    out: np.ndarray,
    ramp: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    up: np.ndarray,
    soft_only: bool,
) -> None:
    """Ramp pixels whose own window holds one core only (a pixel in the middle of a ramp
    wider than the window, or of a smooth slope) are not snapped above. Where such pixels
    form a stripe at most ``STRIPE`` pixels wide between snapped pixels of the two sides
    (along a row or a column: a pixel that went up on one side, one that went down on the
    other), the split would be two steps around a layer too thin to mesh, and the cut
    cleanup keeps only one of them (``STAIR_RULES`` in preprocess): the other stays as a step
    no cut separates, and stretches from a moved camera. Each such pixel takes the side it
    is closer to in disparity, and the new value of the snapped pixel that bounds the stripe
    on that side (with ``soft_only`` the near side keeps its values, as above), so that the
    split is one step. Wider gaps, and pixels beside the end of a split, stay as they are:
    the split does not grow into a slope."""
    left = ramp.copy()
    left[ys, xs] = False
    if not left.any():
        return
    side = np.zeros(out.shape, np.int8)
    side[ys, xs] = np.where(up, 1, 2)
    # Only pixels within STRIPE along a row or column of both sides can be in such a stripe.
    reach = np.zeros((2 * STRIPE + 1, 2 * STRIPE + 1), np.uint8)
    reach[STRIPE, :] = reach[:, STRIPE] = 1
    near_up = cv2.dilate((side == 1).view(np.uint8), reach).view(bool)
    near_down = cv2.dilate((side == 2).view(np.uint8), reach).view(bool)
    ly, lx = np.nonzero(left & near_up & near_down)
    if ly.size == 0:
        return
    found_x, up_x, down_x = _stripe(side, out, ly, lx, axis=1)
    found_y, up_y, down_y = _stripe(side, out, ly, lx, axis=0)
    fill = found_x | found_y
    if not fill.any():
        return
    # Where both axes find a stripe, the one across it is the axis whose sides differ more.
    use_x = found_x & (~found_y | (np.abs(up_x - down_x) >= np.abs(up_y - down_y)))
    to_up = np.where(use_x, up_x, up_y)[fill]
    to_down = np.where(use_x, down_x, down_y)[fill]
    ly, lx = ly[fill], lx[fill]
    d = out[ly, lx]  # not snapped: the input's values
    near = d if soft_only else to_up
    out[ly, lx] = np.where(np.abs(d - to_up) < np.abs(d - to_down), near, to_down)


def _stripe(
    side: np.ndarray, values: np.ndarray, ys: np.ndarray, xs: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At the unlabelled pixels (``ys``, ``xs``): whether their nearest labelled pixels
    before and after them along ``axis`` (``side`` 1 = went up, 2 = went down, 0 = not
    snapped) carry different labels and are at most ``STRIPE + 1`` apart, and the ``values``
    of the one that went up and of the one that went down (zero where not)."""
    n = side.shape[axis]
    pos = xs if axis == 1 else ys

    def at(offset: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.clip(pos + offset, 0, n - 1)
        where = (ys, q) if axis == 1 else (q, xs)
        inside = (pos + offset >= 0) & (pos + offset < n)
        return np.where(inside, side[where], 0), values[where]

    labels = {o: at(o) for o in range(-STRIPE, STRIPE + 1) if o != 0}
    found = np.zeros(ys.size, bool)
    up = np.zeros(ys.size, np.float32)
    down = np.zeros(ys.size, np.float32)
    for a in range(1, STRIPE + 1):
        for b in range(1, STRIPE + 2 - a):
            (sa, va), (sb, vb) = labels[-a], labels[b]
            hit = (sa > 0) & (sb > 0) & (sa != sb)
            for i in range(1, a):
                hit &= labels[-i][0] == 0
            for j in range(1, b):
                hit &= labels[j][0] == 0
            found |= hit
            up = np.where(hit, np.where(sa == 1, va, vb), up)
            down = np.where(hit, np.where(sa == 1, vb, va), down)
    return found, up, down


def edges_are_sharp(disp: np.ndarray, threshold: float, radius: int = 4) -> bool:
    """Whether the map's depth edges are steps already (a rendered or measured depth) rather
    than a network's ramps: at the typical strong edge, one pixel step carries most of the
    jump across the window. Such a map is not snapped as a whole, so that a genuinely grazing
    face (the narrow side of a box) keeps its slope; only its soft ramps are (snap_ramps)."""
    edge, share = _edge_step_share(disp, threshold, radius)
    if np.count_nonzero(edge) < MIN_EDGE:
        return True  # nothing to snap
    return bool(np.median(share[edge]) > SHARP_STEP)


def _edge_step_share(
    disp: np.ndarray, threshold: float, radius: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Strong-edge pixels (the window spans more than twice ``threshold``) and, per pixel, the
    share of the window's span that its largest single step carries (1 at a step)."""
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    span = cv2.dilate(disp, kernel) - cv2.erode(disp, kernel)
    return span > 2.0 * threshold, _biggest_step(disp, kernel) / np.maximum(span, 1e-12)


def snap_ramps(
    disp: np.ndarray, guide: np.ndarray, threshold: float, work_size: int | None = None
) -> np.ndarray:
    """Ramp snapping at the working size, carried back to the photo's size: pixels it moved by
    more than ``threshold`` take the snapped value (nearest), all others keep theirs. In a map
    whose edges are already steps only the ramps with no sharp step in their window are
    snapped, and only their far-side pixels (``snap_ramps_here(soft_only=True)``)."""
    h, w = disp.shape
    scale = min(1.0, (work_size or WORK_SIZE) / max(h, w))
    small_disp = (
        disp
        if scale >= 1.0
        else cv2.resize(
            disp,
            (max(2, round(w * scale)), max(2, round(h * scale))),
            interpolation=cv2.INTER_NEAREST,
        )
    )
    soft_only = edges_are_sharp(np.asarray(small_disp, np.float32), threshold)
    if scale >= 1.0:
        sharp = snap_ramps_here(disp, guide, threshold, soft_only=soft_only)
        moved = np.abs(sharp - disp) > threshold
        return np.where(moved, sharp, disp).astype(np.float32)
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    small = cv2.resize(disp, size, interpolation=cv2.INTER_AREA)
    small_guide = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
    sharp = snap_ramps_here(small, small_guide, threshold, soft_only=soft_only)
    moved = (np.abs(sharp - small) > threshold).astype(np.uint8)
    if not moved.any():
        return np.asarray(disp, np.float32)
    up_moved = cv2.resize(moved, (w, h), interpolation=cv2.INTER_NEAREST).view(bool)
    up_sharp = cv2.resize(sharp, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.where(up_moved, up_sharp, disp).astype(np.float32)
