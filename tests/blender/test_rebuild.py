"""Rebuild reuses the cached depth (the backend is not called again) and per-object settings
survive saving and reopening the .blend."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
TIEFENRAUSCH = REFERENCE / "tiefenrausch"


def job_state():
    import bpy

    return bpy.context.window_manager.oneshot3d_job


def test_rebuild_with_new_threshold_does_not_rerun_depth(
    empty_scene, installed_extension, sample_photo
):
    import bpy

    if not (TIEFENRAUSCH / "tiefenrausch.pb").is_file():
        pytest.skip(f"Tiefenrausch model files not found in {TIEFENRAUSCH}")
    if importlib.util.find_spec("torch") is None:
        pytest.skip("Tiefenrausch runs in torch, which is not installed here")
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    prefs.model_dir = str(TIEFENRAUSCH.resolve())
    try:
        result = bpy.ops.oneshot3d.import_photo(
            filepath=str(sample_photo), depth_backend="tiefenrausch", mesh_mode="TORN"
        )
        assert result == {"FINISHED"}
        obj = next(o for o in bpy.data.objects if o.type == "MESH")
        assert obj.oneshot3d.depth_backend == "tiefenrausch"
        first = job_state().depth_cache_hits, job_state().depth_cache_misses
        # The first import of this photo may find an earlier test's entry; it ran at most once.
        assert sum(first) == 1
        obj.data.calc_loop_triangles()
        faces_before = len(obj.data.loop_triangles)
        old_mesh_name = obj.data.name
        bpy.context.view_layer.objects.active = obj
        obj.oneshot3d.depth_threshold = 0.5
        assert bpy.ops.oneshot3d.rebuild_photo() == {"FINISHED"}
        # The backend was not called: the depth came from the cache.
        assert (job_state().depth_cache_hits, job_state().depth_cache_misses) == (1, 0)
        obj.data.calc_loop_triangles()
        assert len(obj.data.loop_triangles) > faces_before  # fewer cuts with a larger threshold
        assert obj.data.name == old_mesh_name
        # Old data-blocks were removed: one mesh, one material, one image per photo.
        assert len(bpy.data.meshes) == 1 and len(bpy.data.materials) == 1
        assert len(bpy.data.images) == 1
        assert obj.oneshot3d.depth_threshold == pytest.approx(0.5)
    finally:
        prefs.model_dir = ""


def test_rebuild_file_depth_and_failure_keeps_object(
    empty_scene, installed_extension, sample_photo, sample_depth, tmp_path
):
    import bpy

    bpy.ops.oneshot3d.import_photo(
        filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH"
    )
    obj = next(o for o in bpy.data.objects if o.type == "MESH")
    bpy.context.view_layer.objects.active = obj
    obj.oneshot3d.mesh_mode = "RUBBER"
    assert bpy.ops.oneshot3d.rebuild_photo() == {"FINISHED"}
    rubber = len(obj.data.polygons)
    mesh = obj.data
    obj.oneshot3d.depth_filepath = str(tmp_path / "gone.npy")
    with pytest.raises(RuntimeError, match="gone.npy"):
        bpy.ops.oneshot3d.rebuild_photo()
    assert obj.data == mesh and len(obj.data.polygons) == rubber  # untouched
    assert len(bpy.data.meshes) == 1


def test_settings_survive_save_and_reload(
    empty_scene, installed_extension, sample_photo, sample_depth, tmp_path
):
    import bpy

    props_mod = sys.modules[f"{installed_extension.__name__}.panels.properties"]
    bpy.ops.oneshot3d.import_photo(
        filepath=str(sample_photo),
        depth_filepath=str(sample_depth),
        depth_kind="DEPTH",
        median_size="3",
        min_edge_length=20.0,
        extension=0.1,
        inpainter="telea",
        simplify_tolerance=0.004,
        simplify_block="4",
        mesh_mode="TORN",
    )
    obj = next(o for o in bpy.data.objects if o.type == "MESH")
    obj.oneshot3d.depth_threshold = 0.07
    name = obj.name
    expected = props_mod.settings_dict(obj.oneshot3d)
    assert expected["median_size"] == 3 and expected["inpainter"] == "telea"
    assert expected["simplify_block"] == 4 and expected["mesh_mode"] == "TORN"
    path = tmp_path / "settings.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects[name]
    assert props_mod.settings_dict(obj.oneshot3d) == pytest.approx(expected)
    assert obj.oneshot3d.depth_backend == "FILE"
    assert obj.oneshot3d.source_filepath == str(sample_photo)
