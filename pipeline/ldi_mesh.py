"""LDI -> textured triangle mesh (stage 5): vertices from linked samples, triangles per layer
image, adaptive simplification, texture atlas, per-vertex ``layer`` / ``inpainted``.

Each layer is triangulated as an image: layer 0 over the whole lattice; a grown layer k over
its own samples plus a one-sample *ring* of the samples its own ones are linked to (usually
the background pixels of layer 0 it was grown from). The ring is what joins the grown surface
to the surface it continues, so no crack opens where it starts. A ring sample is drawn again
as a vertex of layer k's chart (same position, the layer's own UVs), and the samples used as
ring are kept at full resolution in their own layer, so the seam has identical vertex
positions on both sides. Triangles never span two atlas tiles: each is assigned to the tile of
its quad / block, whose vertices are duplicated per tile.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from . import atlas as atlas_mod
from .intrinsics import Intrinsics
from .ldi import INPAINTED, LDI, STEPS, D, R
from .mesh import unproject
from .mesh_data import MeshData
from .simplify import auto_block, triangulate


def _ring(ldi: LDI, k: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Layer map of layer k's image over a crop: k where it has a sample, else the layer of
    the linked neighbouring sample (two passes: 4-neighbours, then their neighbours so that
    quads touching an own sample only diagonally are complete), else -1."""
    own = ldi.valid[k, y0:y1, x0:x1]
    lmap = np.where(own, np.int8(k), np.int8(-1))
    h, w = own.shape
    for _ in range(2):
        src = lmap.copy()
        for d, (dy, dx) in enumerate(STEPS):
            # Positions p whose neighbour q = p + (dy, dx) is unset.
            py = slice(max(0, -dy), h - max(0, dy))
            px = slice(max(0, -dx), w - max(0, dx))
            qy = slice(max(0, dy), h - max(0, -dy))
            qx = slice(max(0, dx), w - max(0, -dx))
            lp = src[py, px]
            has = lp >= 0
            if not has.any():
                continue
            gy, gx = np.nonzero(has)
            lay = lp[gy, gx].astype(np.intp)
            j = ldi.links[lay, d, gy + y0 + py.start, gx + x0 + px.start]
            target = lmap[qy, qx]
            cur = target[gy, gx]
            setm = (cur < 0) & (j >= 0)
            target[gy[setm], gx[setm]] = j[setm]
    return lmap


def _links_in_image(ldi: LDI, lmap: np.ndarray, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray]:
    """Link masks of a layer image: p and its right/down neighbour q are linked when the
    sample shown at p links to the layer shown at q."""
    h, w = lmap.shape
    present = lmap >= 0
    if ldi.layers == 1 or not (lmap > 0).any():
        # Layer-0-only image (the photo layer): links of layer 0 directly.
        right_of = ldi.links[0, R, y0 : y0 + h, x0 : x0 + w]
        down_of = ldi.links[0, D, y0 : y0 + h, x0 : x0 + w]
    else:
        lp = np.clip(lmap, 0, None)[None].astype(np.intp)
        right_of = np.take_along_axis(ldi.links[:, R, y0 : y0 + h, x0 : x0 + w], lp, axis=0)[0]
        down_of = np.take_along_axis(ldi.links[:, D, y0 : y0 + h, x0 : x0 + w], lp, axis=0)[0]
    link_r = present[:, :-1] & present[:, 1:] & (right_of[:, :-1] == lmap[:, 1:])
    link_d = present[:-1, :] & present[1:, :] & (down_of[:-1, :] == lmap[1:, :])
    return link_r, link_d


