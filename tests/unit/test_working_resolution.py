"""Big photos: geometry at a working resolution within the settings' budget, the photo
texture at full resolution, and a camera and mesh that still match the full-size photo."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from helpers import assert_only_outline_pixels_unmixed

from pipeline.build import build_mesh
from pipeline.io.depth_file import DepthMap
from pipeline.io.image_io import Photo
from pipeline.lattice import NETWORK_MIN_MEGAPIXELS, geometry_size, working_size
from pipeline.mesh.skirts import MAX_COVERAGE
from pipeline.settings import PipelineSettings

H, W = 300, 401  # odd width: the working size cannot keep the aspect ratio exactly


def _scene() -> tuple[Photo, DepthMap]:
    depth = np.full((H, W), 4.0, np.float32)
    depth[60:200, 90:180] = 1.5
    depth[90:240, 240:330] = 2.0
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return Photo("p.png", rgb, None, None, 1), DepthMap("DEPTH", depth)


def _settings(megapixels: float, mode: str = "LDI") -> PipelineSettings:
    return PipelineSettings(
        depth_kind="DEPTH",
        median_size=0,
        min_edge_length=0,
        mesh_mode=mode,
        geometry_megapixels=megapixels,
    ).validate()


def test_working_size_keeps_small_photos_and_fits_big_ones_in_the_budget() -> None:
    assert working_size(4032, 3024, 12.6) == (4032, 3024)  # a 12 MP phone photo stays native
    w, h = working_size(8192, 6144, 12.6)
    assert w * h <= 12.6e6 and w * h > 0.99 * 12.6e6
    assert abs(w / h - 8192 / 6144) < 1e-3
    # A panorama keeps a usable short side even where that exceeds the budget.
    assert working_size(100_000, 40, 0.01) == (40_000, 16)


def test_depth_from_a_network_gets_its_share_of_the_photo_within_the_budget() -> None:
    network = PipelineSettings(depth_backend="tiefenrausch-onnx", network_geometry_share=0.5)
    w, h = geometry_size(1155, 866, network)
    assert 0.49 * 1155 * 866 < w * h <= 0.5 * 1155 * 866
    assert abs(w / h - 1155 / 866) < 0.01
    # A depth file's lattice is the photo's own up to the budget.
    assert geometry_size(1155, 866, PipelineSettings()) == (1155, 866)
    assert geometry_size(1155, 866, replace(network, network_geometry_share=1.0)) == (1155, 866)
    # A 12 MP photo: the budget (6 MP) is the smaller of the two, as for a depth file.
    assert geometry_size(4032, 3024, network) == geometry_size(4032, 3024, PipelineSettings())
    # Never below NETWORK_MIN_MEGAPIXELS: a small photo keeps its own lattice, a 0.64 MP one
    # gets 0.5 MP.
    assert geometry_size(640, 480, network) == (640, 480)
    w, h = geometry_size(800, 800, network)
    assert (w, h) == working_size(800, 800, NETWORK_MIN_MEGAPIXELS) and w * h > 0.49e6


def test_a_network_depth_build_meshes_the_smaller_lattice_and_keeps_the_full_photo() -> None:
    small, small_depth = _scene()
    # The same scene at 1.08 MP: above NETWORK_MIN_MEGAPIXELS, so the share applies.
    size = (3 * W, 3 * H)
    photo = Photo(
        "p.png", cv2.resize(small.rgb, size, interpolation=cv2.INTER_NEAREST), None, None, 1
    )
    depth = DepthMap("DEPTH", cv2.resize(small_depth.values, size, interpolation=cv2.INTER_NEAREST))
    from_file = build_mesh(photo, depth, _settings(6.0))
    network = replace(_settings(6.0), depth_backend="tiefenrausch-onnx").validate()
    from_network = build_mesh(photo, depth, network)
    assert from_network.triangle_count < 0.85 * from_file.triangle_count
    # Layer 0 of the texture is still the photo at its own resolution.
    assert from_network.texture.shape[0] >= 3 * H and from_network.texture.shape[1] >= 3 * W


def _project(mesh, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image position (full-resolution pixels) of vertices through the mesh's camera."""
    k = mesh.intrinsics
    v = mesh.vertices[rows].astype(np.float64)
    z = -v[:, 2]
    return v[:, 0] / z * k.fx + k.cx, k.cy - v[:, 1] / z * k.fx


