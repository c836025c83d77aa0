"""Triangulation of one image-like layer of linked lattice samples, with adaptive
simplification: flat, edge-free blocks become a few large triangles while edges keep full
resolution, and no T-junction cracks appear.

Scheme (a restricted block quadtree): the lattice is tiled into blocks of ``block`` x
``block`` quads. A block is *coarse* when all its (block+1)^2 samples are present and belong
to the layer itself, every link inside it is present, none of its samples is marked
``keep_full`` (samples that other layers' triangles attach to), and its disparity is planar
within ``tolerance``: every sample deviates from the coarse surface (four triangles fanned
from the block's centre sample to its corners) by at most ``tolerance`` times its disparity.
Where a block is not coarse, its quarters are tried the same way, down to ``MIN_BLOCK`` (or
the block size if smaller), so a cut or a bump costs full resolution only next to itself. A
coarse block is drawn as a fan around its centre sample; along a side it shares with a coarse
block of its own size the fan uses the two corners, along any other side (smaller or larger
blocks, full-resolution quads) every sample of that side - and so does whatever lies across
it, so the meshes share all vertices there: no T-junctions, no cracks. All other quads are triangulated at full
resolution from the links (two triangles where all four sides are linked, one corner triangle
where two adjacent sides are).

Error bound: on a side shared with a fine block the fan's boundary is exact and its interior
interpolates between the exact boundary and the centre, so the deviation there is at most
2 x ``tolerance`` (relative disparity, = relative depth to first order); elsewhere at most
``tolerance``. A plane in 3D has disparity affine in image coordinates, so planes simplify
exactly, but a coarse block must also keep the texture slide of affine UV interpolation under
``MAX_UV_SLIDE_PX`` (a steep plane is flat yet swims). Triangle budget (choice): ``block`` 8
below 4 MP, 16 above, down to blocks of 4 (blocks of 2 saved another 8 % of the triangles
of a 1 MP photo for 30 % more time here), tolerance 0.002; a flat 12 MP photo then needs
~0.2 M triangles instead of 24 M; a 1 MP photo with network depth 0.75 M instead of 1.06 M
with blocks of 8 alone (measured in benchmarks/bench_pipeline.py and benchmarks/ldi_speed.py).
"""

from __future__ import annotations

import cv2
import numpy as np

# Largest texture slide (pixels) a coarse block may cause; see coarse_blocks.
MAX_UV_SLIDE_PX = 0.25
# Smallest block of the quadtree (see the module docstring).
MIN_BLOCK = 4


def auto_block(pixels: int) -> int:
    """Default block size for a lattice of ``pixels`` samples."""
    return 8 if pixels < 4_000_000 else 16


def _fan_weights(s: int) -> np.ndarray:
    """(5, s+1, s+1) barycentric weights of the coarse fan surface for a block of size s,
    over (centre, tl, tr, bl, br)."""
    m = s / 2.0
    i, j = np.mgrid[0 : s + 1, 0 : s + 1].astype(np.float64)
    di, dj = i - m, j - m
    weights = np.zeros((5, s + 1, s + 1))
    corners = {1: (0, 0), 2: (0, s), 3: (s, 0), 4: (s, s)}
    # The four fan triangles: (centre, corner a, corner b) and the region they cover.
    tris = (
        (1, 2, di <= -np.abs(dj)),  # top
        (3, 4, di >= np.abs(dj)),  # bottom
        (1, 3, dj <= -np.abs(di)),  # left
        (2, 4, dj >= np.abs(di)),  # right
    )
    done = np.zeros((s + 1, s + 1), bool)
    for a, b, region in tris:
        region = region & ~done
        done |= region
        ai, aj = corners[a]
        bi, bj = corners[b]
        # Solve p - c = alpha (a - c) + beta (b - c) for each point.
        m11, m12, m21, m22 = ai - m, bi - m, aj - m, bj - m
        det = m11 * m22 - m12 * m21
        alpha = (di * m22 - m12 * dj) / det
        beta = (m11 * dj - m21 * di) / det
        weights[0][region] = (1.0 - alpha - beta)[region]
        weights[a][region] = alpha[region]
        weights[b][region] = beta[region]
    return weights.astype(np.float32)


