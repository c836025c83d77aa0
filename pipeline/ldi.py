"""Layered depth image (LDI): the photo lifted to layer 0, cut at depth edges, and background
geometry grown behind every foreground edge (stages 2-3 of *One Shot 3D Photography*).

Data structure (vectorised, image-like - an LDI is locally an image):

* one pixel lattice of shape (H, W): the photo plus a ``margin`` of synthesised pixels on every
  side (the scene extends beyond the frame so a moving camera does not reveal empty borders);
* ``K`` layers over that lattice. Layer 0 holds one sample per lattice position (the photo);
  layer k >= 1 holds the samples grown in the k-th round of geometry extension, each strictly
  behind every sample of the layers before it at the same position (by more than the
  discontinuity threshold). Each position therefore holds 0..K samples, sorted front to back;
* per sample: normalised disparity, colour, flags (ORIGINAL / GROWN / INPAINTED / MARGIN) and
  explicit 4-neighbour links: ``links[k, d, y, x]`` is the layer of the sample at the
  neighbouring position in direction d (R, L, D, U) that this sample is linked to, or -1.
  Links are symmetric: if sample (k, y, x) links right to layer j, sample (j, y, x+1) links
  left to layer k.

Geometry extension (one round per grown layer): the "deepest surface" map F (initially layer 0)
is cut wherever neighbours differ by more than the threshold (layer 0: the cleaned cuts of
``preprocess``). The background side of every cut is a seed. Every lattice position takes the
disparity of its nearest seed (an exact Euclidean distance transform with labels, so a whole
round is a handful of O(N) OpenCV passes, no per-step dilation loop), and becomes a new sample
when (a) it lies within ``steps`` pixels of that seed (less the distance the seed itself was
already grown), (b) the seed's surface is behind F there by more than the threshold - so grown
samples are always behind the foreground they extend, and growth stops where the background
would emerge in front of something (another edge) - and (c) it is 4-connected through accepted
positions to a seed. The grown disparity continues the background (nearest background value),
never the foreground. Nested layers (an object in front of an object in front of a wall) come
out of repeated rounds: the wall grown behind the middle object meets the middle object grown
behind the front one; that meeting line is a cut in F and seeds the next layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .preprocess import Cuts

ORIGINAL = 1  # a pixel of the photo
GROWN = 2  # geometry extension (behind a foreground edge)
INPAINTED = 4  # colour synthesised by the inpainter
MARGIN = 8  # outside the photo's frame (extension of the scene beyond the border)

# Link directions: index into ``LDI.links`` axis 1, with the (dy, dx) step and the opposite.
R, L, D, U = 0, 1, 2, 3
STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0))
OPPOSITE = (L, R, U, D)

# Rows per chunk when comparing every pair of layers for links (bounds K*K temporaries).
_LINK_CHUNK_ROWS = 256


@dataclass
class LDI:
    margin: int  # lattice positions beyond the photo on each side
    valid: np.ndarray  # (K, H, W) bool
    disp: np.ndarray  # (K, H, W) float32 normalised disparity (meaningful where valid)
    color: np.ndarray  # (K, H, W, 3) photo dtype; layer k >= 1 is dense after inpainting
    flags: np.ndarray  # (K, H, W) uint8 bit set of ORIGINAL / GROWN / INPAINTED / MARGIN
    links: np.ndarray  # (K, 4, H, W) int8: linked layer at the neighbour per direction, -1
    threshold: float
    # Per grown layer k (index k-1): which earlier layer gives the background context colour
    # for inpainting at each position (-1: not context), (H, W) int8.
    context: list[np.ndarray] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return int(self.valid.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.valid.shape[1]), int(self.valid.shape[2])

    def sample_count(self) -> int:
        return int(self.valid.sum())


def _seeds(
    F: np.ndarray, Flayer: np.ndarray, cuts: Cuts, threshold: float
) -> np.ndarray:
    """Background sides of the cuts of the deepest-surface map F."""
    jr = F[:, 1:] - F[:, :-1]  # > 0: the right pixel is nearer
    jd = F[1:, :] - F[:-1, :]
    both0_r = (Flayer[:, 1:] == 0) & (Flayer[:, :-1] == 0)
    both0_d = (Flayer[1:, :] == 0) & (Flayer[:-1, :] == 0)
    # Between two layer-0 samples the cleaned cuts decide (noise fragments stay linked);
    # anything involving a grown sample is cut by the threshold.
    cut_r = np.where(both0_r, cuts.right, np.abs(jr) > threshold)
    cut_d = np.where(both0_d, cuts.down, np.abs(jd) > threshold)
    seed = np.zeros(F.shape, bool)
    seed[:, :-1] |= cut_r & (jr > 0)
    seed[:, 1:] |= cut_r & (jr < 0)
    seed[:-1, :] |= cut_d & (jd > 0)
    seed[1:, :] |= cut_d & (jd < 0)
    return seed


def grow_layers(
    disp0: np.ndarray,
    cuts: Cuts,
    threshold: float,
    steps: float,
    max_layers: int,
    context_band: float,
    valid0: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Geometry extension. Returns per grown layer: valid mask, disparity, and the context map
    (layer that supplies background colour for inpainting, -1 elsewhere)."""
    h, w = disp0.shape
    F = disp0.copy()
    Flayer = np.zeros((h, w), np.int8)
    reach = np.zeros((h, w), np.float32)  # how far the deepest sample already was grown
    if valid0 is not None:
        # Transparent photo pixels: nothing to grow from or behind.
        F[~valid0] = np.inf
    masks: list[np.ndarray] = []
    disps: list[np.ndarray] = []
    contexts: list[np.ndarray] = []
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for k in range(1, max_layers + 1):
        seed = _seeds(F, Flayer, cuts, threshold) & (reach < steps - 1.0) & np.isfinite(F)
        n_seeds = int(np.count_nonzero(seed))
        if n_seeds == 0:
            break
        dist, labels = cv2.distanceTransformWithLabels(
            (~seed).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        seed_labels = labels[seed]
        value_of = np.zeros(int(seed_labels.max()) + 1, np.float32)
        value_of[seed_labels] = F[seed]
        reach_of = np.zeros_like(value_of)
        reach_of[seed_labels] = reach[seed]
        v = value_of[labels]
        limit = steps - reach_of[labels]
        accept = (~seed) & (dist <= limit) & (v < F - threshold)
        # Keep only regions 4-connected to a seed (growth never jumps across a gap).
        n, comp = cv2.connectedComponents(accept.view(np.uint8), connectivity=4)
        if n <= 1:
            break
        touching = cv2.dilate(seed.view(np.uint8), cross).view(bool) & accept
        keep = np.zeros(n, bool)
        keep[np.unique(comp[touching])] = True
        keep[0] = False
        accept = keep[comp]
        if not accept.any():
            break
        # Background context for inpainting: near the grown region, on the seed's surface or
        # behind it, never in front of it (the foreground).
        context_zone = (~accept) & (dist <= limit + context_band)
        context_zone &= (F <= v + threshold) & (F >= v - 4.0 * threshold)
        contexts.append(np.where(context_zone, Flayer, np.int8(-1)).astype(np.int8))
        masks.append(accept)
        disps.append(np.where(accept, v, np.float32(0.0)).astype(np.float32))
        F = np.where(accept, v, F)
        Flayer = np.where(accept, np.int8(k), Flayer)
        reach = np.where(accept, reach_of[labels] + dist, reach)
    return masks, disps, contexts


def compute_links(valid: np.ndarray, disp: np.ndarray, cuts: Cuts, threshold: float) -> np.ndarray:
    """Symmetric 4-neighbour links. Layer 0 to layer 0: linked unless cut. Pairs involving a
    grown sample: linked when their disparities differ by at most the threshold and each is the
    other's closest candidate (mutual best), so every sample links to at most one sample per
    direction and the result is symmetric by construction."""
    k_layers, h, w = valid.shape
    links = np.full((k_layers, 4, h, w), -1, np.int8)
    links[0, R, :, :-1] = np.where(cuts.right, -1, 0)
    links[0, L, :, 1:] = np.where(cuts.right, -1, 0)
    links[0, D, :-1, :] = np.where(cuts.down, -1, 0)
    links[0, U, 1:, :] = np.where(cuts.down, -1, 0)
    if not valid[0].all():
        # Transparent layer-0 pixels link to nothing (and nothing links to them).
        for d in range(4):
            links[0, d][~valid[0]] = -1
        links[0, R, :, :-1][~valid[0][:, 1:]] = -1
        links[0, L, :, 1:][~valid[0][:, :-1]] = -1
        links[0, D, :-1, :][~valid[0][1:, :]] = -1
        links[0, U, 1:, :][~valid[0][:-1, :]] = -1
    if k_layers == 1:
        return links
    grown = valid[1:].any(axis=0)
    ys, xs = np.nonzero(grown)
    if ys.size == 0:
        return links
    y0, y1 = max(int(ys.min()) - 1, 0), min(int(ys.max()) + 2, h)
    x0, x1 = max(int(xs.min()) - 1, 0), min(int(xs.max()) + 2, w)
    big = np.float32(np.inf)
    for direction in (R, D):
        for r0 in range(y0, y1, _LINK_CHUNK_ROWS):
            r1 = min(r0 + _LINK_CHUNK_ROWS, y1)
            if direction == R:
                a = (slice(None), slice(r0, r1), slice(x0, x1 - 1))
                b = (slice(None), slice(r0, r1), slice(x0 + 1, x1))
                cut00 = cuts.right[r0:r1, x0 : x1 - 1]
            else:
                r1b = min(r1, h - 1)
                if r1b <= r0:
                    continue
                a = (slice(None), slice(r0, r1b), slice(x0, x1))
                b = (slice(None), slice(r0 + 1, r1b + 1), slice(x0, x1))
                cut00 = cuts.down[r0:r1b, x0:x1]
            va, vb = valid[a], disp[a]
            wa, wb = valid[b], disp[b]
            # diff[k, j]: cost of linking sample k at p with sample j at q.
            diff = np.abs(vb[:, None] - wb[None, :])
            ok = va[:, None] & wa[None, :] & (diff <= threshold)
            diff = np.where(ok, diff, big)
            # Layer 0 - layer 0 is decided by the cuts and takes priority.
            diff[0, 0] = np.where(cut00 | ~(va[0] & wa[0]), big, np.float32(-1.0))
            best_j = np.argmin(diff, axis=1)  # (K, h, w): for each k at p
            best_k = np.argmin(diff, axis=0)  # (K, h, w): for each j at q
            for k in range(k_layers):
                j = best_j[k]
                finite = np.take_along_axis(diff[k], j[None], axis=0)[0] < big
                mutual = np.take_along_axis(best_k, j[None], axis=0)[0] == k
                linked = finite & mutual
                out_f = links[k, direction][a[1:]]
                out_f[...] = np.where(linked, j, np.int8(-1))
            # Reverse links from the forward ones (symmetric by construction).
            opposite = OPPOSITE[direction]
            for j in range(k_layers):
                back = np.full(wa.shape[1:], -1, np.int8)
                for k in range(k_layers):
                    back = np.where(links[k, direction][a[1:]] == j, np.int8(k), back)
                links[j, opposite][b[1:]] = back
    return links


def pad_reflect(image: np.ndarray, margin: int) -> np.ndarray:
    """Mirror the image ``margin`` pixels beyond each border (depth and colour alike, so the
    synthesised frame extension stays consistent: an edge in depth is an edge in colour)."""
    if margin <= 0:
        return image
    h, w = image.shape[:2]
    if margin >= min(h, w):
        # Reflection needs the image to be larger than the margin; repeat it if it is not.
        return np.pad(image, ((margin, margin), (margin, margin)) + ((0, 0),) * (image.ndim - 2), mode="symmetric")
    return cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_REFLECT_101)