def ldi_to_mesh(
    ldi: LDI,
    intrinsics: Intrinsics,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    block: int = 0,
    tolerance: float = 0.002,
) -> MeshData:
    """Mesh and atlas for an inpainted LDI. ``z_of_disp`` maps normalised disparity to the
    camera-axis distance; ``block`` 0 = automatic, 1 = no simplification."""
    k_layers = ldi.layers
    h, w = ldi.shape
    m = ldi.margin
    s = auto_block(h * w) if block <= 0 else int(block)
    if tolerance <= 0:
        s = 1
    tile = atlas_mod.TILE
    assert tile % s == 0 or s == 1, "block size must divide the atlas tile size"

    # --- layer images (grown layers: own samples + ring) ---------------------------------
    crops: list[tuple[int, int, int, int]] = [(0, h, 0, w)]
    lmaps: list[np.ndarray] = [np.where(ldi.valid[0], np.int8(0), np.int8(-1))]
    keep_full = [np.zeros((h, w), bool) for _ in range(k_layers)]
    for k in range(1, k_layers):
        ys, xs = np.nonzero(ldi.valid[k])
        if ys.size == 0:
            crops.append((0, 0, 0, 0))
            lmaps.append(np.zeros((0, 0), np.int8))
            continue
        # Crop origin on the block grid so blocks never straddle atlas tiles.
        y0 = max(int(ys.min()) - 2, 0) // max(s, 1) * max(s, 1)
        x0 = max(int(xs.min()) - 2, 0) // max(s, 1) * max(s, 1)
        y1, x1 = min(int(ys.max()) + 3, h), min(int(xs.max()) + 3, w)
        lmap = _ring(ldi, k, y0, y1, x0, x1)
        crops.append((y0, y1, x0, x1))
        lmaps.append(lmap)
        ring = (lmap >= 0) & (lmap != k)
        ry, rx = np.nonzero(ring)
        keep_full_layer = lmap[ry, rx].astype(np.intp)
        for j in np.unique(keep_full_layer):
            sel = keep_full_layer == j
            keep_full[j][ry[sel] + y0, rx[sel] + x0] = True
    kernel = np.ones((3, 3), np.uint8)
    keep_full = [
        cv2.dilate(kf.view(np.uint8), kernel).view(bool) if kf.any() else kf for kf in keep_full
    ]

    # --- triangulate every layer image -------------------------------------------------
    pieces = []  # (k, triangles in global flat lattice positions, anchors global y, x)
    for k in range(k_layers):
        y0, y1, x0, x1 = crops[k]
        lmap = lmaps[k]
        if lmap.size == 0:
            continue
        present = lmap >= 0
        disp = np.take_along_axis(
            ldi.disp[:, y0:y1, x0:x1], np.clip(lmap, 0, None)[None].astype(np.intp), axis=0
        )[0]
        link_r, link_d = _links_in_image(ldi, lmap, y0, x0)
        own = None if k == 0 else lmap == k
        tris, anchor = triangulate(
            present,
            disp,
            link_r,
            link_d,
            ldi.threshold,
            s,
            tolerance,
            own,
            keep_full[k][y0:y1, x0:x1],
        )
        cw = x1 - x0
        ty, tx = tris // cw + y0, tris % cw + x0
        ay, ax = anchor // cw + y0, anchor % cw + x0
        pieces.append((k, ty, tx, ay, ax, lmap, y0, x0))

    # --- vertices: layer 0 one per position; layer k one per (tile, position) ----------
    tiles_per_layer: list[np.ndarray] = []
    vert_y, vert_x, vert_layer, vert_cell, vert_ly, vert_lx = [], [], [], [], [], []
    tri_out = []
    n_vertices = 0
    tile_cols = -(-w // tile) + 1
    cell_base = 0
    for k, ty, tx, ay, ax, lmap, y0, x0 in pieces:
        if k == 0:
            flat = ty.astype(np.int64) * w + tx
            used = np.zeros(h * w, bool)
            used[flat.ravel()] = True
            remap = np.cumsum(used, dtype=np.int64) - 1
            pos = np.flatnonzero(used)
            vert_y.append(pos // w)
            vert_x.append(pos % w)
            vert_layer.append(lmap.ravel()[pos])
            vert_cell.append(np.full(pos.size, -1, np.int64))
            vert_ly.append(np.zeros(pos.size, np.int64))
            vert_lx.append(np.zeros(pos.size, np.int64))
            tri_out.append(remap[flat] + n_vertices)
            n_vertices += pos.size
            tiles_per_layer_k = None
            continue
        tkey = (ay // tile) * tile_cols + (ax // tile)
        utile, tinv = np.unique(tkey, return_inverse=True)
        tiles_per_layer_k = np.stack([utile // tile_cols, utile % tile_cols], axis=1)
        tiles_per_layer.append(tiles_per_layer_k)
        ly = ty - (ay // tile)[:, None] * tile
        lx = tx - (ax // tile)[:, None] * tile
        side = tile + 1
        key = tinv[:, None].astype(np.int64) * (side * side) + ly * side + lx
        used = np.zeros(utile.size * side * side, bool)
        used[key.ravel()] = True
        remap = np.cumsum(used, dtype=np.int64) - 1
        ukey = np.flatnonzero(used)
        ut = ukey // (side * side)
        uly = (ukey // side) % side
        ulx = ukey % side
        gy = tiles_per_layer_k[ut, 0] * tile + uly
        gx = tiles_per_layer_k[ut, 1] * tile + ulx
        vert_y.append(gy)
        vert_x.append(gx)
        vert_layer.append(lmap[gy - y0, gx - x0])
        vert_cell.append(ut + cell_base)
        vert_ly.append(uly)
        vert_lx.append(ulx)
        tri_out.append(remap[key] + n_vertices)
        n_vertices += ukey.size
        cell_base += utile.size

    vy = np.concatenate(vert_y)
    vx = np.concatenate(vert_x)
    vl = np.concatenate(vert_layer).astype(np.intp)
    vcell = np.concatenate(vert_cell)
    triangles = np.concatenate(tri_out).astype(np.int32)

    # --- atlas and UVs ---------------------------------------------------------------------
    grown_colors = [ldi.color[k] for k in range(1, k_layers) if lmaps[k].size]
    texture, lay = atlas_mod.build_atlas(ldi.color[0], grown_colors, tiles_per_layer)
    uvs = np.empty((vy.size, 2), np.float32)
    in_photo = vcell < 0
    uvs[in_photo] = atlas_mod.photo_uv(lay, vy[in_photo], vx[in_photo])
    ly_all = np.concatenate(vert_ly)
    lx_all = np.concatenate(vert_lx)
    uvs[~in_photo] = atlas_mod.tile_uv(lay, vcell[~in_photo], ly_all[~in_photo], lx_all[~in_photo])

    # --- positions -------------------------------------------------------------------------
    d = ldi.disp[vl, vy, vx]
    z = z_of_disp(d)
    xs = vx.astype(np.float32) + np.float32(0.5 - m)
    ys = vy.astype(np.float32) + np.float32(0.5 - m)
    if m == 0:
        # Without a margin the outermost vertices sit on the frame border (as grid_mesh).
        xs[vx == 0], xs[vx == w - 1] = 0.0, float(w)
        ys[vy == 0], ys[vy == h - 1] = 0.0, float(h)
    vertices = unproject(xs, ys, z.astype(np.float32), intrinsics)
    attributes = {
        "layer": vl.astype(np.int32),
        "inpainted": ((ldi.flags[vl, vy, vx] & INPAINTED) != 0).astype(np.int8),
    }
    return MeshData(
        vertices=vertices,
        triangles=triangles,
        uvs=uvs,
        texture=texture,
        intrinsics=intrinsics,
        attributes=attributes,
    )


def depth_function(
    kind: str, raw_disparity_max: float, depth_scale: float, far_ratio: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Normalised disparity -> camera-axis distance, consistent with ``disparity.scene_depth``
    for the photo's own pixels and valid for grown samples too."""
    if kind == "DEPTH":
        a = np.float32(depth_scale / raw_disparity_max)
        return lambda d: a / np.maximum(d, np.float32(1e-12))
    floor = np.float32(1.0 / far_ratio)
    scale = np.float32(depth_scale)
    return lambda d: scale / np.maximum(d, floor)


def build_ldi_mesh(
    rgb: np.ndarray,
    disp: np.ndarray,
    depth: "DepthMap",  # noqa: F821 - only .kind / .disparity() are used
    settings: "PipelineSettings",  # noqa: F821
    intrinsics: Intrinsics,
    valid: np.ndarray | None = None,
    progress: Callable[[str, float, str], None] = lambda s, f, m: None,
) -> MeshData:
    """The whole LDI path: margin, preprocessing, LDI, inpainting, meshing. ``disp`` is the
    normalised disparity at the photo's size; ``rgb`` the photo (uint8 / uint16)."""
    import time

    from .inpaint import get_inpainter, inpaint_ldi
    from .ldi import build_ldi, pad_reflect
    from .preprocess import preprocess

    timings: dict[str, float] = {}
    h, w = disp.shape
    long_side = max(h, w)
    scale_px = long_side / 1024.0
    margin = int(round(settings.frame_margin * long_side))
    steps = settings.extension * long_side
    band = settings.context_band * long_side
    threshold = settings.depth_threshold

    t0 = time.perf_counter()
    progress("preprocess", 0.55, "Sharpening depth edges")
    disp_p = pad_reflect(np.ascontiguousarray(disp, np.float32), margin)
    rgb_p = pad_reflect(np.ascontiguousarray(rgb), margin)
    valid_p = None if valid is None else pad_reflect(valid.view(np.uint8), margin).view(bool)
    guide = rgb_p.astype(np.float32) * np.float32(
        1.0 / (65535.0 if rgb.dtype == np.uint16 else 255.0)
    )
    pre = preprocess(
        disp_p,
        guide,
        threshold,
        settings.median_size,
        settings.median_iterations,
        settings.min_edge_length * max(scale_px, 1.0),
    )
    del guide
    timings["preprocess"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("ldi", 0.65, "Growing background behind edges")
    ldi = build_ldi(
        pre.disp, pre.cuts, rgb_p, threshold, steps, settings.ldi_layers, band, margin, valid_p
    )
    timings["ldi"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("inpaint", 0.75, "Inpainting hidden background")
    inpaint_ldi(ldi, get_inpainter(settings.inpainter, settings.device))
    timings["inpaint"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("mesh", 0.85, "Meshing and packing the texture atlas")
    raw = depth.disparity()
    z_of_disp = depth_function(
        depth.kind, float(np.max(raw)), settings.depth_scale, settings.far_ratio
    )
    mesh = ldi_to_mesh(
        ldi, intrinsics, z_of_disp, settings.simplify_block, settings.simplify_tolerance
    )
    timings["meshing"] = time.perf_counter() - t0
    mesh.timings.update(timings)
    return mesh
