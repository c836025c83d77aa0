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

Behind all of it lies the backdrop (``pipeline.mesh.backdrop``): a coarse sheet at the farthest
sample's depth with the background's colour, so a crack between layers or a look past the
frame margin shows background, not a hole. Its vertices have ``layer`` -1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..io.intrinsics import Intrinsics, unproject
from ..ldi.layers import INPAINTED, LDI, STEPS, D, R, mask_bbox
from ..runtime.parallel import thread_map
from . import atlas as atlas_mod
from . import backdrop as backdrop_mod
from .mesh_data import MeshData
from .simplify import auto_block, triangulate
from .skirts import Unmixed, silhouette_skirts

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


@dataclass
class TexturePlan:
    """What ``ldi_texture`` needs from ``ldi_geometry``: the used tiles per grown layer as
    (layer, (n, 2) tile rows and columns), and the backdrop's grid (None: no backdrop)."""

    tiles: list[tuple[int, np.ndarray]]
    backdrop: backdrop_mod.BackdropGrid | None = None
    # Background pixels beside outlines whose foreground share the skirts draw.
    unmixed: Unmixed | None = None


def ldi_texture(ldi: LDI, plan: TexturePlan) -> np.ndarray:
    """The atlas texture of ``ldi_geometry``'s mesh. The only part of meshing that reads the
    grown layers' colour, so the geometry can be built while they are still being
    inpainted."""
    tiles = plan.tiles
    backdrop = None if plan.backdrop is None else backdrop_mod.backdrop_colour(ldi, plan.backdrop)
    photo = ldi.color[0] if plan.unmixed is None else plan.unmixed.apply(ldi.color[0])
    texture, _ = atlas_mod.build_atlas(
        photo, [ldi.color[k] for k, _ in tiles], [t for _, t in tiles], backdrop
    )
    return texture


def ldi_geometry(
    ldi: LDI,
    intrinsics: Intrinsics,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    block: int = 0,
    tolerance: float = 0.002,
    skirts: bool = True,
    backdrop: bool = True,
) -> tuple[MeshData, TexturePlan]:
    """The LDI's mesh without its texture (left empty): vertices, triangles, UVs (the atlas
    layout depends only on the lattice size, the tile count and the backdrop) and attributes,
    with what ``ldi_texture`` needs to fill the atlas. ``z_of_disp`` maps normalised
    disparity to the camera-axis distance; ``block`` 0 = automatic, 1 = no simplification;
    ``backdrop``: add the backdrop sheet behind everything. Of the colour it reads only the
    photo's (layer 0: where the skirts place the outlines), which the inpainting never
    writes, so it can run while the grown layers are still being inpainted."""
    h, w = ldi.shape
    m = ldi.margin
    s = auto_block(h * w) if block <= 0 else int(block)
    if tolerance <= 0:
        s = 1
    tile = atlas_mod.TILE
    assert tile % s == 0 or s == 1, "block size must divide the atlas tile size"

    crops, lmaps, keep_full = _layer_images(ldi, s)
    pieces = _triangulate_layers(ldi, crops, lmaps, keep_full, s, tolerance)
    v = _vertices(pieces, h, w)

    # --- atlas and UVs ---------------------------------------------------------------------
    grid = backdrop_mod.backdrop_grid((h, w)) if backdrop else None
    lay = atlas_mod.layout(
        (h, w),
        int(sum(t.shape[0] for t in v.tiles_per_layer)),
        None if grid is None else grid.shape,
    )
    uvs = np.empty((v.y.size, 2), np.float32)
    in_photo = v.cell < 0
    uvs[in_photo] = atlas_mod.photo_uv(lay, v.y[in_photo], v.x[in_photo])
    out = ~in_photo
    uvs[out] = atlas_mod.tile_uv(lay, v.cell[out], v.tile_y[out], v.tile_x[out])

    # --- positions -------------------------------------------------------------------------
    d = ldi.disp[v.layer, v.y, v.x]
    z = z_of_disp(d)
    xs = v.x.astype(np.float32) + np.float32(0.5 - m)
    ys = v.y.astype(np.float32) + np.float32(0.5 - m)
    if m == 0:
        # Without a margin the outermost vertices sit on the frame border (as grid_mesh).
        xs[v.x == 0], xs[v.x == w - 1] = 0.0, float(w)
        ys[v.y == 0], ys[v.y == h - 1] = 0.0, float(h)
    vertices = unproject(xs, ys, z.astype(np.float32), intrinsics)
    triangles = v.triangles
    layer_attr = v.layer.astype(np.int32)
    inpainted_attr = ((ldi.flags[v.layer, v.y, v.x] & INPAINTED) != 0).astype(np.int8)
    unmixed = None
    if skirts:
        sk = silhouette_skirts(ldi, z_of_disp, intrinsics, lay, vertices.shape[0])
        if sk is not None:
            sk_vertices, sk_uvs, sk_tris, unmixed = sk
            vertices = np.concatenate([vertices, sk_vertices])
            uvs = np.concatenate([uvs, sk_uvs])
            triangles = np.concatenate([v.triangles, sk_tris])
            layer_attr = np.concatenate([layer_attr, np.zeros(sk_vertices.shape[0], np.int32)])
            inpainted_attr = np.concatenate(
                [inpainted_attr, np.zeros(sk_vertices.shape[0], np.int8)]
            )
    if grid is not None:
        bd_vertices, bd_uvs, bd_tris = backdrop_mod.backdrop_geometry(
            ldi, grid, z_of_disp, intrinsics, lay, vertices.shape[0]
        )
        n_bd = bd_vertices.shape[0]
        vertices = np.concatenate([vertices, bd_vertices])
        uvs = np.concatenate([uvs, bd_uvs])
        triangles = np.concatenate([triangles, bd_tris])
        layer_attr = np.concatenate([layer_attr, np.full(n_bd, backdrop_mod.LAYER, np.int32)])
        # Its colour is synthesised (the deepest samples' mean), as the grown layers' is.
        inpainted_attr = np.concatenate([inpainted_attr, np.ones(n_bd, np.int8)])
    mesh = MeshData(
        vertices=vertices,
        triangles=triangles,
        uvs=uvs,
        texture=np.zeros((0, 0, 3), ldi.color.dtype),
        intrinsics=intrinsics,
        attributes={"layer": layer_attr, "inpainted": inpainted_attr},
    )
    return mesh, TexturePlan(v.tiles_of, grid, unmixed)


