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
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..io.intrinsics import Intrinsics
from ..ldi.layers import INPAINTED, LDI, STEPS, D, R, mask_bbox
from . import atlas as atlas_mod
from .baselines import unproject
from .mesh_data import MeshData
from .simplify import auto_block, triangulate

# Grown (hidden, inpainted) layers are simplified with this many times the photo layer's
# depth tolerance: they are seen only from moved cameras, near the outlines that reveal them,
# and are pieced together from the planes of many edges.
GROWN_TOLERANCE = 4.0


def _pick(stack: np.ndarray, lmap: np.ndarray) -> np.ndarray:
    """``stack[lmap[y, x], y, x]`` for a (K, h, w) stack and an (h, w) layer map, layer 0
    where lmap < 0 (as clipping the map would). A select per layer: the layer maps hold a few
    small values, and K cheap passes beat a gather with a full-size intp index."""
    out = stack[0].copy()
    for k in range(1, stack.shape[0]):
        np.copyto(out, stack[k], where=lmap == k)
    return out


def _ring(ldi: LDI, k: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Layer map of layer k's image over a crop: k where it has a sample, else the layer of
    the linked neighbouring sample (two passes: 4-neighbours, then their neighbours so that
    quads touching an own sample only diagonally are complete), else -1."""
    own = ldi.valid[k, y0:y1, x0:x1]
    lmap = np.where(own, np.int8(k), np.int8(-1))
    h, w = own.shape
    for _ in range(2):
        src = lmap.copy()
        has_src = src >= 0
        for d, (dy, dx) in enumerate(STEPS):
            # Positions p whose neighbour q = p + (dy, dx) is unset take the layer that the
            # sample shown at p links to in direction d (dense: each q has one such p).
            py = slice(max(0, -dy), h - max(0, dy))
            px = slice(max(0, -dx), w - max(0, dx))
            qy = slice(max(0, dy), h - max(0, -dy))
            qx = slice(max(0, dx), w - max(0, -dx))
            j = _pick(ldi.links[:, d, y0:y1, x0:x1], src)
            j[~has_src] = -1
            jp = j[py, px]
            target = lmap[qy, qx]
            np.copyto(target, jp, where=(target < 0) & (jp >= 0))
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
        right_of = _pick(ldi.links[:, R, y0 : y0 + h, x0 : x0 + w], lmap)
        down_of = _pick(ldi.links[:, D, y0 : y0 + h, x0 : x0 + w], lmap)
    link_r = present[:, :-1] & present[:, 1:] & (right_of[:, :-1] == lmap[:, 1:])
    link_d = present[:-1, :] & present[1:, :] & (down_of[:-1, :] == lmap[1:, :])
    return link_r, link_d


def ldi_to_mesh(
    ldi: LDI,
    intrinsics: Intrinsics,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    block: int = 0,
    tolerance: float = 0.002,
    skirts: bool = True,
) -> MeshData:
    """Mesh and atlas for an inpainted LDI. ``z_of_disp`` maps normalised disparity to the
    camera-axis distance; ``block`` 0 = automatic, 1 = no simplification."""
    mesh, tiles = ldi_geometry(ldi, intrinsics, z_of_disp, block, tolerance, skirts)
    mesh.texture = ldi_texture(ldi, tiles)
    return mesh


def ldi_texture(ldi: LDI, tiles: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """The atlas texture of ``ldi_geometry``'s mesh (``tiles``: its used tiles per grown
    layer). The only part of meshing that reads the LDI's colour, so the geometry can be built
    while the grown layers are still being inpainted."""
    texture, _ = atlas_mod.build_atlas(
        ldi.color[0], [ldi.color[k] for k, _ in tiles], [t for _, t in tiles]
    )
    return texture


def ldi_geometry(
    ldi: LDI,
    intrinsics: Intrinsics,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    block: int = 0,
    tolerance: float = 0.002,
    skirts: bool = True,
) -> tuple[MeshData, list[tuple[int, np.ndarray]]]:
    """Everything of ``ldi_to_mesh`` but the texture (left empty): vertices, triangles, UVs
    (the atlas layout depends only on the lattice size and the tile count) and attributes,
    with the used tiles per grown layer as (layer, (n, 2) tile rows and columns) for
    ``ldi_texture``. Reads no colour."""
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
        box = mask_bbox(ldi.valid[k])
        if box is None:
            crops.append((0, 0, 0, 0))
            lmaps.append(np.zeros((0, 0), np.int8))
            continue
        # Crop origin on the block grid so blocks never straddle atlas tiles.
        y0 = max(box[0] - 2, 0) // max(s, 1) * max(s, 1)
        x0 = max(box[2] - 2, 0) // max(s, 1) * max(s, 1)
        y1, x1 = min(box[1] + 2, h), min(box[3] + 2, w)
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
    pieces = []  # (k, triangles and anchors as flat crop positions, layer map, crop y0, x0, w)
    for k in range(k_layers):
        y0, y1, x0, x1 = crops[k]
        lmap = lmaps[k]
        if lmap.size == 0:
            continue
        present = lmap >= 0
        disp = _pick(ldi.disp[:, y0:y1, x0:x1], lmap)
        link_r, link_d = _links_in_image(ldi, lmap, y0, x0)
        own = None if k == 0 else lmap == k
        tris, anchor = triangulate(
            present,
            disp,
            link_r,
            link_d,
            ldi.threshold,
            s,
            tolerance if k == 0 else tolerance * GROWN_TOLERANCE,
            own,
            keep_full[k][y0:y1, x0:x1],
        )
        pieces.append((k, tris, anchor, lmap, (y0, x0, x1 - x0)))

    # --- vertices: layer 0 one per position; layer k one per (tile, position) ----------
    tiles_per_layer: list[np.ndarray] = []
    tiles_of: list[tuple[int, np.ndarray]] = []
    vert_y, vert_x, vert_layer, vert_cell, vert_ly, vert_lx = [], [], [], [], [], []
    tri_out = []
    n_vertices = 0
    tile_cols = -(-w // tile) + 1
    cell_base = 0
    for k, tris, anchor, lmap, (y0, x0, cw) in pieces:
        if k == 0:
            # Layer 0's image is the whole lattice: crop positions are lattice positions.
            flat = tris.astype(np.int64, copy=False)
            used = np.zeros(h * w, bool)
            used[flat.ravel()] = True
            pos = np.flatnonzero(used)
            remap = _rank(pos, used.size)
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
        ty, tx = np.divmod(tris, cw)
        ty += y0
        tx += x0
        ay, ax = np.divmod(anchor, cw)
        ay += y0
        ax += x0
        tkey = (ay // tile) * tile_cols + (ax // tile)
        # np.unique(tkey, return_inverse=True) without a sort: the keys are small.
        used_tile = np.zeros(int(tkey.max()) + 1, bool)
        used_tile[tkey] = True
        utile = np.flatnonzero(used_tile)
        tinv = _rank(utile, used_tile.size)[tkey]
        tiles_per_layer_k = np.stack([utile // tile_cols, utile % tile_cols], axis=1)
        tiles_per_layer.append(tiles_per_layer_k)
        tiles_of.append((k, tiles_per_layer_k))
        # key = tinv * side^2 + (ty - tile row * tile) * side + (tx - tile column * tile):
        # the per-triangle part first, repeated per corner (flat adds are much faster than
        # broadcasting over the corner axis).
        side = tile + 1
        base = tinv.astype(np.int64) * (side * side)
        base -= (ay // tile) * (tile * side)
        base -= (ax // tile) * tile
        key = ty * side
        key += tx
        key += np.repeat(base, 3).reshape(key.shape)
        used = np.zeros(utile.size * side * side, bool)
        used[key.ravel()] = True
        ukey = np.flatnonzero(used)
        remap = _rank(ukey, used.size)
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
    triangles = np.concatenate(tri_out).astype(np.int32, copy=False)

    # --- atlas and UVs ---------------------------------------------------------------------
    lay = atlas_mod.layout((h, w), int(sum(t.shape[0] for t in tiles_per_layer)))
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
    layer_attr = vl.astype(np.int32)
    inpainted_attr = ((ldi.flags[vl, vy, vx] & INPAINTED) != 0).astype(np.int8)
    if skirts:
        sk = _silhouette_skirts(ldi, z_of_disp, intrinsics, lay, vertices.shape[0])
        if sk is not None:
            sk_vertices, sk_uvs, sk_tris = sk
            vertices = np.concatenate([vertices, sk_vertices])
            uvs = np.concatenate([uvs, sk_uvs])
            triangles = np.concatenate([triangles, sk_tris])
            layer_attr = np.concatenate([layer_attr, np.zeros(sk_vertices.shape[0], np.int32)])
            inpainted_attr = np.concatenate(
                [inpainted_attr, np.zeros(sk_vertices.shape[0], np.int8)]
            )
    mesh = MeshData(
        vertices=vertices,
        triangles=triangles,
        uvs=uvs,
        texture=np.zeros((0, 0, 3), ldi.color.dtype),
        intrinsics=intrinsics,
        attributes={"layer": layer_attr, "inpainted": inpainted_attr},
    )
    return mesh, tiles_of


def _rank(positions: np.ndarray, size: int) -> np.ndarray:
    """Index of each of the sorted ``positions`` in a table of ``size`` (only those entries are
    set): the vertex number of a used lattice position. Cheaper than a cumulative sum over the
    whole lattice, whose untouched entries are never read."""
    # int32: vertex and tile numbers stay far below 2**31, and the triangles are int32.
    table = np.empty(size, np.int32)
    table[positions] = np.arange(positions.size, dtype=np.int32)
    return table


def _silhouette_skirts(
    ldi: LDI,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    intrinsics: Intrinsics,
    lay: atlas_mod.AtlasLayout,
    base: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Half-pixel strips that extend the photo's foreground up to its true silhouette.

    Lattice vertices sit at pixel centres, but a foreground object's outline lies on the pixel
    border: without this, the half pixel between the last foreground centre and the cut shows
    the grown background (inpainted colour) even in the original view. Each strip joins two
    neighbouring foreground edge samples to copies moved half a pixel toward the background,
    at the foreground's depth and with the edge pixel's own colour."""
    h, w = ldi.shape
    m = ldi.margin
    d0 = ldi.disp[0]
    v0 = ldi.valid[0]
    verts, uvs, tris = [], [], []
    n = base
    # (direction name, q offset from p, strip runs along axis) for the four cut orientations.
    # A layer-0 pair is cut when it is not linked layer 0 to layer 0 (the background side may
    # link to a grown sample across the cut instead).
    for axis in ("x", "y"):
        if axis == "x":
            cut = (ldi.links[0, R, :, :-1] != 0) & v0[:, :-1] & v0[:, 1:]
            a, b = d0[:, :-1], d0[:, 1:]
        else:
            cut = (ldi.links[0, D, :-1, :] != 0) & v0[:-1, :] & v0[1:, :]
            a, b = d0[:-1, :], d0[1:, :]
        for fg_second in (True, False):
            fg = cut & ((b > a) if fg_second else (a > b))
            # Consecutive edge samples along the edge (the other axis), linked in layer 0.
            if axis == "x":
                pair = fg[:-1, :] & fg[1:, :]
                py, px = np.nonzero(pair)
                qx = px + (1 if fg_second else 0)
                q1 = (py, qx)
                q2 = (py + 1, qx)
                linked = ldi.links[0, D, py, qx] == 0
                shift = (-0.5 if fg_second else 0.5, 0.0)
            else:
                pair = fg[:, :-1] & fg[:, 1:]
                py, px = np.nonzero(pair)
                qy = py + (1 if fg_second else 0)
                q1 = (qy, px)
                q2 = (qy, px + 1)
                linked = ldi.links[0, R, qy, px] == 0
                shift = (0.0, -0.5 if fg_second else 0.5)
            if not linked.any():
                continue
            q1 = (q1[0][linked], q1[1][linked])
            q2 = (q2[0][linked], q2[1][linked])
            k = q1[0].size
            ys = np.concatenate([q1[0], q2[0], q2[0], q1[0]]).astype(np.float32)
            xs = np.concatenate([q1[1], q2[1], q2[1], q1[1]]).astype(np.float32)
            src_y = ys.astype(np.intp)
            src_x = xs.astype(np.intp)
            img_x = xs + np.float32(0.5 - m)
            img_y = ys + np.float32(0.5 - m)
            img_x[2 * k :] += np.float32(shift[0])
            img_y[2 * k :] += np.float32(shift[1])
            d = d0[src_y, src_x]
            d[2 * k :] = _extrapolate_out(ldi, axis, fg_second, src_y[2 * k :], src_x[2 * k :])
            z = z_of_disp(d).astype(np.float32)
            verts.append(unproject(img_x, img_y, z, intrinsics))
            uvs.append(atlas_mod.photo_uv(lay, src_y, src_x))
            i = np.arange(k, dtype=np.int64) + n
            quad = np.stack([i, i + k, i + 2 * k, i + 3 * k], axis=1)
            t = np.concatenate([quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]])
            tris.append(t)
            n += 4 * k
    if not verts:
        return None
    vertices = np.concatenate(verts)
    triangles = np.concatenate(tris)
    # Orientation: make every strip face the camera.
    e1 = vertices[triangles[:, 1] - base] - vertices[triangles[:, 0] - base]
    e2 = vertices[triangles[:, 2] - base] - vertices[triangles[:, 0] - base]
    facing = np.einsum("ij,ij->i", np.cross(e1, e2), -vertices[triangles[:, 0] - base]) < 0
    triangles[facing] = triangles[facing][:, [0, 2, 1]]
    return vertices, np.concatenate(uvs), triangles.astype(np.int32)


