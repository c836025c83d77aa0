"""The backdrop: a coarse sheet behind the whole LDI mesh (pipeline.mesh.backdrop), so that a
crack between layers or a look past the frame margin shows background colour, not a hole."""

from __future__ import annotations

import numpy as np

from pipeline.build import build_mesh
from pipeline.io.depth_file import DepthMap
from pipeline.io.image_io import Photo
from pipeline.mesh import backdrop
from pipeline.mesh.mesh_data import MeshData
from pipeline.settings import PipelineSettings

H, W = 192, 256
BACKGROUND = (200, 30, 30)
FOREGROUND = (30, 200, 30)
BOX = (slice(60, 150), slice(90, 170))  # the foreground box (rows, columns)


def _settings(mode: str = "LDI") -> PipelineSettings:
    return PipelineSettings(
        depth_kind="DEPTH", median_size=0, min_edge_length=0, mesh_mode=mode
    ).validate()


def _two_planes(
    alpha: np.ndarray | None = None,
    floor: bool = True,
    box: tuple[slice, slice] = BOX,
) -> MeshData:
    """A green box in front of a red, slightly slanted wall (a receding floor at the bottom)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    depth = 4.0 + xx / 400.0
    if floor:
        depth[150:] = 4.0 - (yy[150:] - 150) / 30.0  # nearer toward the bottom: a floor
    depth[box] = 1.5
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = BACKGROUND
    rgb[box] = FOREGROUND
    photo = Photo("p.png", rgb, alpha, None, 1)
    return build_mesh(photo, DepthMap("DEPTH", depth.astype(np.float32)), _settings()).check()


def _project(mesh: MeshData, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image position (pixels) and camera-axis distance of vertices."""
    k = mesh.intrinsics
    v = mesh.vertices[rows].astype(np.float64)
    z = -v[:, 2]
    return v[:, 0] / z * k.fx + k.cx, k.cy - v[:, 1] / z * k.fx, z


