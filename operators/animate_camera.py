"""Keyframe a 3D photo's camera along a preset path (pipeline.trajectories), and pick the
focus depth from the photo.

The trajectory is sampled once per frame and keyed with LINEAR interpolation: every frame
shows exactly the computed pose (the easing lives in the samples, not in Bezier handles that
would overshoot between dense keys). Loops get one extra key at frame N equal to frame 0 and a
Cycles F-curve modifier, so the curve's period is exactly N frames and scrubbing past the end
keeps going round.

Keys go into actions tagged ``oneshot3d``: one on the camera object (location, rotation) and
one on its camera data (lens, and lens shift for the SHIFT pivot). Re-running removes the
tagged actions first, so animations are replaced, never stacked. How F-curves are reached
differs between Blender versions (operators.compat).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, cast

import bpy
import numpy as np
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..panels.animation import EASING_ITEMS, PIVOT_ITEMS, PRESET_ITEMS
from . import compat
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.trajectories import Trajectory

ACTION_TAG = "oneshot3d"
# The camera's pose and lens before the first animation: the trajectory's rest pose.
REST_LENS = "oneshot3d_rest_lens"
REST_SHIFT = "oneshot3d_rest_shift"
KEN_BURNS_GRID = 96  # long side of the disparity image Ken Burns plans on


def find_photo(context: bpy.types.Context, name: str = "") -> bpy.types.Object | None:
    """The 3D photo to work on: ``name``, else the active object (or the photo whose camera is
    active), else the photo whose camera is the scene camera, else the first in the scene."""
    scene = context.scene

    def is_photo(obj: Any) -> bool:
        props = getattr(obj, "oneshot3d", None)
        return bool(obj is not None and props is not None and props.is_photo)

    if name:
        obj = bpy.data.objects.get(name)
        return obj if is_photo(obj) else None
    photos = [o for o in scene.objects if is_photo(o)]
    active = context.view_layer.objects.active if context.view_layer else None
    if is_photo(active):
        return active
    for cam in (active, scene.camera):
        if cam is not None and cam.type == "CAMERA":
            for photo in photos:
                if photo.oneshot3d.camera == cam:  # type: ignore[attr-defined]
                    return photo
    return photos[0] if photos else None


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


def _vertices(photo: bpy.types.Object, front_only: bool) -> np.ndarray:
    """The photo mesh's vertices (N, 3), only layer 0 (the photo's own pixels) if asked."""
    mesh = cast(bpy.types.Mesh, photo.data)
    n = len(mesh.vertices)
    co = np.empty(n * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    pts = co.reshape(-1, 3).astype(np.float64)
    if front_only and n and "layer" in mesh.attributes:
        layer = np.empty(n, np.int32)
        mesh.attributes["layer"].data.foreach_get("value", layer)  # type: ignore[attr-defined]
        pts = pts[layer == 0]
    return pts


def disparity_image(photo: bpy.types.Object, camera: bpy.types.Object) -> np.ndarray | None:
    """A small disparity image of the photo's front layer, seen from the rest camera (for the
    Ken Burns planner, which looks for the salient near region)."""
    from ..pipeline.trajectories import splat_disparity

    scene = bpy.context.scene
    cam_data = cast(bpy.types.Camera, camera.data)
    disp = splat_disparity(
        _vertices(photo, front_only=True),
        scene.render.resolution_x,
        scene.render.resolution_y,
        math.tan(cam_data.angle / 2.0),
        KEN_BURNS_GRID,
    )
    return disp if disp.max() > 0 else None


def dolly_limit(photo: bpy.types.Object, focus: float, fov: float) -> float:
    """The largest dolly-zoom amplitude whose frames stay inside the (extended) scene."""
    from ..pipeline.trajectories import dolly_zoom_limit

    scene = bpy.context.scene
    w, h = scene.render.resolution_x, scene.render.resolution_y
    tan_long = math.tan(math.radians(fov) / 2.0)
    tan_half = (tan_long * w / max(w, h), tan_long * h / max(w, h))
    return dolly_zoom_limit(_vertices(photo, front_only=False), focus, tan_half)


def photo_safe_motion(photo: bpy.types.Object) -> dict[str, float] | None:
    """The photo's safe camera moves per direction (Blender units), None when not known."""
    from ..pipeline.mesh_data import SAFE_MOTION_KEYS

    values = list(photo.oneshot3d.safe_motion)  # type: ignore[attr-defined]
    if min(values) < 0:
        return None
    return dict(zip(SAFE_MOTION_KEYS, values, strict=True))


def safe_amplitude(photo: bpy.types.Object, traj: "Trajectory", amplitude: float) -> float | None:
    """The largest amplitude of this path that shows no holes on this photo (same unit as
    ``amplitude``), None when the photo does not know its safe moves."""
    from ..pipeline.reveal import covered_fraction

    safe = photo_safe_motion(photo)
    if safe is None:
        return None
    return amplitude * covered_fraction(safe, traj.locations)