def _extrapolate_out(
    ldi: LDI, axis: str, fg_second: bool, ys: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    """Disparity half a pixel outward from foreground edge samples (ys, xs), continuing the
    foreground's own slope from the sample inward of it (when linked): the outline of a face
    seen at a grazing angle (a box top) lies noticeably further back than its first pixel
    centre. The step is bounded by a quarter of the cut threshold, so it never reaches the
    background (which is more than a threshold away)."""
    h, w = ldi.shape
    d0 = ldi.disp[0]
    d = d0[ys, xs]
    step = 1 if fg_second else -1  # from the edge sample inward, away from the background
    iy, ix = (
        (ys, np.clip(xs + step, 0, w - 1)) if axis == "x" else (np.clip(ys + step, 0, h - 1), xs)
    )
    direction = R if axis == "x" else D
    # Linked inward: for fg_second the inward neighbour is the next one (link from the sample);
    # otherwise it is the previous one (its link toward the sample).
    ly, lx = (ys, xs) if fg_second else (iy, ix)
    linked = ldi.links[0, direction, ly, lx] == 0
    bound = np.float32(0.25 * ldi.threshold)
    delta = np.clip(np.float32(0.5) * (d - d0[iy, ix]), -bound, bound)
    return np.where(linked, d + delta, d).astype(np.float32)


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

    from ..inpaint import get_inpainter, inpaint_ldi
    from ..ldi.border import extend_frame, pad_reflect
    from ..ldi.lift import build_ldi
    from ..ldi.links import compute_links
    from ..ldi.preprocess import preprocess
    from ..ldi.reveal import focus_disparity, growth, margin_for_move, safe_motion

    timings: dict[str, float] = {}
    h, w = disp.shape
    long_side = max(h, w)
    scale_px = long_side / 1024.0
    # The camera moves are fractions of the focus distance: the frame margin (and below, the
    # growth behind every edge) must hold what the largest default move shows.
    floor = 1.0 / settings.far_ratio if depth.kind != "DEPTH" else 0.0
    d_focus = focus_disparity(disp, floor, valid)
    margin = max(
        int(round(settings.frame_margin * long_side)),
        margin_for_move(intrinsics.fx, d_focus, float(np.min(np.maximum(disp, floor)))),
    )
    steps = settings.extension * long_side
    band = settings.context_band * long_side
    threshold = settings.depth_threshold

    t0 = time.perf_counter()
    progress("preprocess", 0.55, "Sharpening depth edges")
    disp_p, rgb_p = extend_frame(
        np.ascontiguousarray(disp, np.float32), np.ascontiguousarray(rgb), margin, threshold, valid
    )
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
    # Every edge grows at least ``extension``, and as far as the largest default camera move
    # opens it (pipeline.ldi.reveal), so the presets show no holes at their default amplitudes.
    reveal = growth(intrinsics.fx, d_focus, floor, long_side)
    ldi = build_ldi(
        pre.disp,
        pre.cuts,
        rgb_p,
        threshold,
        steps,
        settings.ldi_layers,
        band,
        margin,
        valid_p,
        reveal,
        with_links=False,
    )
    timings["ldi"] = time.perf_counter() - t0

    progress("inpaint", 0.75, "Inpainting hidden background")
    inpainter = get_inpainter(settings.inpainter, settings.device)
    raw = depth.disparity()
    z_of_disp = depth_function(
        depth.kind, float(np.max(raw)), settings.depth_scale, settings.far_ratio
    )

    def colour() -> float:
        t = time.perf_counter()
        inpaint_ldi(ldi, inpainter)
        return time.perf_counter() - t

    # Colour (inpainting) and geometry (links, triangles, UVs) read and write disjoint parts of
    # the LDI, so they run side by side: numpy's and OpenCV's loops release the GIL, and on a
    # machine with two cores or more this hides most of the inpainting. Only the atlas texture
    # waits for the colours.
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        colour_done = pool.submit(colour)
        ldi.links = compute_links(ldi.valid, ldi.disp, pre.cuts, threshold)
        # safe_motion needs the links; it runs in the worker after the inpainting.
        safe_done = pool.submit(safe_motion, ldi, intrinsics.fx, d_focus, floor)
        progress("mesh", 0.85, "Meshing and packing the texture atlas")
        mesh, tiles = ldi_geometry(
            ldi, intrinsics, z_of_disp, settings.simplify_block, settings.simplify_tolerance
        )
        timings["inpaint"] = colour_done.result()
        mesh.texture = ldi_texture(ldi, tiles)
        safe = safe_done.result().to_dict()
    timings["meshing"] = time.perf_counter() - t0
    mesh.timings.update(timings)
    # In Blender units (a fraction of the focus distance the estimate was made for), so that
    # the animation side can compare it with any focus the artist picks.
    z_focus = float(z_of_disp(np.float32(d_focus)))
    mesh.safe_motion = {k: v * z_focus for k, v in safe.items()}
    mesh.frame_margin = margin
    return mesh
