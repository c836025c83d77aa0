"""Depth preprocessing: edge-sharpening weighted median and clean discontinuity (cut) masks.

Stage 2a of *One Shot 3D Photography*: the raw disparity of a depth network is soft at object
boundaries (a ramp of a few pixels between foreground and background). Cutting such a ramp at
a threshold gives ragged, noisy edges. Two steps fix that:

1. A 5x5 **weighted median** whose weights combine a spatial Gaussian with the colour
   similarity to the centre pixel (a joint / guided weighted median as in Ma et al. 2013, which
   the paper uses). At a depth ramp the pixels that look like the centre pixel win, so the ramp
   snaps to a step that sits on the colour edge. Away from depth edges a median changes (almost)
   nothing, so it is evaluated only in the "edge zone" where the 5x5 window spans more than half
   the discontinuity threshold - that keeps it fast (a few percent of the pixels). The median
   only *snaps*: where it would move a pixel by less than the threshold (quantising a slope
   into steps) the raw value stays. On photos well above 1024 px, where an upsampled
   network's ramps are wider than the window, the ramps are snapped at a 1024 px working size
   first.
2. **Cut cleanup**: neighbours whose normalised disparity differs by more than the threshold
   are cut; the pixels on either side of cuts form an edge map whose 8-connected components
   shorter than ``min_edge_length`` (extent of the bounding box, in pixels) are dropped, and so
   are their cuts, so that depth noise does not tear little holes into the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from ..runtime.parallel import thread_map, workers
from .ramps import snap_ramps

# Neighbourhood of the cuts where the sharpened disparity is kept: the window the background's
# slope is measured over when growing (ldi.seed_slope, radius 4).
_NEAR_CUT = np.ones((9, 9), np.uint8)

# Staircases merged by find_cuts, as (gap, ratio): of two cuts ``gap`` pixels apart that step
# the same way, the smaller is dropped when it is at most ``ratio`` times the larger. A
# one-pixel layer can never be meshed; a two-pixel one with a small step is the tail of a soft
# (network) edge or a grazing face, while two real nested edges close together have steps of
# similar size (kept).
STAIR_RULES = ((1, 1.0), (2, 0.25))

# Pixels of the weighted median processed per chunk: bounds the temporary (n, 25, 3) arrays.
_CHUNK = 65536


@dataclass
class Cuts:
    """Cut masks between 4-neighbours. ``right[y, x]`` cuts (y, x)-(y, x+1), shape (H, W-1);
    ``down[y, x]`` cuts (y, x)-(y+1, x), shape (H-1, W)."""

    right: np.ndarray
    down: np.ndarray

    def edge_pixels(self) -> np.ndarray:
        """Pixels on either side of a cut, (H, W) bool."""
        h, w = self.down.shape[0] + 1, self.right.shape[1] + 1
        edges = np.zeros((h, w), bool)
        edges[:, 1:] |= self.right
        edges[:, :-1] |= self.right
        edges[1:, :] |= self.down
        edges[:-1, :] |= self.down
        return edges


def weighted_median(
    disp: np.ndarray,
    guide: np.ndarray,
    threshold: float,
    radius: int = 2,
    iterations: int = 1,
    sigma_color: float = 0.08,
    sigma_space: float = 1e3,
) -> np.ndarray:
    """Joint weighted median of ``disp`` (H, W) float32 guided by ``guide`` (H, W, 3) float32
    in [0, 1]; window (2*radius+1)^2. Only pixels whose window spans more than
    ``threshold / 2`` in disparity are recomputed (elsewhere the result is the input)."""
    # Always a copy: the caller keeps the unfiltered map (find_cuts compares against it).
    out = np.array(disp, dtype=np.float32, order="C", copy=True)
    h, w = out.shape
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    oy, ox = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    oy, ox = oy.ravel(), ox.ravel()
    # Large sigma_space = uniform spatial weights (exact ones, so ties resolve the same way
    # everywhere: the lower median, i.e. toward the background).
    if sigma_space >= 100.0:
        spatial = np.ones(oy.size, np.float32)
    else:
        spatial = np.exp(-(oy**2 + ox**2) / (2.0 * sigma_space**2)).astype(np.float32)
    inv_two_sigma2 = np.float32(1.0 / (2.0 * sigma_color**2))
    guide = np.ascontiguousarray(guide, dtype=np.float32)
    # After the first pass only pixels near a change can change: elsewhere the window (and the
    # test below, whose support reaches radius + 1) holds the same values as before, so the
    # median is what the pixel already holds.
    near_change: np.ndarray | None = None
    reach = np.ones((2 * radius + 3, 2 * radius + 3), np.uint8)
    for _ in range(iterations):
        spread = cv2.dilate(out, kernel) - cv2.erode(out, kernel)
        # Only where the window is not planar: on a slanted plane (a floor at a grazing
        # angle) the median would only quantise the slope into a staircase of false steps.
        bend = np.zeros_like(out)
        bend[:, 1:-1] = np.abs(out[:, 2:] - 2.0 * out[:, 1:-1] + out[:, :-2])
        bend[1:-1, :] = np.maximum(
            bend[1:-1, :], np.abs(out[2:, :] - 2.0 * out[1:-1, :] + out[:-2, :])
        )
        bend = cv2.dilate(bend, kernel)
        todo = (spread > threshold * 0.5) & (bend > threshold * 0.5)
        if near_change is not None:
            todo &= near_change
        ys, xs = np.nonzero(todo)
        if ys.size == 0:
            break
        src = out.copy()  # read from the previous iteration only (order independent)

        # Pieces of at most _CHUNK pixels, and at least one per thread (numpy's sorts,
        # gathers and ufuncs release the GIL); each writes only its own pixels of ``out``.
        size = min(_CHUNK, -(-ys.size // workers()))
        median = partial(_median_piece, out, src, guide, oy, ox, spatial, inv_two_sigma2)
        thread_map(median, [(ys[s : s + size], xs[s : s + size]) for s in range(0, ys.size, size)])
        changed = (out != src).view(np.uint8)
        near_change = cv2.dilate(changed, reach).view(bool)
    return out


def _median_piece(
    out: np.ndarray,
    src: np.ndarray,
    guide: np.ndarray,
    oy: np.ndarray,
    ox: np.ndarray,
    spatial: np.ndarray,
    inv_two_sigma2: np.float32,
    pixels: tuple[np.ndarray, np.ndarray],
) -> None:
    """The weighted median of ``src`` at ``pixels`` (cy, cx), written to ``out``."""
    h, w = src.shape
    cy, cx = pixels
    ny = np.clip(cy[:, None] + oy[None, :], 0, h - 1)
    nx = np.clip(cx[:, None] + ox[None, :], 0, w - 1)
    values = src[ny, nx]  # (n, 25)
    diff = guide[ny, nx] - guide[cy, cx][:, None, :]
    weights = spatial[None, :] * np.exp(-np.einsum("nkc,nkc->nk", diff, diff) * inv_two_sigma2)
    order = np.argsort(values, axis=1)
    sorted_values = np.take_along_axis(values, order, axis=1)
    cum = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    pick = np.argmax(cum >= 0.5 * cum[:, -1:], axis=1)
    out[cy, cx] = sorted_values[np.arange(cy.size), pick]


def find_cuts(disp: np.ndarray, threshold: float, slope_aware: bool = True) -> Cuts:
    """Neighbour pairs whose normalised disparity differs by more than ``threshold``.

    With ``slope_aware`` a pair is cut only when the jump also differs by more than
    ``threshold`` from the local slope on *both* sides (the mean difference over the two
    pixels before p and after q, edge-replicated at the borders): a plane seen at a grazing
    angle (a floor, the top of a box) has large but steady differences between neighbours and
    stays whole; a depth edge is a spike against the slopes of the surfaces on either side of
    it. Of two cuts one pixel apart that step the same way only the larger is kept: the pixel
    between them would be a layer one pixel thick, which cannot be meshed into a surface (it
    would render as a hole) and is nearly always a grazing face next to a real edge. Thin
    objects (a pole in front of a wall) step up and then down, and keep both cuts.

    Only the pairs over the threshold (a few percent) are examined further."""
    disp = np.ascontiguousarray(disp, dtype=np.float32)
    return Cuts(
        _axis_cuts(disp, threshold, slope_aware, axis=1),
        _axis_cuts(disp, threshold, slope_aware, axis=0),
    )


def _axis_cuts(disp: np.ndarray, threshold: float, slope_aware: bool, axis: int) -> np.ndarray:
    n = disp.shape[axis]
    jump = np.diff(disp, axis=axis)
    cut = np.abs(jump) > threshold
    idx = list(np.nonzero(cut))
    if idx[0].size == 0:
        return cut
    pos = idx[axis]

    def at(offset: int) -> np.ndarray:
        where = list(idx)
        where[axis] = np.clip(pos + offset, 0, n - 1)
        return disp[tuple(where)]

    if slope_aware:
        a, b = at(0), at(1)
        step = b - a
        left = (a - at(-2)) * np.float32(0.5)
        right = (at(3) - b) * np.float32(0.5)
        off = (np.abs(step - left) > threshold) & (np.abs(step - right) > threshold)
        cut[tuple(i[~off] for i in idx)] = False
        idx = [i[off] for i in idx]
        pos = idx[axis]
    # Staircases: a cut whose next (or next but one) pair along the axis is cut too, stepping
    # the same way; decided from the cuts as they are here, so the order does not matter.
    found = cut.copy()
    for gap, ratio in STAIR_RULES:
        has_next = pos + gap < n - 1
        first = [i[has_next] for i in idx]
        second = list(first)
        second[axis] = first[axis] + gap
        t1, t2 = tuple(first), tuple(second)
        a, b = np.abs(jump[t1]), np.abs(jump[t2])
        stair = found[t2] & (np.sign(jump[t1]) == np.sign(jump[t2]))
        stair &= np.minimum(a, b) <= ratio * np.maximum(a, b)
        drop_first = stair & (a < b)
        drop_second = stair & ~(a < b)
        cut[tuple(i[drop_first] for i in first)] = False
        cut[tuple(i[drop_second] for i in second)] = False
    return cut


def clean_cuts(cuts: Cuts, min_edge_length: float) -> Cuts:
    """Drop cuts whose edge-map component (8-connected pixels on either side of cuts) has a
    bounding box whose longer side is shorter than ``min_edge_length`` pixels."""
    if min_edge_length <= 1:
        return cuts
    edges = cuts.edge_pixels().astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = extent >= min_edge_length
    keep[0] = False
    kept = keep[labels]
    # A cut survives when its two pixels belong to a kept component (they share one).
    return Cuts(cuts.right & kept[:, 1:], cuts.down & kept[1:, :])


def _still_steps(cuts: Cuts, disp: np.ndarray, threshold: float) -> Cuts:
    return Cuts(
        cuts.right & (np.abs(np.diff(disp, axis=1)) > threshold),
        cuts.down & (np.abs(np.diff(disp, axis=0)) > threshold),
    )


@dataclass
class Preprocessed:
    disp: np.ndarray  # (H, W) float32 sharpened normalised disparity
    cuts: Cuts


# Long side (pixels) at which the median's window matches the ramps a depth network leaves
# (a 384-518 px prediction upsampled: 2-3 px at 1024, ~8 px at 4032).
WORK_SIZE = 1024


def _coarse_snap(
    disp: np.ndarray, guide: np.ndarray, threshold: float, radius: int, iterations: int
) -> np.ndarray:
    """On a large photo, snap the wide ramps at the working size first: the median runs on a
    downscaled copy, and the pixels it moved by more than the threshold (ramp pixels, now on
    one side of the edge) take that value at full size; all others keep theirs. The full-size
    median then aligns these blocky steps with the photo's own edges."""
    h, w = disp.shape
    scale = WORK_SIZE / max(h, w)
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    small = cv2.resize(disp, size, interpolation=cv2.INTER_AREA)
    small_guide = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
    sharp = weighted_median(small, small_guide, threshold, radius, iterations)
    moved = (np.abs(sharp - small) > threshold).astype(np.uint8)
    if not moved.any():
        return disp
    up_moved = cv2.resize(moved, (w, h), interpolation=cv2.INTER_NEAREST).view(bool)
    up_sharp = cv2.resize(sharp, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.where(up_moved, up_sharp, disp).astype(np.float32)


def _unsnap_strays(
    final: np.ndarray, before: np.ndarray, sharpened: np.ndarray, near_cut: np.ndarray
) -> np.ndarray:
    """Sharpening (the ramp snap, then the median where it moved a pixel by more than the
    threshold: ``sharpened``) is there to turn a ramp into a step that is cut. A patch of
    pixels it moved that touches no cut made none (a smooth bump of a network's map split
    where the cut cleanup then dropped the short step as a fragment): it only left a ridge or
    a trench in a surface, which stretches from a moved camera. Such patches get their values
    from before the sharpening back."""
    moved = (sharpened != before).view(np.uint8)
    if not moved.any():
        return final
    n, labels = cv2.connectedComponents(moved, connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[near_cut & moved.view(bool)])] = True
    keep[0] = True  # not moved
    stray = ~keep[labels]
    return np.where(stray, before, final).astype(np.float32)


