"""Texture atlas: layer 0 is the photo itself; grown tiles are padded so that no lookup at mip
levels 0..SAFE_MIP_LEVEL reads another chart."""

from __future__ import annotations

import numpy as np
from helpers import assert_only_outline_pixels_unmixed, photo_region_offsets

from pipeline.build import build_mesh
from pipeline.io.depth_file import DepthMap
from pipeline.io.image_io import Photo
from pipeline.mesh import atlas
from pipeline.settings import PipelineSettings


def _mesh():
    mesh, rgb, settings, _ = _mesh_and_depth()
    return mesh, rgb, settings


def _mesh_and_depth():
    h, w = 96, 128
    depth = np.full((h, w), 4.0, np.float32)
    depth[20:70, 30:60] = 1.5
    depth[30:80, 80:110] = 2.0
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    photo = Photo("p.png", rgb, None, None, 1)
    settings = PipelineSettings(depth_kind="DEPTH", median_size=0, min_edge_length=0)
    return build_mesh(photo, DepthMap("DEPTH", depth), settings), rgb, settings, depth


def test_layer0_reuses_the_photo_pixels() -> None:
    mesh, rgb, settings, depth = _mesh_and_depth()
    tex = mesh.texture
    # The frame margin is at least frame_margin (more where the camera moves need it): the
    # photo sits in the texture at (margin, margin), pixel for pixel but for the background
    # pixels beside the outlines, whose foreground share the skirts draw instead.
    found = photo_region_offsets(tex, rgb)
    assert len(found) == 1, found
    margin = found[0]
    assert margin >= int(round(settings.frame_margin * 128))
    assert_only_outline_pixels_unmixed(tex[margin : margin + 96, margin : margin + 128], rgb, depth)
    # Original-photo vertices sample the photo's own texels (texel centres, exact).
    th, tw = tex.shape[:2]
    layer0 = (mesh.attributes["layer"] == 0) & (mesh.attributes["inpainted"] == 0)
    row = (1.0 - mesh.uvs[:, 1]) * th - 0.5
    # Layer-0 samples are also drawn in grown layers' tiles (the ring joining them): here
    # only the photo region counts.
    in_photo = layer0 & (row < 96 + 2 * margin)
    assert in_photo.sum() > 0.5 * 96 * 128 / 16  # simplified, but plenty
    col = mesh.uvs[in_photo, 0] * tw - 0.5
    row = row[in_photo]
    np.testing.assert_allclose(col, np.round(col), atol=1e-3)
    np.testing.assert_allclose(row, np.round(row), atol=1e-3)
    assert (np.round(row) - margin >= 0).all() and (np.round(row) - margin < 96).all()


def test_grown_uvs_stay_inside_their_cell_at_every_safe_mip_level() -> None:
    mesh, _, _ = _mesh()
    th, tw = mesh.texture.shape[:2]
    grown = mesh.attributes["layer"] > 0
    assert grown.sum() > 50
    t = mesh.triangles
    # Every triangle with a grown vertex has all its UVs in one cell.
    tri_grown = grown[t].any(axis=1)
    assert tri_grown.any()
    u = mesh.uvs[t[tri_grown]][..., 0] * tw  # texel coordinates (continuous)
    v = (1.0 - mesh.uvs[t[tri_grown]][..., 1]) * th
    cell_x = np.floor(u / atlas.CELL)
    cell_y = np.floor(v / atlas.CELL)
    assert (cell_x == cell_x[:, :1]).all() and (cell_y == cell_y[:, :1]).all()
    for level in range(atlas.SAFE_MIP_LEVEL + 1):
        s = 2**level
        # Bilinear footprint at this level: texel centres around the lookup, in level-0 texels.
        lo_u = (np.floor(u / s - 0.5) + 0.0) * s
        hi_u = (np.floor(u / s - 0.5) + 2.0) * s - 1
        lo_v = (np.floor(v / s - 0.5) + 0.0) * s
        hi_v = (np.floor(v / s - 0.5) + 2.0) * s - 1
        assert (np.floor(lo_u / atlas.CELL) == cell_x).all(), level
        assert (np.floor(hi_u / atlas.CELL) == cell_x).all(), level
        assert (np.floor(lo_v / atlas.CELL) == cell_y).all(), level
        assert (np.floor(hi_v / atlas.CELL) == cell_y).all(), level


def test_cells_hold_their_layers_colour_including_the_padding() -> None:
    photo = np.zeros((100, 130, 3), np.uint8)
    layer = np.zeros((100, 130, 3), np.uint8)
    layer[..., 0] = np.arange(130, dtype=np.uint8)[None, :]
    layer[..., 1] = np.arange(100, dtype=np.uint8)[:, None]
    tiles = np.array([[0, 1], [1, 0]])
    tex, lay = atlas.build_atlas(photo, [layer], [tiles])
    assert lay.tiles_top % atlas.CELL == 0 and lay.tiles_top >= 100
    for i, (ty, tx) in enumerate(tiles):
        r0, c0 = atlas.cell_origin(lay, np.array([i]))
        cell = tex[int(r0[0]) : int(r0[0]) + atlas.CELL, int(c0[0]) : int(c0[0]) + atlas.CELL]
        rows = np.clip(ty * atlas.TILE - atlas.PAD + np.arange(atlas.CELL), 0, 99)
        cols = np.clip(tx * atlas.TILE - atlas.PAD + np.arange(atlas.CELL), 0, 129)
        np.testing.assert_array_equal(cell, layer[rows][:, cols])
