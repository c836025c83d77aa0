"""The backdrop: a coarse sheet behind the whole LDI mesh, so that a crack shows background.

Where layer 0 meets a grown layer along a soft outline, a moved camera can look through a
sub-pixel crack between the two surfaces; at the frame's edges it can look past the margin.
Behind both there is nothing, and nothing renders as a see-through speck. The backdrop is one
grid of ``step`` x ``step`` lattice blocks (about ``NODES`` nodes on the long side, reaching
``EXTEND`` of the long side beyond the lattice on every side) that lies behind every sample:

* depth: per block the farthest LDI sample (the minimum disparity over all layers), then the
  minimum over ``RADIUS`` blocks around (so each node is behind everything within
  ``RADIUS + 1/2`` blocks, more than the cells it spans: the sheet between nodes stays behind
  every sample it covers), then every step up spread into a ramp of at most ``SLOPE`` cut
  thresholds per node on its near side (farther still), and pushed ``PUSH`` farther;
* colour: per block the mean colour of the deepest sample at each position (a grown,
  inpainted sample where background was grown behind a foreground edge, else the photo), so
  along an outline it is the background's colour, never the foreground's. It is the atlas's
  own band (``atlas.build_atlas``), texel (j, i) for node (j, i).

Geometry (``backdrop_geometry``) reads only depth, so it is built while the grown layers are
inpainted; colour (``backdrop_colour``) reads the inpainted colours. Vectorised: depth block
minima are exact (one pass over each layer), colour is averaged over at most 3 x 3 samples per
block; about 4-6 ms + 7 ms at 1 MP and 35 ms + 7 ms at 12 MP on the 2-core test machine. Seen
only through cracks and past the frame margin: in front of every real surface it is hidden.
Where a foreground is wider than the background grown behind it, the sheet ramps down behind
it and carries the foreground's own colour there (visible only past the growth).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..io.intrinsics import Intrinsics, unproject
from ..ldi.layers import LDI, mask_bbox
from . import atlas as atlas_mod

# Nodes on the long side of the lattice (the block size follows, at least MIN_STEP).
NODES = 128
MIN_STEP = 4
# Blocks around each node whose farthest sample it stays behind.
RADIUS = 2
# How much farther than that sample (a fraction of its distance).
PUSH = 0.03
# Steepest rise of the sheet's disparity from one node to the next, in units of the LDI's cut
# threshold: a step (from the background grown behind an outline to a foreground's interior
# beyond the growth) becomes a ramp behind the foreground, so the sheet is never stretched
# across a depth step (a smear wherever a moved camera sees past the growth).
SLOPE = 0.5
# How far the sheet reaches beyond the lattice on every side (fraction of the long side).
EXTEND = 0.04
# Colour samples per block side.
COLOUR_SAMPLES = 3
# ``layer`` attribute of the backdrop's vertices (the LDI's layers are 0, 1, ...).
LAYER = -1


@dataclass
class BackdropGrid:
    """The backdrop's nodes: block size ``step`` (lattice positions), ``blocks`` = (rows,
    columns) of blocks over the lattice, ``extend`` extra nodes beyond it on every side. Node
    (j, i) of the (rows + 2 extend, columns + 2 extend) grid is the centre of block
    (j - extend, i - extend)."""

    step: int
    blocks: tuple[int, int]
    extend: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.blocks[0] + 2 * self.extend, self.blocks[1] + 2 * self.extend


def backdrop_grid(shape: tuple[int, int]) -> BackdropGrid:
    """The backdrop's grid for a lattice of ``shape`` (h, w). Its atlas band is never wider
    than the atlas (``atlas.layout``'s width for the lattice)."""
    h, w = shape
    long_side = max(h, w)
    width = max(w, atlas_mod.CELL)
    step = max(MIN_STEP, -(-long_side // NODES))
    while True:
        blocks = (-(-h // step), -(-w // step))
        extend = max(1, -(-int(round(EXTEND * long_side)) // step))
        if blocks[1] + 2 * extend + 2 * atlas_mod.PAD <= width:
            return BackdropGrid(step, blocks, extend)
        step += 1


def _block_min(a: np.ndarray, s: int) -> np.ndarray:
    """Minimum of each s x s block of a 2-D array (partial blocks at the bottom and right)."""
    h, w = a.shape
    ny, nx = -(-h // s), -(-w // s)
    fy, fx = h // s, w // s
    rows = np.empty((ny, w), a.dtype)
    if fy:
        rows[:fy] = np.ascontiguousarray(a[: fy * s]).reshape(fy, s, w).min(axis=1)
    if fy < ny:
        rows[fy] = a[fy * s :].min(axis=0)
    out = np.empty((ny, nx), a.dtype)
    if fx:
        out[:, :fx] = rows[:, : fx * s].reshape(ny, fx, s).min(axis=2)
    if fx < nx:
        out[:, fx] = rows[:, fx * s :].min(axis=1)
    return out


def far_disparity(ldi: LDI, grid: BackdropGrid) -> np.ndarray:
    """Per block, the smallest disparity of any valid sample in it (``inf`` where none)."""
    s = grid.step
    inf = np.float32(np.inf)
    if ldi.valid[0].all():
        far = _block_min(ldi.disp[0], s)
    else:
        far = _block_min(np.where(ldi.valid[0], ldi.disp[0], inf), s)
    for k in range(1, ldi.layers):
        box = mask_bbox(ldi.valid[k])
        if box is None:
            continue
        # The crop on the block grid, so its blocks are the lattice's.
        y0, x0 = box[0] // s * s, box[2] // s * s
        y1, x1 = box[1], box[3]
        crop = np.where(ldi.valid[k, y0:y1, x0:x1], ldi.disp[k, y0:y1, x0:x1], inf)
        part = _block_min(crop, s)
        by, bx = y0 // s, x0 // s
        view = far[by : by + part.shape[0], bx : bx + part.shape[1]]
        np.minimum(view, part, out=view)
    return far


def backdrop_geometry(
    ldi: LDI,
    grid: BackdropGrid,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    intrinsics: Intrinsics,
    lay: atlas_mod.AtlasLayout,
    base: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (n, 3), UVs (n, 2) (the atlas's backdrop band) and triangles (numbered from
    ``base``, counter-clockwise seen from the camera) of the backdrop."""
    s, e = grid.step, grid.extend
    far = far_disparity(ldi, grid)
    present = np.isfinite(far)
    # Blocks without any sample (transparent photo pixels) take their neighbours' depth for
    # the minimum; their triangles are dropped below.
    if not present.all():
        far = np.where(present, far, np.float32(far[present].max() if present.any() else 1.0))
    k = 2 * RADIUS + 1
    far = cv2.erode(far, np.ones((k, k), np.uint8), borderType=cv2.BORDER_REPLICATE)
    far = _bounded_slope(far, np.float32(SLOPE * ldi.threshold))
    far = np.pad(far, e, mode="edge")
    z = z_of_disp(far).astype(np.float32) * np.float32(1.0 + PUSH)
    ny, nx = z.shape
    m = ldi.margin
    centres_x = (np.arange(nx, dtype=np.float32) - e + 0.5) * s - m
    centres_y = (np.arange(ny, dtype=np.float32) - e + 0.5) * s - m
    vertices = unproject(centres_x[None, :], centres_y[:, None], z, intrinsics).reshape(-1, 3)
    jj, ii = np.mgrid[0:ny, 0:nx]
    uvs = atlas_mod.backdrop_uv(lay, jj.ravel(), ii.ravel())

    idx = np.arange(ny * nx, dtype=np.int32).reshape(ny, nx) + np.int32(base)
    tl, tr, bl, br = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    tri1 = np.stack([tl, bl, br], axis=-1)
    tri2 = np.stack([tl, br, tr], axis=-1)
    if present.all():
        triangles = np.concatenate([tri1.reshape(-1, 3), tri2.reshape(-1, 3)])
    else:
        # Only over opaque photo pixels: a triangle is kept when the blocks of its three
        # nodes hold opaque pixels only (its cell lies within them).
        ok = np.pad(_block_min(ldi.valid[0].view(np.uint8), s) > 0, e, mode="edge")
        keep1 = ok[:-1, :-1] & ok[1:, :-1] & ok[1:, 1:]
        keep2 = ok[:-1, :-1] & ok[1:, 1:] & ok[:-1, 1:]
        triangles = np.concatenate([tri1[keep1], tri2[keep2]])
    return vertices, uvs, triangles.astype(np.int32, copy=False)


def _bounded_slope(far: np.ndarray, slope: np.float32) -> np.ndarray:
    """The largest map <= ``far`` that rises by at most ``slope`` from a node to any of its 8
    neighbours: each step up is spread into a ramp on its near side (only ever farther)."""
    kernel = np.ones((3, 3), np.uint8)
    # A ramp grows by one node per pass: the largest step takes (step / slope) passes.
    for _ in range(int(np.ceil(float(far.max() - far.min()) / slope)) + 1):
        lowered = np.minimum(far, cv2.erode(far, kernel, borderType=cv2.BORDER_REPLICATE) + slope)
        if np.array_equal(lowered, far):
            break
        far = lowered
    return far


def backdrop_colour(ldi: LDI, grid: BackdropGrid) -> np.ndarray:
    """The backdrop's texels, one per node: per block the mean colour of the deepest sample
    at up to ``COLOUR_SAMPLES`` x ``COLOUR_SAMPLES`` positions in it."""
    h, w = ldi.shape
    s, e = grid.step, grid.extend
    t = min(s, COLOUR_SAMPLES)
    by, bx = grid.blocks
    offsets = (np.arange(t) * s) // t + s // (2 * t)
    ys = np.minimum((np.arange(by)[:, None] * s + offsets[None, :]).ravel(), h - 1)
    xs = np.minimum((np.arange(bx)[:, None] * s + offsets[None, :]).ravel(), w - 1)

    def grid_of(image: np.ndarray) -> np.ndarray:
        return np.take(np.take(image, ys, axis=0), xs, axis=1)

    colour = grid_of(ldi.color[0])
    for k in range(1, ldi.layers):
        # Layer k's samples lie behind every earlier layer's: the last valid one is deepest.
        here = grid_of(ldi.valid[k])
        if here.any():
            colour = np.where(here[..., None], grid_of(ldi.color[k]), colour)
    c = colour.shape[-1]
    # Block sums in two flat steps (a reduction over two strided axes at once is slow).
    sums = colour.reshape(by, t, bx * t * c).sum(axis=1, dtype=np.float32).reshape(by, bx, t, c)
    mean = sums[:, :, 0].copy()
    for i in range(1, t):
        mean += sums[:, :, i]
    mean *= np.float32(1.0 / (t * t))
    mean = np.pad(mean, ((e, e), (e, e), (0, 0)), mode="edge")
    if np.issubdtype(ldi.color.dtype, np.integer):
        mean += np.float32(0.5)
    return mean.astype(ldi.color.dtype)