def preprocess(
    disp: np.ndarray,
    guide: np.ndarray,
    threshold: float,
    median_size: int = 5,
    median_iterations: int = 1,
    min_edge_length: float = 15.0,
) -> Preprocessed:
    """Sharpen ``disp`` (normalised disparity) with the guided weighted median, then find and
    clean the cuts. ``guide`` is the photo as float32 RGB in [0, 1]."""
    if median_iterations > 0 and median_size >= 3:
        radius = median_size // 2
        # Wide ramps (a network's soft edges) first become steps near the colour edge; the
        # median below then aligns those steps with the photo's edges pixel by pixel.
        before = np.asarray(disp, np.float32)
        disp = snap_ramps(disp, guide, threshold)
        base = disp
        if max(disp.shape) > 1.5 * WORK_SIZE:
            base = _coarse_snap(disp, guide, threshold, radius, median_iterations)
        sharp = weighted_median(base, guide, threshold, radius, median_iterations)
        # The median is there to snap ramp pixels to one side of an edge, which moves them by
        # about half the edge's jump. Where it moved a pixel by no more than the threshold it
        # only quantised a slope into steps (a grazing face next to an edge, where the planar
        # guard does not apply): those steps would be cut as false edges and show from a
        # moved camera, so the raw value stays there.
        raw = np.asarray(disp, np.float32)
        disp = np.where(np.abs(sharp - raw) <= threshold, raw, sharp).astype(np.float32)
        cuts = clean_cuts(find_cuts(disp, threshold), min_edge_length)
        # Next to the cuts, though, the median's values stay: the raw ones there still hold
        # the ramp's tail, which would tilt the slope the background is grown with.
        near = cv2.dilate(cuts.edge_pixels().view(np.uint8), _NEAR_CUT)
        final = np.where(near.view(bool), sharp, disp).astype(np.float32)
        final = _unsnap_strays(final, before, disp, near.view(bool))
        # A cut must still separate two surfaces in the disparity handed on: where the swap
        # to the median's values left both sides within the threshold (the corners of a
        # diagonal edge), it would seed "background" growth on the foreground itself.
        return Preprocessed(final, _still_steps(cuts, final, threshold))
    cuts = clean_cuts(find_cuts(disp, threshold), min_edge_length)
    return Preprocessed(disp, cuts)
