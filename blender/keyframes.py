"""Key a trajectory on a camera, and remove it again.

The trajectory is sampled once per frame and keyed with LINEAR interpolation: every frame
shows exactly the computed pose (the easing lives in the samples, not in Bezier handles that
would overshoot between dense keys). Loops get one extra key at frame N equal to frame 0 and a
Cycles F-curve modifier, so the curve's period is exactly N frames and scrubbing past the end
keeps going round.

Keys go into actions tagged ``oneshot3d``: one on the camera object (location, rotation) and
one on its camera data (lens, and lens shift for the SHIFT pivot). Re-running removes the
tagged actions first, so animations are replaced, never stacked. How F-curves are reached
differs between Blender versions (blender.compat).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import bpy
import numpy as np

from . import compat

if TYPE_CHECKING:
    from ..pipeline.motion import Trajectory


ACTION_TAG = "oneshot3d"


# The camera's pose and lens before the first animation: the trajectory's rest pose.
REST_LENS = "oneshot3d_rest_lens"


REST_SHIFT = "oneshot3d_rest_shift"


def clear_animation(camera: bpy.types.Object) -> None:
    """Remove our previous animation from the camera and restore its rest pose and lens."""
    cam_data = cast(bpy.types.Camera, camera.data)
    for owner in (camera, cam_data):
        anim = owner.animation_data
        if anim is None or anim.action is None:
            continue
        action = anim.action
        anim.action = None
        if action.get(ACTION_TAG):
            if action.users == 0:
                bpy.data.actions.remove(action)
        else:
            action.use_fake_user = True  # the user's own keys: unassigned but never lost
    camera.location = (0.0, 0.0, 0.0)
    camera.rotation_mode = "XYZ"
    camera.rotation_euler = (0.0, 0.0, 0.0)
    if camera.get(REST_LENS) is not None:
        cam_data.lens = float(camera[REST_LENS])
        cam_data.shift_x, cam_data.shift_y = (float(v) for v in camera[REST_SHIFT])


def _new_fcurves(owner: Any, name: str) -> Any:
    """A fresh tagged action on ``owner`` and the collection to create its F-curves in."""
    action = bpy.data.actions.new(name)
    action[ACTION_TAG] = True
    return compat.new_fcurves(owner, action)


def fcurves_of(owner: Any) -> list[Any]:
    """The F-curves of the action assigned to ``owner`` (any supported Blender version)."""
    return compat.fcurves_of(owner)


def _key_curve(
    fcurves: Any, data_path: str, index: int, frames: np.ndarray, values: np.ndarray, cyclic: bool
) -> None:
    fc = fcurves.new(data_path, index=index)
    points = fc.keyframe_points
    points.add(len(frames))
    co = np.empty((len(frames), 2), np.float32)
    co[:, 0] = frames
    co[:, 1] = values
    points.foreach_set("co", co.ravel())
    for p in points:
        p.interpolation = "LINEAR"
    if cyclic:
        fc.modifiers.new("CYCLES")
    fc.update()


def apply_trajectory(
    camera: bpy.types.Object, traj: "Trajectory", frame_start: int = 1, name: str = ""
) -> None:
    """Key ``traj`` on ``camera`` from ``frame_start``, replacing any previous animation.

    The trajectory is relative to the photo's camera at rest (origin, looking down -Z), which
    is where the import puts it; lens = rest lens x focal factor, shift = rest shift + shifts x
    rest lens / sensor width (sensor fit AUTO: the sensor spans the longer side).
    """
    cam_data = cast(bpy.types.Camera, camera.data)
    if camera.get(REST_LENS) is None:
        camera[REST_LENS] = float(cam_data.lens)
        camera[REST_SHIFT] = [float(cam_data.shift_x), float(cam_data.shift_y)]
    clear_animation(camera)
    base_lens = float(camera[REST_LENS])
    base_shift = [float(v) for v in camera[REST_SHIFT]]
    frames = frame_start + np.arange(len(traj), dtype=np.float64)
    cyclic = traj.loop and traj.includes_end
    name = name or f"{camera.name} {traj.preset.title()}"

    obj_curves = _new_fcurves(camera, name)
    for i in range(3):
        _key_curve(obj_curves, "location", i, frames, traj.locations[:, i], cyclic)
    for i in range(3):
        _key_curve(obj_curves, "rotation_euler", i, frames, traj.rotations[:, i], cyclic)
    data_curves = _new_fcurves(cam_data, name + " Lens")
    _key_curve(data_curves, "lens", 0, frames, base_lens * traj.focal_factors, cyclic)
    if traj.pivot == "SHIFT":
        scale = base_lens / cam_data.sensor_width
        for i, attr in enumerate(("shift_x", "shift_y")):
            values = base_shift[i] + traj.shifts[:, i] * scale
            _key_curve(data_curves, attr, 0, frames, values, cyclic)
