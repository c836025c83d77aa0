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
    assert prefs.default_depth_backend == "AUTO"
    defaults = {i.identifier for i in prefs.bl_rna.properties["default_depth_backend"].enum_items}
    networks = {
        "tiefenrausch-onnx",
        "tiefenrausch-opencv",
        "tiefenrausch",
        "depth-anything-v2-small",
    }
    assert {"AUTO", *networks} <= defaults
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


def test_automatic_backend_follows_what_is_installed(empty_scene, installed_extension, monkeypatch):
    """Automatic is Depth Anything V2 Small where torch can be imported (this test Blender's
    Python has it), else Tiefenrausch in ONNX Runtime (whose wheel the zip installed), else in
    OpenCV; an explicit choice stays."""
    import importlib.util
    import sys

    import bpy

    op_module = sys.modules[f"{installed_extension.__name__}.blender.extension"]
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    has_torch = importlib.util.find_spec("torch") is not None
    has_ort = importlib.util.find_spec("onnxruntime") is not None
    torchless = "tiefenrausch-onnx" if has_ort else "tiefenrausch-opencv"
    expected = "depth-anything-v2-small" if has_torch else torchless
    assert op_module.preferred_backend(bpy.context) == expected
    availability = sys.modules[f"{installed_extension.__name__}.pipeline.depth.availability"]
    monkeypatch.setattr(availability, "torch_installed", lambda paths=(): False)
    assert op_module.preferred_backend(bpy.context) == torchless
    monkeypatch.setattr(availability, "installed", lambda package, paths=(): False)
    assert op_module.preferred_backend(bpy.context) == "tiefenrausch-opencv"
    prefs.default_depth_backend = "tiefenrausch"
    try:
        assert op_module.preferred_backend(bpy.context) == "tiefenrausch"
    finally:
        prefs.default_depth_backend = "AUTO"


def test_preferences_list_what_each_backend_needs(
    empty_scene, installed_extension, tmp_path, monkeypatch
):
    import sys

    import bpy

    monkeypatch.delenv("ONESHOT3D_MODEL_DIR", raising=False)
    panel = sys.modules[f"{installed_extension.__name__}.panels.preferences"]
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    prefs.model_dir = str(tmp_path)  # an empty model folder
    try:
        rows = dict(panel.backend_rows(bpy.context))
    finally:
        prefs.model_dir = ""
    texts = "\n".join(rows)
    line = next(t for t in rows if t.startswith("Tiefenrausch (no PyTorch): needs"))
    assert "tiefenrausch_init.pb (3.8 MB)" in line
    assert rows[line] in ("IMPORT", "ERROR")  # downloadable when online, else not usable
    line = next(t for t in rows if t.startswith("Tiefenrausch (ONNX Runtime, no PyTorch): needs"))
    assert "tiefenrausch_init.pb (3.8 MB)" in line
    assert "Depth Anything V2 Small" in texts and "depth_anything_v2_vits.pth" in texts
    assert sum("(Automatic picks this)" in t for t in rows) == 1