def _block_view(a: np.ndarray, s: int, nby: int, nbx: int) -> np.ndarray:
    """(nby, nbx, s+1, s+1) overlapping windows of ``a`` (no copy)."""
    st0, st1 = a.strides
    return np.lib.stride_tricks.as_strided(
        a, shape=(nby, nbx, s + 1, s + 1), strides=(st0 * s, st1 * s, st0, st1), writeable=False
    )


def _block_all(mask: np.ndarray, rows: int, cols: int, s: int, nby: int, nbx: int) -> np.ndarray:
    """(nby, nbx): ``mask`` is true over the whole ``rows`` x ``cols`` window at every block
    origin (by * s, bx * s). A separable erosion (OpenCV) instead of reductions over strided
    4-D windows."""
    kernel = np.ones((rows, cols), np.uint8)
    eroded = cv2.erode(
        np.ascontiguousarray(mask).view(np.uint8), kernel, anchor=(0, 0), borderValue=0
    )
    return eroded[: nby * s : s, : nbx * s : s].view(bool)


def coarse_blocks(
    present: np.ndarray,
    disp: np.ndarray,
    link_r: np.ndarray,
    link_d: np.ndarray,
    block: int,
    tolerance: float,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """(nby, nbx) bool: which blocks may be drawn coarsely. ``present`` = own sample, linked
    neighbours and not keep_full, per lattice position; ``taken`` (nby, nbx): blocks already
    drawn by a larger block, never coarse here."""
    h, w = present.shape
    s = block
    nby, nbx = (h - 1) // s, (w - 1) // s
    if s < 2 or nby == 0 or nbx == 0 or tolerance <= 0:
        return np.zeros((max(nby, 0), max(nbx, 0)), bool)
    # A position is "clean" when present and linked right and down (within the block the
    # last row/column's outgoing links are not needed, handled by the views below).
    ok_r = np.zeros((h, w), bool)
    ok_r[:, :-1] = link_r
    ok_d = np.zeros((h, w), bool)
    ok_d[:-1, :] = link_d
    cand = (
        _block_all(present, s + 1, s + 1, s, nby, nbx)
        & _block_all(ok_r, s + 1, s, s, nby, nbx)
        & _block_all(ok_d, s, s + 1, s, nby, nbx)
    )
    if taken is not None:
        cand &= ~taken
    by, bx = np.nonzero(cand)
    if by.size == 0:
        return cand
    weights = _fan_weights(s)
    m = s // 2
    dview = _block_view(np.ascontiguousarray(disp, dtype=np.float32), s, nby, nbx)
    coarse = np.zeros_like(cand)
    # Chunk to bound the (n, s+1, s+1) temporaries.
    chunk = max(1, 2_000_000 // ((s + 1) * (s + 1)))
    for start in range(0, by.size, chunk):
        cy, cx = by[start : start + chunk], bx[start : start + chunk]
        blk = dview[cy, cx]  # (n, s+1, s+1) copy
        c = blk[:, m, m]
        fan = (
            weights[0] * c[:, None, None]
            + weights[1] * blk[:, 0, 0, None, None]
            + weights[2] * blk[:, 0, s, None, None]
            + weights[3] * blk[:, s, 0, None, None]
            + weights[4] * blk[:, s, s, None, None]
        )
        err = np.abs(blk - fan) / np.maximum(np.abs(blk), 1e-6)
        flat = err.reshape(err.shape[0], -1).max(axis=1) <= tolerance
        # Renderers interpolate UVs affinely over the 3D triangle, not in the photo's
        # projection: along a side of L pixels whose ends differ in depth by a fraction e the
        # texture slides by up to about L * e / 4 pixels. Bound that slide (a plane seen at
        # a grazing angle is flat but swims).
        corners = np.stack([c, blk[:, 0, 0], blk[:, 0, s], blk[:, s, 0], blk[:, s, s]], axis=1)
        lo = np.maximum(corners.min(axis=1), 1e-6)
        spread = (corners.max(axis=1) - lo) / lo
        coarse[cy, cx] = flat & (spread * s / 4.0 <= MAX_UV_SLIDE_PX)
    return coarse


def triangulate(
    present: np.ndarray,
    disp: np.ndarray,
    link_r: np.ndarray,
    link_d: np.ndarray,
    threshold: float,
    block: int = 1,
    tolerance: float = 0.0,
    own: np.ndarray | None = None,
    keep_full: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangles over an (h, w) lattice crop.

    ``present``: a sample exists at the position; ``disp``: its disparity; ``link_r`` (h, w-1)
    and ``link_d`` (h-1, w): the samples are linked; ``own``: the sample belongs to this layer
    (triangles need at least one own vertex; None = all own); ``keep_full``: never simplify
    blocks touching these. Returns ``(triangles, anchors)``: (M, 3) int64 flat lattice
    positions (y * w + x), counter-clockwise seen from the camera, and (M,) the flat position
    of the top-left corner of the quad or block each triangle was made in."""
    h, w = present.shape
    s = max(int(block), 1)
    eligible = present if own is None else present & own
    if keep_full is not None:
        eligible = eligible & ~keep_full
    # A restricted quadtree: blocks of ``s``, then of s/2 ... MIN_BLOCK wherever no larger
    # block was coarse (so a cut or a curved patch costs full resolution only near itself).
    fans: list[tuple[int, np.ndarray]] = []
    covered = np.zeros((max(h - 1, 0), max(w - 1, 0)), bool)
    size = s
    # The chosen block size is always tried, even below MIN_BLOCK.
    smallest = max(min(MIN_BLOCK, s), 2)
    while size >= smallest and tolerance > 0:
        nby, nbx = (h - 1) // size, (w - 1) // size
        taken = covered[: nby * size : size, : nbx * size : size]
        level = coarse_blocks(eligible, disp, link_r, link_d, size, tolerance, taken)
        if level.any():
            covered[: nby * size, : nbx * size] |= np.repeat(
                np.repeat(level, size, axis=0), size, axis=1
            )
            fans.append((size, level))
        size //= 2

    tris: list[np.ndarray] = []
    anchors: list[np.ndarray] = []

    # --- full resolution quads ---------------------------------------------------------
    top = link_r[:-1, :]
    bottom = link_r[1:, :]
    left = link_d[:, :-1]
    right = link_d[:, 1:]
    nlinks = top.view(np.uint8) + bottom.view(np.uint8) + left.view(np.uint8) + right.view(np.uint8)
    quad_ok = nlinks >= 2
    quad_ok &= ~covered
    qy, qx = np.nonzero(quad_ok)
    if qy.size:
        tl = qy.astype(np.int64) * w + qx
        tr, bl, br = tl + 1, tl + w, tl + w + 1
        lt, lb, ll, lr = top[qy, qx], bottom[qy, qx], left[qy, qx], right[qy, qx]
        d = disp.ravel()
        diag_main = np.abs(d[tl] - d[br])
        diag_anti = np.abs(d[tr] - d[bl])
        full = lt & lb & ll & lr
        use_main = diag_main <= diag_anti
        dthr = np.float32(2.0 * threshold)
        # Corner triangles (each with its two lattice sides and its diagonal).
        c_tl = lt & ll & (diag_anti <= dthr)  # (tl, bl, tr)
        c_tr = lt & lr & (diag_main <= dthr)  # (tl, br, tr)
        c_bl = ll & lb & (diag_main <= dthr)  # (tl, bl, br)
        c_br = lb & lr & (diag_anti <= dthr)  # (tr, bl, br)
        partial = ~full
        # Partial quads get one corner triangle: the available one with the smaller diagonal.
        main_better = diag_main <= diag_anti
        pick_main = partial & (c_tr | c_bl) & (main_better | ~(c_tl | c_br))
        pick_anti = partial & (c_tl | c_br) & ~pick_main
        emit = {
            "tl": (full & ~use_main) | (pick_anti & c_tl),
            "br": (full & ~use_main) | (pick_anti & c_br & ~c_tl),
            "bl": (full & use_main) | (pick_main & c_bl),
            "tr": (full & use_main) | (pick_main & c_tr & ~c_bl),
        }
        corner_tris = {
            "tl": (tl, bl, tr),
            "tr": (tl, br, tr),
            "bl": (tl, bl, br),
            "br": (tr, bl, br),
        }
        for name, mask in emit.items():
            a, b, c = corner_tris[name]
            tris.append(np.stack([a[mask], b[mask], c[mask]], axis=1))
            anchors.append(tl[mask])

    # --- fans around the centres of the coarse blocks, every level ----------------------
    for size, level in fans:
        if level.any():
            t, a = _fans(level, size, h, w)
            tris.append(t)
            anchors.append(a)

    if not tris:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    triangles = np.concatenate(tris)
    anchor = np.concatenate(anchors)
    if own is not None:
        o = own.ravel()
        keep = o[triangles[:, 0]] | o[triangles[:, 1]] | o[triangles[:, 2]]
        triangles, anchor = triangles[keep], anchor[keep]
    return triangles, anchor


def _fans(coarse: np.ndarray, s: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangles (M, 3) and anchors (M,) of the fans of the ``s`` x ``s`` blocks marked in
    ``coarse`` (nby, nbx) over an (h, w) lattice. A side shared with a fan block of the same
    size uses only the two corners; any other side (finer blocks, full-resolution quads, a
    larger block, the ragged strip past the last whole block) uses every sample on it, as does
    whatever lies across it, so no T-junction can form."""
    nby, nbx = coarse.shape
    by, bx = np.nonzero(coarse)
    origin = by.astype(np.int64) * s * w + bx.astype(np.int64) * s
    centre = origin + (s // 2) * w + s // 2
    padded = np.zeros((nby + 2, nbx + 2), bool)
    padded[1:-1, 1:-1] = coarse
    inside_y = np.ones((nby + 2, nbx + 2), bool)
    inside_x = np.ones((nby + 2, nbx + 2), bool)
    # Beyond the lattice there are no vertices: corners suffice.
    inside_y[0, :] = False
    if (h - 1) == nby * s:
        inside_y[-1, :] = False
    inside_x[:, 0] = False
    if (w - 1) == nbx * s:
        inside_x[:, -1] = False
    fine_up = ~padded[by, bx + 1] & inside_y[by, bx + 1]
    fine_down = ~padded[by + 2, bx + 1] & inside_y[by + 2, bx + 1]
    fine_left = ~padded[by + 1, bx] & inside_x[by + 1, bx]
    fine_right = ~padded[by + 1, bx + 2] & inside_x[by + 1, bx + 2]
    j = np.arange(s, dtype=np.int64)
    # Side sample offsets, ordered so that (centre, a, b) is counter-clockwise on screen.
    sides = (
        (fine_up, j + 1, j, np.array([s]), np.array([0])),  # top: right to left
        (fine_left, j * w, (j + 1) * w, np.array([0]), np.array([s * w])),  # left: down
        (fine_down, s * w + j, s * w + j + 1, np.array([s * w]), np.array([s * w + s])),
        (fine_right, (j + 1) * w + s, j * w + s, np.array([s * w + s]), np.array([s])),
    )
    tris: list[np.ndarray] = []
    anchors: list[np.ndarray] = []
    for fine, a_fine, b_fine, a_coarse, b_coarse in sides:
        for mask, a_off, b_off in ((fine, a_fine, b_fine), (~fine, a_coarse, b_coarse)):
            if not mask.any():
                continue
            o = origin[mask][:, None]
            c = np.broadcast_to(centre[mask][:, None], (o.shape[0], a_off.size))
            t = np.stack([c, o + a_off[None, :], o + b_off[None, :]], axis=-1).reshape(-1, 3)
            tris.append(t)
            anchors.append(np.repeat(origin[mask], a_off.size))
    if not tris:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    return np.concatenate(tris), np.concatenate(anchors)
