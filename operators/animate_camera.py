"""Animate Camera (keyframe a 3D photo's camera along a preset path: blender.camera_moves,
blender.keyframes) and Pick Focus Depth (from the photo's surface)."""

from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..blender.camera_moves import animate_photo, safe_amplitude
from ..blender.options import (
    AMPLITUDE_RANGE,
    AMPLITUDE_SOFT_MAX,
    DEFAULT_FRAMES,
    FRAMES_RANGE,
)
from ..blender.photo import depth_along_camera, find_photo
from ..pipeline.motion.vocabulary import EASING_ITEMS, PIVOT_ITEMS, PRESET_ITEMS
from .typing_helpers import OperatorResult


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
        min=AMPLITUDE_RANGE[0],
        max=AMPLITUDE_RANGE[1],
        soft_max=AMPLITUDE_SOFT_MAX,
        precision=3,
    )
    frames: IntProperty(
        name="Frames", default=DEFAULT_FRAMES, min=FRAMES_RANGE[0], max=FRAMES_RANGE[1]
    )
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