def build_ldi(
    disp: np.ndarray,
    cuts: Cuts,
    color: np.ndarray,
    threshold: float,
    steps: float,
    max_layers: int,
    context_band: float,
    margin: int,
    valid0: np.ndarray | None = None,
) -> LDI:
    """Lift a (margin-padded) photo and its preprocessed disparity into an LDI and grow the
    occluded geometry. ``disp``, ``cuts``, ``color`` and ``valid0`` are on the padded lattice;
    ``margin`` tells which positions are outside the photo. Colours of grown layers are left
    for ``inpaint.inpaint_ldi``."""
    h, w = disp.shape
    masks, disps, contexts = grow_layers(disp, cuts, threshold, steps, max_layers, context_band, valid0)
    k_layers = 1 + len(masks)
    valid = np.zeros((k_layers, h, w), bool)
    valid[0] = True if valid0 is None else valid0
    disparity = np.zeros((k_layers, h, w), np.float32)
    disparity[0] = disp
    flags = np.zeros((k_layers, h, w), np.uint8)
    flags[0] = ORIGINAL
    if margin > 0:
        inside = np.zeros((h, w), bool)
        inside[margin : h - margin, margin : w - margin] = True
        flags[0][~inside] = MARGIN | INPAINTED
    for k, (m, d) in enumerate(zip(masks, disps), start=1):
        valid[k] = m
        disparity[k] = d
        flags[k][m] = GROWN | INPAINTED
    colors = np.zeros((k_layers, h, w, 3), color.dtype)
    colors[0] = color
    links = compute_links(valid, disparity, cuts, threshold)
    return LDI(margin, valid, disparity, colors, flags, links, threshold, contexts)
