"""Render > 3D Photo: the Render operator (the rendering itself is blender.render).

In the UI (the panel's button) it starts Blender's Render Animation job and returns at once
(the render window shows progress, Esc cancels; ``RenderWatch`` notes how the job ended and a
modal timer finishes it); in background mode and from scripts it renders synchronously.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..blender.options import (
    DEFAULT_SAMPLES,
    ENGINE_ITEMS,
    FORMAT_ITEMS,
    RESOLUTION_SCALE_RANGE,
    SAMPLES_RANGE,
)
from ..blender.render import (
    RenderWatch,
    begin_animation,
    end_animation,
    nonblocking,
    render_animation,
)
from .typing_helpers import OperatorResult


class ONESHOT3D_OT_render(bpy.types.Operator):
    """Render the 3D photo's camera animation as a video or an image sequence"""

    bl_idname = "oneshot3d.render"
    bl_label = "Render 3D Photo"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Output", default="//render/3dphoto.mp4", subtype="FILE_PATH")
    file_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="MP4")
    engine: EnumProperty(name="Engine", items=ENGINE_ITEMS, default="CYCLES")
    samples: IntProperty(
        name="Samples", default=DEFAULT_SAMPLES, min=SAMPLES_RANGE[0], max=SAMPLES_RANGE[1]
    )
    resolution_scale: FloatProperty(
        name="Resolution %",
        default=100.0,
        min=RESOLUTION_SCALE_RANGE[0],
        max=RESOLUTION_SCALE_RANGE[1],
    )
    stereo: BoolProperty(name="Side-by-Side Stereo", default=False)
    interaxial: FloatProperty(name="Interaxial", default=0.0, min=0.0)

    _watch: RenderWatch | None = None
    _timer: Any = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.scene.camera is not None

    def output_path(self) -> Path:
        path = Path(bpy.path.abspath(self.filepath))
        if self.file_format == "MP4" and path.suffix.lower() != ".mp4":
            path = path.with_suffix(".mp4")
        return path

    def settings(self) -> tuple[str, str, int, float, bool, float]:
        return (
            str(self.file_format),
            str(self.engine),
            int(self.samples),
            float(self.resolution_scale),
            bool(self.stereo),
            float(self.interaxial),
        )

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        """Synchronous: background mode, scripts (EXEC_DEFAULT), redo."""
        path = self.output_path()
        scene = context.scene
        assert scene is not None
        try:
            render_animation(scene, path, *self.settings())
        except (RuntimeError, ValueError, OSError) as e:
            self.report({"ERROR"}, f"Render failed: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Rendered {path}")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorResult:
        """The panel's button: Blender's Render Animation job in the UI, so Blender stays
        responsive and Esc cancels; synchronous in background mode."""
        if not nonblocking(context):
            return self.execute(context)
        scene = context.scene
        assert scene is not None
        try:
            job = begin_animation(scene, self.output_path(), *self.settings())
        except (RuntimeError, ValueError, OSError) as e:
            self.report({"ERROR"}, f"Render failed: {e}")
            return {"CANCELLED"}
        watch = RenderWatch(job)
        try:
            result = watch.start()
        except RuntimeError as e:  # another render is running, no camera, ...
            end_animation(job, completed=False)
            self.report({"ERROR"}, f"Render failed: {e}")
            return {"CANCELLED"}
        self._watch = watch
        if "RUNNING_MODAL" not in result:
            return self._end()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorResult:
        # Everything passes through: Blender's render window handles Esc and shows progress.
        if event.type == "TIMER" and self._watch is not None and not self._watch.running:
            self._remove_timer(context)
            return self._end()
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (file loaded, quitting): restore the scene, no video."""
        self._remove_timer(context)
        if self._watch is not None:
            self._watch.outcome.append("cancel")
            self._watch.finish()
            self._watch = None

    def _remove_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def _end(self) -> OperatorResult:
        watch = self._watch
        assert watch is not None
        self._watch = None
        try:
            completed, path = watch.finish()
        except (RuntimeError, ValueError, OSError) as e:
            self.report({"ERROR"}, f"Render failed: {e}")
            return {"CANCELLED"}
        if not completed:
            self.report({"WARNING"}, "Render cancelled")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Rendered {path}")
        return {"FINISHED"}


classes = (ONESHOT3D_OT_render,)
