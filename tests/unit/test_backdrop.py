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


def _two_planes(alpha: np.ndarray | None = None) -> MeshData:
    """A green box in front of a red, slightly slanted wall (a receding floor at the bottom)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    depth = 4.0 + xx / 400.0
    depth[150:] = 4.0 - (yy[150:] - 150) / 30.0  # nearer toward the bottom: a floor
    depth[BOX] = 1.5
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = BACKGROUND
    rgb[BOX] = FOREGROUND
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


def test_the_backdrop_covers_the_frame_and_its_margin() -> None:
    mesh = _two_planes()
    gx, gy, _ = _grid(mesh)
    x, y, _ = _project(mesh, np.flatnonzero(mesh.attributes["layer"] >= 0))
    # Beyond everything else on every side, by at least EXTEND of the long side (less the
    # half pixel of the outermost vertices), and one unbroken sheet: two triangles per cell.
    reach = backdrop.EXTEND * max(H, W) * 0.9
    assert gx[0] < x.min() - reach and gx[-1] > x.max() + reach
    assert gy[0] < y.min() - reach and gy[-1] > y.max() + reach
    on_backdrop = (mesh.attributes["layer"][mesh.triangles] == backdrop.LAYER).all(axis=1)
    assert on_backdrop.sum() == 2 * (gx.size - 1) * (gy.size - 1)
    # No triangle mixes backdrop and LDI vertices.
    assert (
        not (mesh.attributes["layer"][mesh.triangles] == backdrop.LAYER)
        .any(axis=1)[~on_backdrop]
        .any()
    )


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
