"""Adaptive simplification: planes exactly, curved surfaces within the stated bound, no
T-junctions, full resolution along edges."""

from __future__ import annotations

from collections import Counter

import numpy as np

from pipeline.mesh.simplify import MAX_UV_SLIDE_PX, coarse_blocks, triangulate


def _all_linked(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.ones((h, w), bool), np.ones((h, w - 1), bool), np.ones((h - 1, w), bool)


def _mesh_disparity(tris: np.ndarray, disp: np.ndarray, w: int) -> np.ndarray:
    """Disparity of the mesh at every lattice position, by barycentric interpolation in
    image space (exact for triangles: a 3D triangle's disparity is affine on screen)."""
    h = disp.shape[0]
    out = np.full((h, w), np.nan, np.float32)
    ys, xs = tris // w, tris % w
    d = disp.ravel()[tris]
    for t in range(tris.shape[0]):
        y, x = ys[t].astype(float), xs[t].astype(float)
        y0, y1, x0, x1 = int(y.min()), int(y.max()), int(x.min()), int(x.max())
        gy, gx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(float)
        det = (y[1] - y[2]) * (x[0] - x[2]) + (x[2] - x[1]) * (y[0] - y[2])
        a = ((y[1] - y[2]) * (gx - x[2]) + (x[2] - x[1]) * (gy - y[2])) / det
        b = ((y[2] - y[0]) * (gx - x[2]) + (x[0] - x[2]) * (gy - y[2])) / det
        c = 1 - a - b
        inside = (a >= -1e-9) & (b >= -1e-9) & (c >= -1e-9)
        val = a * d[t, 0] + b * d[t, 1] + c * d[t, 2]
        sub = out[y0 : y1 + 1, x0 : x1 + 1]
        sub[inside] = val[inside]
    return out


def _edge_counts(tris: np.ndarray) -> Counter:
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    return Counter(map(tuple, edges.tolist()))


def _assert_watertight_disk(tris: np.ndarray, h: int, w: int) -> None:
    """Every edge is shared by two triangles except edges on the lattice border: a T-junction
    would leave an interior edge used once."""
    for (a, b), n in _edge_counts(tris).items():
        assert n <= 2
        if n == 1:
            ya, xa, yb, xb = a // w, a % w, b // w, b % w
            on_border = (ya == yb and ya in (0, h - 1)) or (xa == xb and xa in (0, w - 1))
            assert on_border, (a, b)


def test_plane_simplifies_exactly() -> None:
    h, w = 49, 65
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 0.3 + 0.0008 * xx - 0.0004 * yy  # a 3D plane: disparity affine on screen
    present, lr, ld = _all_linked(h, w)
    full, _ = triangulate(present, disp, lr, ld, 0.04, block=1)
    tris, _ = triangulate(present, disp, lr, ld, 0.04, block=8, tolerance=0.002)
    assert full.shape[0] == 2 * (h - 1) * (w - 1)
    assert tris.shape[0] < full.shape[0] / 8
    _assert_watertight_disk(tris, h, w)
    err = np.abs(_mesh_disparity(tris, disp, w) - disp) / disp
    assert np.nanmax(err) < 1e-5 and not np.isnan(err).any()


def test_a_grazing_plane_keeps_blocks_whose_texture_would_slide() -> None:
    """A steep plane is flat, but affine UV interpolation over a large triangle whose corners
    differ much in depth slides the texture; blocks are coarse only within the slide bound."""
    h, w = 49, 65
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = (0.1 + 0.01 * yy + 0.0 * xx).astype(np.float32)  # depth halves every ~10 rows
    present = np.ones((h, w), bool)
    lr, ld = np.ones((h, w - 1), bool), np.ones((h - 1, w), bool)
    block = 8
    coarse = coarse_blocks(present, disp, lr, ld, block, 0.002)
    assert not coarse.any()
    # The same plane, seen less steeply: simplified.
    gentle = (0.5 + 0.0005 * yy + 0.0 * xx).astype(np.float32)
    assert coarse_blocks(present, gentle, lr, ld, block, 0.002).all()
    # The bound itself: a block's corner depth spread times its size / 4 (pixels of slide).
    nby, nbx = coarse.shape
    for by in range(nby):
        d = gentle[by * block : (by + 1) * block + 1, :1]
        assert (d.max() - d.min()) / d.min() * block / 4 <= MAX_UV_SLIDE_PX


def test_error_bound_on_a_curved_surface_and_full_resolution_at_edges() -> None:
    h, w = 65, 65
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tol = 0.002
    disp = (0.5 + 0.1 * np.sin(xx / 9.0) * np.cos(yy / 11.0)).astype(np.float32)
    present, lr, ld = _all_linked(h, w)
    # A cut along x = 40 (a depth edge) must stay at full resolution.
    lr[:, 40] = False
    tris, _ = triangulate(present, disp, lr, ld, 0.04, block=8, tolerance=tol)
    assert tris.shape[0] < 2 * (h - 1) * (w - 1)
    err = np.abs(_mesh_disparity(tris, disp, w) - disp) / disp
    assert np.nanmax(err) <= 2 * tol  # the documented bound
    used = np.zeros(h * w, bool)
    used[tris.ravel()] = True
    assert used.reshape(h, w)[:, 40:42].all(), "edge columns keep every vertex"


def test_no_t_junctions_next_to_fine_blocks() -> None:
    h, w = 33, 33
    disp = np.full((h, w), 0.5, np.float32)
    disp[14:18, 14:18] += np.float32(0.01)  # a bump: its blocks stay fine
    present, lr, ld = _all_linked(h, w)
    tris, _ = triangulate(present, disp, lr, ld, 0.04, block=8, tolerance=0.002)
    _assert_watertight_disk(tris, h, w)
    # Orientation: counter-clockwise on screen with y down means negative cross product.
    ys, xs = tris // w, tris % w
    cross = (xs[:, 1] - xs[:, 0]) * (ys[:, 2] - ys[:, 0]) - (ys[:, 1] - ys[:, 0]) * (
        xs[:, 2] - xs[:, 0]
    )
    assert (cross < 0).all()


def test_smaller_blocks_next_to_a_bump_without_t_junctions(monkeypatch) -> None:
    """The quadtree: blocks of 8 that a bump spoils fall back to blocks of 4 where those are
    flat, not to full resolution; the mixed sizes still share every vertex along their sides."""
    import pipeline.mesh.simplify as simplify

    h, w = 41, 41
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = (0.4 + 0.001 * xx + 0.0005 * yy).astype(np.float32)
    disp[13:15, 13:15] += np.float32(0.02)  # a bump inside the block at (8, 8)
    present, lr, ld = _all_linked(h, w)
    monkeypatch.setattr(simplify, "MIN_BLOCK", 8)
    one_level, _ = triangulate(present, disp, lr, ld, 0.04, block=8, tolerance=0.002)
    monkeypatch.setattr(simplify, "MIN_BLOCK", 4)
    tris, _ = triangulate(present, disp, lr, ld, 0.04, block=8, tolerance=0.002)
    _assert_watertight_disk(tris, h, w)
    assert tris.shape[0] < one_level.shape[0]
    # The spoiled block (samples 8..16) keeps its bump's quarter at full resolution, and its
    # three flat quarters are fans of 4: of their inner samples only the centre is a vertex.
    used_samples = np.zeros(h * w, bool)
    used_samples[tris.ravel()] = True
    used = used_samples.reshape(h, w)
    assert used[12:17, 12:17].all()
    for y0, x0 in ((8, 8), (8, 12), (12, 8)):
        inner = used[y0 + 1 : y0 + 4, x0 + 1 : x0 + 4]
        assert inner.sum() == 1 and inner[1, 1], (y0, x0)
    err = np.abs(_mesh_disparity(tris, disp, w) - disp) / disp
    assert np.nanmax(err) <= 2 * 0.002 + 1e-6


def test_every_block_size_simplifies_a_plane() -> None:
    """Each block size the settings offer (2, 4, 8, 16) simplifies, blocks of 2 included."""
    h, w = 49, 49
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 0.5 + 0.0002 * xx - 0.0001 * yy  # gentle: no block's texture would slide
    present, lr, ld = _all_linked(h, w)
    full = 2 * (h - 1) * (w - 1)
    counts = {}
    for block in (2, 4, 8, 16):
        tris, _ = triangulate(present, disp, lr, ld, 0.04, block=block, tolerance=0.002)
        _assert_watertight_disk(tris, h, w)
        counts[block] = tris.shape[0]
    assert counts[2] < full and counts[16] < counts[8] < counts[4] < counts[2]