def _layer_images(
    ldi: LDI, s: int
) -> tuple[list[tuple[int, int, int, int]], list[np.ndarray], list[np.ndarray]]:
    """Per layer, the image that is triangulated: its crop of the lattice (y0, y1, x0, x1),
    its layer map (which layer's sample each position shows, -1 none; grown layers: their own
    samples plus a ring of the layers they border) and where full resolution must be kept
    (next to another layer's ring, so seams match)."""
    k_layers = ldi.layers
    h, w = ldi.shape
    crops: list[tuple[int, int, int, int]] = [(0, h, 0, w)]
    lmaps: list[np.ndarray] = [np.where(ldi.valid[0], np.int8(0), np.int8(-1))]
    keep_full = [np.zeros((h, w), bool) for _ in range(k_layers)]

    def image(k: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
        box = mask_bbox(ldi.valid[k])
        if box is None:
            return (0, 0, 0, 0), np.zeros((0, 0), np.int8)
        # Crop origin on the block grid so blocks never straddle atlas tiles.
        y0 = max(box[0] - 2, 0) // max(s, 1) * max(s, 1)
        x0 = max(box[2] - 2, 0) // max(s, 1) * max(s, 1)
        y1, x1 = min(box[1] + 2, h), min(box[3] + 2, w)
        return (y0, y1, x0, x1), _ring(ldi, k, y0, y1, x0, x1)

    # The grown layers' images are independent: threads (numpy releases the GIL).
    for k, (crop, lmap) in enumerate(thread_map(image, range(1, k_layers)), start=1):
        crops.append(crop)
        lmaps.append(lmap)
        if lmap.size == 0:
            continue
        y0, _, x0, _ = crop
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

    return crops, lmaps, keep_full


def _triangulate_layers(
    ldi: LDI,
    crops: list[tuple[int, int, int, int]],
    lmaps: list[np.ndarray],
    keep_full: list[np.ndarray],
    s: int,
    tolerance: float,
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]]:
    """Triangles of every layer image (simplified in blocks of ``s``), with each triangle's
    anchor, as flat positions in its crop: (layer, triangles, anchors, layer map, (y0, x0,
    crop width))."""

    def piece(k: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
        y0, y1, x0, x1 = crops[k]
        lmap = lmaps[k]
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
        return k, tris, anchor, lmap, (y0, x0, x1 - x0)

    # Layers are triangulated independently: threads, merged in layer order.
    return thread_map(piece, [k for k in range(ldi.layers) if lmaps[k].size])


@dataclass
class _Vertices:
    """The mesh's vertices as lattice samples: position (y, x), layer, atlas cell (-1 = the
    photo region) and position inside the cell; the triangles over them; the used tiles."""

    y: np.ndarray
    x: np.ndarray
    layer: np.ndarray
    cell: np.ndarray
    tile_y: np.ndarray
    tile_x: np.ndarray
    triangles: np.ndarray
    tiles_per_layer: list[np.ndarray]
    tiles_of: list[tuple[int, np.ndarray]]


def _vertices(
    pieces: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]],
    h: int,
    w: int,
) -> _Vertices:
    """Vertices: layer 0 one per lattice position; a grown layer one per (atlas tile,
    position), so each tile's texels are its own."""
    tile = atlas_mod.TILE
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

    return _Vertices(
        np.concatenate(vert_y),
        np.concatenate(vert_x),
        np.concatenate(vert_layer).astype(np.intp),
        np.concatenate(vert_cell),
        np.concatenate(vert_ly),
        np.concatenate(vert_lx),
        np.concatenate(tri_out).astype(np.int32, copy=False),
        tiles_per_layer,
        tiles_of,
    )


def _rank(positions: np.ndarray, size: int) -> np.ndarray:
    """Index of each of the sorted ``positions`` in a table of ``size`` (only those entries are
    set): the vertex number of a used lattice position. Cheaper than a cumulative sum over the
    whole lattice, whose untouched entries are never read."""
    # int32: vertex and tile numbers stay far below 2**31, and the triangles are int32.
    table = np.empty(size, np.int32)
    table[positions] = np.arange(positions.size, dtype=np.int32)
    return table
