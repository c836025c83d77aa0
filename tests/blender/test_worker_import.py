"""The import runs in a worker process: errors, crashes and cancel leave the scene unchanged
and end the child; torch never enters Blender's process; every pipeline setting is an
operator and object property."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


def counts():
    import bpy

    return tuple(
        len(c)
        for c in (
            bpy.data.objects,
            bpy.data.meshes,
            bpy.data.images,
            bpy.data.materials,
            bpy.data.cameras,
            bpy.data.collections,
        )
    )


def ext_module(installed_extension, name):
    return sys.modules[f"{installed_extension.__name__}.{name}"]


@pytest.fixture
def fault(monkeypatch):
    def set_fault(kind: str) -> None:
        monkeypatch.setenv("ONESHOT3D_WORKER_FAULT", kind)

    return set_fault


def sample_args(sample_photo, sample_depth, **kw):
    args = dict(filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH")
    args.update(kw)
    return args


def test_import_uses_worker_and_never_imports_torch(
    empty_scene, installed_extension, sample_photo, sample_depth
):
    import bpy

    torch_before = "torch" in sys.modules
    assert bpy.ops.oneshot3d.import_photo(**sample_args(sample_photo, sample_depth)) == {"FINISHED"}
    op_module = ext_module(installed_extension, "blender.worker_jobs")
    job = op_module.last_job
    assert job is not None and job.pid != os.getpid() and not job.alive
    assert not job.temp_dir.exists()  # result read, temp folder removed
    assert op_module.last_result["triangles"] > 0
    if not torch_before:
        assert "torch" not in sys.modules


@pytest.mark.parametrize("kind", ["crash", "exception"])
def test_worker_crash_is_a_readable_error_and_leaves_nothing(
    empty_scene, installed_extension, sample_photo, sample_depth, fault, kind, capfd
):
    import bpy

    fault(kind)
    before = counts()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.oneshot3d.import_photo(**sample_args(sample_photo, sample_depth))
    message = str(info.value)
    assert "Traceback" not in message
    if kind == "crash":
        assert "ended unexpectedly" in message
    else:
        assert "simulated unexpected error" in message
    assert counts() == before
    job = ext_module(installed_extension, "blender.worker_jobs").last_job
    assert not job.alive and not job.temp_dir.exists()
    # The console gets the details, including the worker's last lines.
    out = capfd.readouterr().out
    assert "last lines of the worker" in out


def test_cancel_mid_run_kills_child_and_changes_nothing(
    empty_scene, installed_extension, sample_photo, sample_depth, fault
):
    import bpy

    fault("slow")
    op_module = ext_module(installed_extension, "blender.worker_jobs")
    before = counts()
    timer = threading.Timer(1.0, op_module.cancel_event.set)
    timer.start()
    try:
        result = bpy.ops.oneshot3d.import_photo(**sample_args(sample_photo, sample_depth))
    finally:
        timer.cancel()
    assert result == {"CANCELLED"}
    assert counts() == before
    job = op_module.last_job
    assert job.state.value == "cancelled" and not job.alive
    with pytest.raises(ProcessLookupError):
        os.kill(job.pid, 0)
    assert not job.temp_dir.exists()
    assert not bpy.context.window_manager.oneshot3d_job.running


def test_settings_error_reported_before_starting(empty_scene, sample_photo, sample_depth):
    import bpy

    # The sliders' ranges are the pipeline's (a value beyond them is clamped by Blender), so
    # what is left to refuse is a value inside a slider's range that the pipeline does not
    # take: a field of view between 0 (automatic) and 1 degree.
    with pytest.raises(RuntimeError, match="fov = 0.5"):
        bpy.ops.oneshot3d.import_photo(**sample_args(sample_photo, sample_depth), fov=0.5)


def test_missing_model_offline_says_how_to_fix(
    empty_scene, installed_extension, sample_photo, tmp_path
):
    import bpy

    if bpy.app.online_access:
        pytest.skip("online access is on here: the worker would try to download the model")
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    prefs.model_dir = str(tmp_path)
    try:
        before = counts()
        with pytest.raises(RuntimeError, match="Online access is off"):
            bpy.ops.oneshot3d.import_photo(
                filepath=str(sample_photo), depth_backend="depth-anything-v2-small"
            )
        assert counts() == before
    finally:
        prefs.model_dir = ""


def test_every_pipeline_setting_is_a_property(empty_scene, installed_extension):
    import bpy

    props = ext_module(installed_extension, "panels.properties")
    settings_mod = ext_module(installed_extension, "pipeline.settings")
    fields = {f.name for f in dataclasses.fields(settings_mod.PipelineSettings)}
    assert fields - props.NOT_PROPERTIES == set(settings_mod.PHOTO_SETTINGS)
    op_props = bpy.ops.oneshot3d.import_photo.get_rna_type().properties
    group = bpy.types.Object.bl_rna.properties["oneshot3d"].fixed_type.properties
    for name in settings_mod.PHOTO_SETTINGS:
        assert name in op_props and name in group, name
    # Defaults are the pipeline's defaults.
    defaults = settings_mod.PipelineSettings()
    for name in ("depth_threshold", "extension", "min_edge_length"):
        assert op_props[name].default == pytest.approx(getattr(defaults, name))
    backends = {i.identifier for i in op_props["depth_backend"].enum_items}
    assert {"AUTO", "FILE", "tiefenrausch", "depth-anything-v2-small"} <= backends
    # Keep the property names scripts rely on.
    for name in (
        "filepath",
        "depth_filepath",
        "depth_kind",
        "fov",
        "depth_threshold",
        "depth_scale",
        "material",
    ):
        assert name in op_props
