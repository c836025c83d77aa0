"""Blender's own glTF importer reads our .glb back: geometry, UVs, texture, attributes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (pip install bpy)")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.build import build_mesh  # noqa: E402
from pipeline.io.depth_file import DepthMap  # noqa: E402
from pipeline.io.export import write_glb, write_ply  # noqa: E402
from pipeline.io.image_io import Photo  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402

pytestmark = pytest.mark.blender


def _two_plane_mesh():
    h, w = 48, 64
    depth = np.full((h, w), 4.0, np.float32)
    depth[12:36, 20:44] = 1.5
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 2] = 200
    rgb[12:36, 20:44] = (230, 10, 10)
    photo = Photo("two_planes.png", rgb, None, None, 1)
    settings = PipelineSettings(depth_kind="DEPTH", median_size=0, min_edge_length=0)
    return build_mesh(photo, DepthMap("DEPTH", depth), settings)


@pytest.fixture()
def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_blender_gltf_importer_reads_our_glb(tmp_path: Path, empty_scene: None) -> None:
    mesh = _two_plane_mesh()
    path = tmp_path / "photo.glb"
    write_glb(mesh, path)
    result = bpy.ops.import_scene.gltf(filepath=str(path))
    assert result == {"FINISHED"}
    objects = [o for o in bpy.data.objects if o.type == "MESH"]
    assert len(objects) == 1
    me = objects[0].data
    # The importer may merge or split vertices at UV seams; triangles must all come back.
    assert len(me.polygons) == mesh.triangle_count
    assert all(len(p.vertices) == 3 for p in me.polygons[:100])
    assert me.uv_layers, "UV map missing"
    images = [i for i in bpy.data.images if i.size[0] > 0]
    assert images and tuple(images[0].size) == (mesh.texture.shape[1], mesh.texture.shape[0])
    # glTF is Y-up; Blender's importer maps (x, y, z) -> (x, -z, y). Extents must match.
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    np.testing.assert_allclose(co[:, 0].min(), mesh.vertices[:, 0].min(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(co[:, 1].max(), -mesh.vertices[:, 2].min(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(co[:, 2].max(), mesh.vertices[:, 1].max(), rtol=1e-4, atol=1e-5)
    # Custom attributes arrive as mesh attributes (named after the glTF attribute).
    names = {a.name.lower() for a in me.attributes}
    assert any("layer" in n for n in names), names
    assert any("inpainted" in n for n in names), names


def test_blender_reads_our_ply(tmp_path: Path, empty_scene: None) -> None:
    mesh = _two_plane_mesh()
    path = tmp_path / "photo.ply"
    write_ply(mesh, path)
    result = bpy.ops.wm.ply_import(filepath=str(path))
    assert result == {"FINISHED"}
    objects = [o for o in bpy.data.objects if o.type == "MESH"]
    assert len(objects) == 1
    me = objects[0].data
    assert len(me.polygons) == mesh.triangle_count
    assert len(me.vertices) <= mesh.vertices.shape[0]
    assert me.color_attributes, "vertex colours missing"