def _grid(mesh: MeshData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backdrop's nodes as a grid: node columns' x, rows' y (pixels), distances (ny, nx)."""
    rows = np.flatnonzero(mesh.attributes["layer"] == backdrop.LAYER)
    x, y, z = _project(mesh, rows)
    nx = int(np.argmax(np.diff(x) < 0)) + 1  # the first row ends where x jumps back
    ny = rows.size // nx
    assert ny * nx == rows.size
    gx, gy = x.reshape(ny, nx), y.reshape(ny, nx)
    np.testing.assert_allclose(gx, np.broadcast_to(gx[:1], gx.shape), atol=1e-2)
    np.testing.assert_allclose(gy, np.broadcast_to(gy[:, :1], gy.shape), atol=1e-2)
    return gx[0], gy[:, 0], z.reshape(ny, nx)


def test_the_backdrop_lies_behind_every_vertex_of_the_mesh() -> None:
    mesh = _two_planes()
    gx, gy, gz = _grid(mesh)
    x, y, z = _project(mesh, np.flatnonzero(mesh.attributes["layer"] >= 0))
    # The sheet's depth under each vertex: its triangles are planar, so 1/z is affine on the
    # image in each of them (cells split tl-bl-br / tl-br-tr, as the mesh is).
    i = np.searchsorted(gx, x) - 1
    j = np.searchsorted(gy, y) - 1
    assert (i >= 0).all() and (i < gx.size - 1).all() and (j >= 0).all() and (j < gy.size - 1).all()
    u = (x - gx[i]) / (gx[i + 1] - gx[i])
    v = (y - gy[j]) / (gy[j + 1] - gy[j])
    f = 1.0 / gz
    tl, tr, bl, br = f[j, i], f[j, i + 1], f[j + 1, i], f[j + 1, i + 1]
    lower = v >= u
    inv = np.where(lower, tl + v * (bl - tl) + u * (br - bl), tl + u * (tr - tl) + v * (br - tr))
    behind = 1.0 / inv
    assert (behind > z * (1.0 + 0.5 * backdrop.PUSH)).all(), (behind / z).min()
    # ... and not absurdly far: the wall's own depth, pushed, where nothing is in front.
    wall = (z > 3.9) & (np.abs(x - W / 2) < W / 2) & (y < 40)
    assert wall.sum() > 100
    assert np.median(behind[wall] / z[wall]) < 1.1


def _cells(mesh: MeshData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backdrop triangles per cell of its grid, and the cells' centres (x, y)."""
    gx, gy, _ = _grid(mesh)
    layer = mesh.attributes["layer"]
    on_backdrop = (layer[mesh.triangles] == backdrop.LAYER).all(axis=1)
    # No triangle mixes backdrop and LDI vertices.
    assert not (layer[mesh.triangles] == backdrop.LAYER).any(axis=1)[~on_backdrop].any()
    tx, ty, _ = _project(mesh, mesh.triangles[on_backdrop].ravel())
    col = np.searchsorted(gx, tx.reshape(-1, 3).mean(axis=1)) - 1
    row = np.searchsorted(gy, ty.reshape(-1, 3).mean(axis=1)) - 1
    covered = np.zeros((gy.size - 1, gx.size - 1), np.int32)
    np.add.at(covered, (row, col), 1)
    return covered, 0.5 * (gx[:-1] + gx[1:]), 0.5 * (gy[:-1] + gy[1:])


def test_the_backdrop_covers_the_frame_and_its_margin() -> None:
    mesh = _two_planes(floor=False)
    gx, gy, _ = _grid(mesh)
    x, y, _ = _project(mesh, np.flatnonzero(mesh.attributes["layer"] >= 0))
    # Beyond everything else on every side, by at least EXTEND of the long side (less the
    # half pixel of the outermost vertices).
    reach = backdrop.EXTEND * max(H, W) * 0.9
    assert gx[0] < x.min() - reach and gx[-1] > x.max() + reach
    assert gy[0] < y.min() - reach and gy[-1] > y.max() + reach
    # One unbroken sheet: two triangles per cell (behind the box, the background grown
    # behind its outlines is as far as the wall).
    covered, _, _ = _cells(mesh)
    assert (covered == 2).all()


def test_the_backdrop_ramps_behind_a_foreground_instead_of_stepping() -> None:
    """Behind a box wider than the background grown behind its outlines, the sheet goes from
    the wall's depth to the box's: as a ramp of bounded slope behind the box, one unbroken
    sheet, never a step that a moved camera would see stretched across the gap."""
    box = (slice(30, 170), slice(40, 230))
    mesh = _two_planes(floor=False, box=box)
    covered, _, _ = _cells(mesh)
    assert (covered == 2).all()
    _, _, gz = _grid(mesh)
    z_box = _project(mesh, np.flatnonzero(mesh.attributes["layer"] == 0))[2].min()
    d = z_box / gz  # normalised disparity (the box's is 1), less the push
    rise = max(
        np.abs(np.diff(d, axis=0)).max(),
        np.abs(np.diff(d, axis=1)).max(),
        np.abs(d[1:, 1:] - d[:-1, :-1]).max(),
        np.abs(d[1:, :-1] - d[:-1, 1:]).max(),
    )
    threshold = _settings().depth_threshold
    assert rise <= backdrop.SLOPE * threshold * 1.001
    # The ramp reaches up toward the box: the sheet spans the wall's depth to near the box's.
    assert d.max() > 0.5 and d.min() < 0.45


def _backdrop_colours(mesh: MeshData) -> np.ndarray:
    rows = np.flatnonzero(mesh.attributes["layer"] == backdrop.LAYER)
    th, tw = mesh.texture.shape[:2]
    col = np.floor(mesh.uvs[rows, 0] * tw).astype(int)
    row = np.floor((1.0 - mesh.uvs[rows, 1]) * th).astype(int)
    return mesh.texture[row, col].astype(np.int32)


def test_the_backdrop_colour_at_an_outline_is_the_backgrounds() -> None:
    mesh = _two_planes()
    gx, gy, _ = _grid(mesh)
    colour = _backdrop_colours(mesh).reshape(gy.size, gx.size, 3)
    # Nodes whose block straddles the box outline or lies within a few pixels of it, on both
    # sides (inside: where background geometry was grown behind the box).
    near_x = (gx > BOX[1].start - 8) & (gx < BOX[1].start + 8)
    near_y = (gy > BOX[0].start + 10) & (gy < BOX[0].stop - 10)
    outline = colour[np.ix_(near_y, near_x)].reshape(-1, 3)
    assert outline.shape[0] >= 8
    np.testing.assert_allclose(outline, np.broadcast_to(BACKGROUND, outline.shape), atol=12)
    # The same near the top outline.
    near_x = (gx > BOX[1].start + 10) & (gx < BOX[1].stop - 10)
    near_y = (gy > BOX[0].start - 8) & (gy < BOX[0].start + 8)
    outline = colour[np.ix_(near_y, near_x)].reshape(-1, 3)
    np.testing.assert_allclose(outline, np.broadcast_to(BACKGROUND, outline.shape), atol=12)


def test_the_backdrop_keeps_transparent_pixels_transparent() -> None:
    alpha = np.ones((H, W), np.float32)
    alpha[:, 200:] = 0.0
    mesh = _two_planes(alpha)
    on_backdrop = (mesh.attributes["layer"][mesh.triangles] == backdrop.LAYER).all(axis=1)
    assert on_backdrop.any()
    x, _, _ = _project(mesh, mesh.triangles[on_backdrop].ravel())
    assert x.max() <= 200 + 1e-3


def test_baselines_have_no_backdrop() -> None:
    photo = Photo("p.png", np.zeros((H, W, 3), np.uint8), None, None, 1)
    depth = DepthMap("DEPTH", np.full((H, W), 4.0, np.float32))
    for mode in ("TORN", "RUBBER"):
        mesh = build_mesh(photo, depth, _settings(mode))
        assert (mesh.attributes["layer"] == 0).all()


def test_grid_fits_the_atlas_at_every_size() -> None:
    for h, w in [(16, 16), (16, 700), (40, 64), (100, 130), (890, 1146), (4000, 5000)]:
        g = backdrop.backdrop_grid((h, w))
        assert g.step >= backdrop.MIN_STEP
        assert g.blocks == (-(-h // g.step), -(-w // g.step))
        assert g.shape[1] + 14 <= max(w, 64)
        assert max(g.blocks) <= backdrop.NODES


def test_backdrop_uvs_stay_in_its_band_at_every_safe_mip_level() -> None:
    from pipeline.mesh import atlas

    mesh = _two_planes()
    th, tw = mesh.texture.shape[:2]
    rows = np.flatnonzero(mesh.attributes["layer"] == backdrop.LAYER)
    u = mesh.uvs[rows, 0].astype(np.float64) * tw
    v = (1.0 - mesh.uvs[rows, 1].astype(np.float64)) * th
    # The band: whole CELL rows at the bottom of the atlas, below every grown tile's UV.
    others = (1.0 - mesh.uvs[mesh.attributes["layer"] >= 0, 1].astype(np.float64)) * th
    top = np.floor(v.min() / atlas.CELL) * atlas.CELL
    assert top > others.max() and th % atlas.CELL == 0
    for level in range(atlas.SAFE_MIP_LEVEL + 1):
        s = 2**level
        lo_v = np.floor(v / s - 0.5) * s
        hi_v = (np.floor(v / s - 0.5) + 2.0) * s - 1
        assert (lo_v >= top).all() and (hi_v < th).all(), level
        lo_u = np.floor(u / s - 0.5) * s
        hi_u = (np.floor(u / s - 0.5) + 2.0) * s - 1
        assert (lo_u >= 0).all() and (hi_u < tw).all(), level
    # Its texels hold the scene's colours (never left black).
    assert (mesh.texture[int(top) :].reshape(-1, 3).sum(axis=1) > 0).all()