@pytest.mark.parametrize("megapixels", [1.0, 0.03])
def test_layer0_uvs_sample_the_full_resolution_photo_where_the_vertex_projects(
    megapixels: float,
) -> None:
    photo, depth = _scene()
    mesh = build_mesh(photo, depth, _settings(megapixels))
    w, h = working_size(W, H, megapixels)
    assert (mesh.intrinsics.width, mesh.intrinsics.height) == (W, H)
    tex = mesh.texture
    th, tw = tex.shape[:2]
    # The photo region holds the photo's own pixels at full resolution, at some margin.
    layer0 = (mesh.attributes["layer"] == 0) & (mesh.attributes["inpainted"] == 0)
    x, y = _project(mesh, np.flatnonzero(layer0))
    tu = mesh.uvs[layer0, 0].astype(np.float64) * tw
    tv = (1.0 - mesh.uvs[layer0, 1].astype(np.float64)) * th
    margin = int(round(np.median(tu - x)))
    assert margin > 0 and margin == int(round(np.median(tv - y)))
    region = tex[margin : margin + H, margin : margin + W]
    if (w, h) == (W, H):
        # At full resolution the skirts unmix the background pixels beside the outlines.
        assert_only_outline_pixels_unmixed(region, photo.rgb, depth.values)
    else:
        # Below it, the photo region is the full-resolution photo as it is.
        np.testing.assert_array_equal(region, photo.rgb)
    # Every photo-region UV is where its vertex projects: exactly for lattice vertices, within
    # half a working pixel plus the outline's reach into the background pixel for the
    # silhouette strips (coloured by their edge pixel). Layer-0 samples also appear in grown
    # layers' tiles (below the photo).
    in_photo = tv < H + 2 * margin
    assert in_photo.sum() > 1000
    du = tu[in_photo] - margin - x[in_photo]
    dv = tv[in_photo] - margin - y[in_photo]
    exact = (np.abs(du) < 1e-2) & (np.abs(dv) < 1e-2)
    # Lattice vertices (at working pixel centres) sample exactly where they project; the
    # silhouette strips' outer vertices sit on pixel borders or up to MAX_COVERAGE beyond.
    xw, yw = x[in_photo] * w / W, y[in_photo] * h / H
    on_lattice = (np.abs(xw % 1.0 - 0.5) < 1e-3) & (np.abs(yw % 1.0 - 0.5) < 1e-3)
    assert on_lattice.mean() > 0.5
    assert exact[on_lattice].all()
    reach = 0.5 + MAX_COVERAGE
    assert np.abs(du).max() <= reach * W / w + 1e-2 and np.abs(dv).max() <= reach * H / h + 1e-2


def test_grown_layers_keep_their_colour_at_the_working_resolution() -> None:
    """Grown (inpainted) vertices sample tiles holding the same colours with and without a
    budget: tiles moved below the bigger photo region keep their UVs' texels."""
    photo, depth = _scene()
    small = build_mesh(photo, depth, _settings(0.03))
    grown = small.attributes["layer"] > 0
    assert grown.sum() > 100
    th, tw = small.texture.shape[:2]
    col = np.floor(small.uvs[grown, 0] * tw).astype(int)
    row = np.floor((1.0 - small.uvs[grown, 1]) * th).astype(int)
    assert (row > H).all()  # below the full-resolution photo region
    colours = small.texture[row, col].astype(np.float64)
    # The background behind the cards is random noise: the inpainted colour is a smooth
    # fill near its mean, never black (an unfilled or misplaced tile).
    assert abs(colours.mean() - 127.5) < 25 and (colours.sum(axis=1) > 0).mean() > 0.99


@pytest.mark.parametrize("mode", ["LDI", "TORN", "RUBBER"])
def test_geometry_follows_the_budget_and_the_camera_stays_the_photos(mode: str) -> None:
    photo, depth = _scene()
    full = build_mesh(photo, depth, _settings(1.0, mode))
    small = build_mesh(photo, depth, _settings(0.03, mode))
    assert small.triangle_count < 0.75 * full.triangle_count
    assert small.intrinsics == full.intrinsics
    # Both meshes cover the same frustum: the projected extent of the mesh is the photo's
    # (plus the frame margin for the LDI), whatever the working size. The LDI's backdrop
    # (layer -1) reaches a little farther and is checked in test_backdrop.
    for mesh, megapixels in ((full, 1.0), (small, 0.03)):
        x, y = _project(mesh, np.flatnonzero(mesh.attributes["layer"] >= 0))
        # The LDI's frame margin (working px, as large as the camera moves need) in photo px.
        scale = W / working_size(W, H, megapixels)[0]
        pad = mesh.frame_margin * scale + 2 if mode == "LDI" else 0.01
        if mode == "LDI":
            assert mesh.frame_margin >= round(0.06 * W / scale)
        assert x.min() >= -pad and x.max() <= W + pad
        assert y.min() >= -pad and y.max() <= H + pad
        assert x.max() - x.min() >= W - 1 and y.max() - y.min() >= H - 1
    if mode != "LDI":
        assert small.texture is photo.rgb or np.array_equal(small.texture, photo.rgb)
