"""The UI layer is registered: sidebar panels, preferences, drag-and-drop file handler."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.blender


def test_sidebar_preferences_and_file_handler(empty_scene, installed_extension):
    import bpy

    panel = bpy.types.ONESHOT3D_PT_photo
    assert panel.bl_space_type == "VIEW_3D" and panel.bl_category == "3D Photo"
    assert hasattr(bpy.types, "ONESHOT3D_PT_photo_geometry")
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    assert prefs.device == "CPU" and prefs.model_dir == ""
    assert prefs.default_depth_backend == "tiefenrausch"
    assert {"CPU", "CUDA", "MPS"} <= {
        i.identifier for i in prefs.bl_rna.properties["device"].enum_items
    }
    if not hasattr(bpy.types, "FileHandler"):
        pytest.skip("FileHandler needs Blender 4.1+")
    handler = bpy.types.ONESHOT3D_FH_photo
    assert handler.bl_import_operator == "oneshot3d.import_photo"
    assert ".jpg" in handler.bl_file_extensions.split(";")
    for name in (
        "rebuild_photo",
        "install_dependencies",
        "remove_dependencies",
        "dependency_status",
        "download_model",
    ):
        assert hasattr(bpy.ops.oneshot3d, name)


def test_rebuild_needs_a_photo(empty_scene):
    import bpy

    bpy.ops.mesh.primitive_cube_add()
    assert not bpy.ops.oneshot3d.rebuild_photo.poll()