def build_trajectory(
    photo: bpy.types.Object,
    preset: str,
    frames: int,
    amplitude: float | None = None,
    loop: bool = True,
    focus_depth: float | None = None,
    easing: str | None = None,
    pivot: str = "ROTATE",
    crop_to_photo: bool = True,
    keyframes: list[Any] | None = None,
) -> "Trajectory":
    """The trajectory for ``photo``'s camera; raises pipeline SettingsError on bad settings."""
    from ..pipeline.trajectories import make_trajectory

    camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
    cam_data = cast(bpy.types.Camera, camera.data)
    base_lens = float(camera.get(REST_LENS, cam_data.lens))
    # Field of view across the long side at the rest lens (sensor fit AUTO).
    fov = math.degrees(2.0 * math.atan(cam_data.sensor_width / (2.0 * base_lens)))
    focus = float(focus_depth or photo.oneshot3d.focus_depth or 1.0)  # type: ignore[attr-defined]
    disparity = disparity_image(photo, camera) if preset == "KEN_BURNS" else None
    near = 1.0 / float(disparity.max()) if disparity is not None else None
    limit = dolly_limit(photo, focus, fov) if preset == "DOLLY_ZOOM" else None
    traj = make_trajectory(
        preset,
        frames,
        amplitude,
        loop,
        focus,
        easing,
        keyframes if preset == "CUSTOM" else None,
        pivot=pivot,
        include_end=loop,
        disparity=disparity,
        near_depth=near,
        fov_degrees=fov,
        max_amplitude=limit,
    )
    if crop_to_photo:
        scene = bpy.context.scene
        traj = traj.cropped_to_photo(scene.render.resolution_x, scene.render.resolution_y, fov)
    return traj


def animate_photo(
    context: bpy.types.Context,
    photo: bpy.types.Object,
    preset: str,
    frames: int,
    amplitude: float | None = None,
    loop: bool = True,
    **kwargs: Any,
) -> "Trajectory":
    """Build the trajectory, key the photo's camera, make it the scene camera and set the
    scene's frame range to the clip (frame N of a loop is left out: it equals the first)."""
    traj = build_trajectory(photo, preset, frames, amplitude, loop, **kwargs)
    if amplitude is None and preset not in ("CUSTOM", "KEN_BURNS"):
        # The preset's default amplitude, but never past what this photo can show without
        # holes (a photo whose nearest surface is far nearer than its median would otherwise
        # swing its foreground across the frame).
        from ..pipeline.trajectories import DEFAULT_AMPLITUDES

        default = DEFAULT_AMPLITUDES[preset]
        limit = safe_amplitude(photo, traj, default)
        if limit is not None and limit < default:
            traj = build_trajectory(photo, preset, frames, limit, loop, **kwargs)
    camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
    scene = context.scene
    apply_trajectory(camera, traj, scene.frame_start)
    scene.camera = camera
    scene.frame_end = scene.frame_start + frames - 1
    scene.frame_set(scene.frame_start)
    return traj


