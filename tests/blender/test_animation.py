"""oneshot3d.animate_camera and oneshot3d.pick_focus in real Blender (5.0: channelbags)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.blender


def import_sample(sample_photo: Path, sample_depth: Path):
    import bpy

    result = bpy.ops.oneshot3d.import_photo(
        filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH"
    )
    assert result == {"FINISHED"}
    col = bpy.data.collections["sample"]
    photo = next(o for o in col.objects if o.type == "MESH")
    return photo, photo.oneshot3d.camera


def curves(owner) -> dict[tuple[str, int], object]:
    from bl_ext.user_default.oneshot3d.blender.keyframes import fcurves_of

    return {(fc.data_path, fc.array_index): fc for fc in fcurves_of(owner)}


def test_swing_loop_keys_interpolation_and_cycles(empty_scene, sample_photo, sample_depth):
    import bpy

    photo, cam = import_sample(sample_photo, sample_depth)
    rest_lens = cam.data.lens
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=8, loop=True) == {"FINISHED"}
    obj_curves = curves(cam)
    assert set(obj_curves) == {("location", i) for i in range(3)} | {
        ("rotation_euler", i) for i in range(3)
    }
    data_curves = curves(cam.data)
    assert set(data_curves) == {("lens", 0)}
    for fc in [*obj_curves.values(), *data_curves.values()]:
        # A loop of 8 frames: keys on frames 1..9, the last equal to the first.
        assert len(fc.keyframe_points) == 9
        assert {k.interpolation for k in fc.keyframe_points} == {"LINEAR"}
        assert [m.type for m in fc.modifiers] == ["CYCLES"]
        first, last = fc.keyframe_points[0].co, fc.keyframe_points[-1].co
        assert (first[0], last[0]) == (1.0, 9.0)
        assert last[1] == pytest.approx(first[1], abs=1e-6)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 8)
    assert scene.camera == cam
    # Sideways swing: x moves both ways, y stays, the camera turns towards the focus point.
    x = [k.co[1] for k in obj_curves[("location", 0)].keyframe_points]
    y = [k.co[1] for k in obj_curves[("location", 1)].keyframe_points]
    assert min(x) < -1e-3 and max(x) > 1e-3 and max(map(abs, y)) < 1e-9
    focus = photo.oneshot3d.focus_depth
    assert max(x) == pytest.approx(0.04 * focus, rel=1e-3)
    scene.frame_set(3)  # quarter period: the far right, turned left to look at the focus
    assert cam.location.x == pytest.approx(max(x), rel=1e-4)
    assert cam.rotation_euler.y == pytest.approx(math.atan2(cam.location.x, focus), rel=1e-3)
    # Cycles modifier: one period later the pose repeats.
    scene.frame_set(11)
    assert cam.location.x == pytest.approx(max(x), rel=1e-4)
    # Staying inside the photo zooms in a little, never out.
    assert data_curves[("lens", 0)].keyframe_points[0].co[1] >= rest_lens


def test_rerun_replaces_instead_of_stacking(empty_scene, sample_photo, sample_depth):
    import bpy

    _, cam = import_sample(sample_photo, sample_depth)
    assert bpy.ops.oneshot3d.animate_camera(preset="CIRCLE", frames=12) == {"FINISHED"}
    assert bpy.ops.oneshot3d.animate_camera(preset="ZOOM_IN", frames=6, loop=False) == {"FINISHED"}
    tagged = [a for a in bpy.data.actions if a.get("oneshot3d")]
    assert len(tagged) == 2  # one for the object, one for the camera data
    obj_curves = curves(cam)
    for fc in obj_curves.values():
        assert len(fc.keyframe_points) == 6  # not 13 + 6
        assert len(fc.modifiers) == 0  # one-way move: no cycles
    z = [k.co[1] for k in obj_curves[("location", 2)].keyframe_points]
    assert z[0] == pytest.approx(0.0, abs=1e-9) and z[-1] < 0  # moves forward (down -Z)
    assert np.all(np.diff(z) <= 1e-9)


def test_dolly_zoom_keys_the_lens(empty_scene, sample_photo, sample_depth):
    import bpy

    _, cam = import_sample(sample_photo, sample_depth)
    rest = cam.data.lens
    assert bpy.ops.oneshot3d.animate_camera(
        preset="DOLLY_ZOOM", frames=10, loop=False, crop_to_photo=False
    ) == {"FINISHED"}
    lens = [k.co[1] for k in curves(cam.data)[("lens", 0)].keyframe_points]
    assert lens[0] > rest * 1.05 and lens[-1] == pytest.approx(rest, rel=1e-5)


def test_shift_pivot_keys_lens_shift(empty_scene, sample_photo, sample_depth):
    import bpy

    _, cam = import_sample(sample_photo, sample_depth)
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=8, pivot="SHIFT") == {"FINISHED"}
    assert {("shift_x", 0), ("shift_y", 0), ("lens", 0)} == set(curves(cam.data))
    rot = curves(cam)[("rotation_euler", 1)]
    assert all(abs(k.co[1]) < 1e-9 for k in rot.keyframe_points)


def test_ken_burns_and_custom(empty_scene, sample_photo, sample_depth):
    import bpy

    _, cam = import_sample(sample_photo, sample_depth)
    assert bpy.ops.oneshot3d.animate_camera(preset="KEN_BURNS", frames=10) == {"FINISHED"}
    assert len(curves(cam)[("location", 0)].keyframe_points) == 11
    keys = '[{"frame": 0, "location": [0, 0, 0]}, {"frame": 5, "location": [0.05, 0.02, 0]}]'
    assert bpy.ops.oneshot3d.animate_camera(
        preset="CUSTOM", frames=10, loop=False, keyframes_json=keys
    ) == {"FINISHED"}
    x = [k.co[1] for k in curves(cam)[("location", 0)].keyframe_points]
    assert len(x) == 10 and x[0] == pytest.approx(0.0, abs=1e-9) and max(x) > 0
    # Bad input is reported, not raised.
    with pytest.raises(RuntimeError, match="JSON"):
        bpy.ops.oneshot3d.animate_camera(preset="CUSTOM", keyframes_json="[oops")
    with pytest.raises(RuntimeError, match="amplitude"):
        bpy.ops.oneshot3d.animate_camera(preset="ZOOM_IN", amplitude=0.95)


def test_pick_focus_at_centre(empty_scene, sample_photo, sample_depth):
    import bpy

    photo, _ = import_sample(sample_photo, sample_depth)
    photo.oneshot3d.focus_depth = 123.0
    assert bpy.ops.oneshot3d.pick_focus(mode="CENTER") == {"FINISHED"}
    depth = np.load(sample_depth)
    h, w = depth.shape
    centre = depth[h // 2 - 2 : h // 2 + 2, w // 2 - 2 : w // 2 + 2]
    assert centre.min() * 0.98 <= photo.oneshot3d.focus_depth <= centre.max() * 1.02


def test_panel_and_settings_registered(empty_scene):
    import bpy

    assert hasattr(bpy.types, "ONESHOT3D_PT_animation")
    settings = bpy.context.scene.oneshot3d_animation
    assert settings.preset == "SWING" and settings.loop and settings.frames == 90


def test_the_photo_knows_its_safe_move_and_a_larger_amplitude_warns(
    empty_scene, sample_photo, sample_depth, capfd
):
    import bpy

    photo, _cam = import_sample(sample_photo, sample_depth)
    safe = list(photo.oneshot3d.safe_motion)
    focus = photo.oneshot3d.focus_depth
    # Right, left, up, down, in Blender units: a real move, well below the focus distance.
    assert all(0.0 < v < focus for v in safe), safe
    capfd.readouterr()
    result = bpy.ops.oneshot3d.animate_camera(
        preset="SWING", frames=8, amplitude=0.5, crop_to_photo=False
    )
    assert result == {"FINISHED"}
    out = capfd.readouterr()
    warning = [line for line in (out.out + out.err).splitlines() if "safe" in line]
    assert len(warning) == 1 and "Swing amplitude 0.5 is beyond" in warning[0], warning
    limit = float(warning[0].rsplit(" ", 1)[-1])
    # A swing moves the camera sideways only: its limit is the smaller sideways safe move.
    assert limit == pytest.approx(min(safe[0], safe[1]) / focus, rel=0.01)


def test_the_default_amplitude_stays_within_the_safe_move(empty_scene, sample_photo, sample_depth):
    import bpy

    photo, cam = import_sample(sample_photo, sample_depth)
    focus = photo.oneshot3d.focus_depth
    # A photo that can show only 1 % of the focus distance to either side.
    photo.oneshot3d.safe_motion = (0.01 * focus, 0.01 * focus, 1.0, 1.0)
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=8) == {"FINISHED"}
    x = [k.co[1] for k in curves(cam)[("location", 0)].keyframe_points]
    assert max(x) == pytest.approx(0.01 * focus, rel=1e-3)
    assert min(x) == pytest.approx(-0.01 * focus, rel=1e-3)
    # An amplitude the artist chose is kept (and warned about).
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=8, amplitude=0.03) == {
        "FINISHED"
    }
    x = [k.co[1] for k in curves(cam)[("location", 0)].keyframe_points]
    assert max(x) == pytest.approx(0.03 * focus, rel=1e-3)