class ONESHOT3D_OT_animate_camera(bpy.types.Operator):
    """Keyframe the 3D photo's camera along a preset path (replaces its previous animation)"""

    bl_idname = "oneshot3d.animate_camera"
    bl_label = "Animate Camera"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="SWING")
    amplitude: FloatProperty(
        name="Amplitude",
        description="Fraction of the focus distance (0 = the preset's default, limited to the "
        "photo's safe camera move)",
        default=0.0,
        min=0.0,
        max=100.0,
        soft_max=0.3,
        precision=3,
    )
    frames: IntProperty(name="Frames", default=90, min=2, max=1_000_000)
    loop: BoolProperty(name="Loop", default=True)
    easing: EnumProperty(name="Easing", items=EASING_ITEMS, default="AUTO")
    pivot: EnumProperty(name="Pivot", items=PIVOT_ITEMS, default="ROTATE")
    focus_depth: FloatProperty(
        name="Focus Depth",
        description="Distance of the point that stays still (0 = the photo's focus depth)",
        default=0.0,
        min=0.0,
    )
    crop_to_photo: BoolProperty(name="Stay Inside Photo", default=True)
    keyframes_json: StringProperty(name="Keyframes", description="Custom preset: JSON list")
    object_name: StringProperty(
        name="Photo", description="The 3D photo object (empty = active or scene camera's photo)"
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return find_photo(context) is not None

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.errors import PipelineError, SettingsError

        photo = find_photo(context, self.object_name)
        if photo is None or photo.oneshot3d.camera is None:  # type: ignore[attr-defined]
            self.report({"ERROR"}, f"No 3D photo with a camera found ({self.object_name!r})")
            return {"CANCELLED"}
        keyframes = None
        if self.preset == "CUSTOM":
            try:
                keyframes = json.loads(self.keyframes_json or "[]")
            except ValueError as e:
                self.report({"ERROR"}, f"Keyframes: not valid JSON ({e})")
                return {"CANCELLED"}
        try:
            traj = animate_photo(
                context,
                photo,
                self.preset,
                self.frames,
                self.amplitude or None,
                self.loop,
                focus_depth=self.focus_depth or None,
                easing=None if self.easing == "AUTO" else self.easing,
                pivot=self.pivot,
                crop_to_photo=self.crop_to_photo,
                keyframes=keyframes,
            )
        except (PipelineError, SettingsError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            f"{traj.preset.title()}: {self.frames} frames, {traj.parallax_degrees:.1f} deg parallax",
        )
        # The default amplitude is already limited to the safe one (animate_photo); a chosen
        # one is kept as chosen, with a warning.
        amplitude = self.amplitude
        limit = (
            safe_amplitude(photo, traj, amplitude)
            if amplitude and self.preset != "CUSTOM"
            else None
        )
        if limit is not None and limit < amplitude:
            self.report(
                {"WARNING"},
                f"{traj.preset.title()} amplitude {amplitude:.3g} is beyond this photo's safe "
                f"{limit:.3g}: holes may show behind outlines; lower the amplitude to {limit:.3g}",
            )
        return {"FINISHED"}


def depth_along_camera(
    context: bpy.types.Context,
    camera: bpy.types.Object,
    origin: Any,
    direction: Any,
) -> float | None:
    """Distance along the camera's view axis of the first surface hit by the ray, or None."""
    depsgraph = context.evaluated_depsgraph_get()
    hit, location, _normal, _index, _obj, _matrix = context.scene.ray_cast(
        depsgraph, origin, direction
    )
    if not hit:
        return None
    cam_matrix = camera.matrix_world
    forward = -(cam_matrix.to_3x3() @ type(location)((0.0, 0.0, 1.0))).normalized()
    depth = float((location - cam_matrix.translation).dot(forward))
    return depth if depth > 0 else None


class ONESHOT3D_OT_pick_focus(bpy.types.Operator):
    """Set the focus depth (the point that stays still) from the photo: click a point in the
    viewport, or take the depth at the image centre"""

    bl_idname = "oneshot3d.pick_focus"
    bl_label = "Pick Focus Depth"
    bl_options = {"REGISTER", "UNDO"}

    mode: EnumProperty(
        name="Mode",
        items=(
            ("CENTER", "Image Centre", "The depth at the centre of the photo"),
            ("CLICK", "Click", "Click a point of the photo in the viewport"),
        ),
        default="CENTER",
    )
    object_name: StringProperty(name="Photo")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return find_photo(context) is not None

    def _set(self, context: bpy.types.Context, depth: float | None) -> OperatorResult:
        photo = find_photo(context, self.object_name)
        if photo is None or depth is None:
            self.report({"WARNING"}, "No surface of the photo there; focus depth unchanged")
            return {"CANCELLED"}
        photo.oneshot3d.focus_depth = depth  # type: ignore[attr-defined]
        self.report({"INFO"}, f"Focus depth {depth:.4g}")
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        photo = find_photo(context, self.object_name)
        if photo is None or photo.oneshot3d.camera is None:  # type: ignore[attr-defined]
            self.report({"ERROR"}, "No 3D photo with a camera found")
            return {"CANCELLED"}
        camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
        m = camera.matrix_world
        direction = (m.to_3x3() @ type(m.translation)((0.0, 0.0, -1.0))).normalized()
        return self._set(context, depth_along_camera(context, camera, m.translation, direction))

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorResult:
        if self.mode == "CENTER" or context.area is None or context.area.type != "VIEW_3D":
            return self.execute(context)
        context.window.cursor_modal_set("EYEDROPPER")
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set(
            "Click a point of the 3D photo; Esc / right-click cancels"
        )
        return {"RUNNING_MODAL"}

    def _finish(self, context: bpy.types.Context) -> None:
        context.window.cursor_modal_restore()
        context.workspace.status_text_set(None)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorResult:
        if event.type in {"ESC", "RIGHTMOUSE"}:
            self._finish(context)
            return {"CANCELLED"}
        if event.type == "LEFTMOUSE" and event.value == "PRESS":
            from bpy_extras import view3d_utils

            self._finish(context)
            region, rv3d = context.region, context.region_data
            photo = find_photo(context, self.object_name)
            if region is None or rv3d is None or photo is None:
                return {"CANCELLED"}
            coord = (event.mouse_region_x, event.mouse_region_y)
            origin = view3d_utils.region_2d_to_origin_3d(region, rv3d, coord)
            direction = view3d_utils.region_2d_to_vector_3d(region, rv3d, coord)
            camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
            return self._set(context, depth_along_camera(context, camera, origin, direction))
        return {"RUNNING_MODAL"}


classes = (ONESHOT3D_OT_animate_camera, ONESHOT3D_OT_pick_focus)
