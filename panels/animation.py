"""Camera animation and render settings (per scene) and the sidebar panel that drives them."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..blender.options import (
    AMPLITUDE_RANGE,
    AMPLITUDE_SOFT_MAX,
    DEFAULT_FRAMES,
    DEFAULT_SAMPLES,
    ENGINE_ITEMS,
    FORMAT_ITEMS,
    FRAMES_RANGE,
    RESOLUTION_SCALE_RANGE,
    SAMPLES_RANGE,
)
from ..pipeline.motion.vocabulary import EASING_ITEMS, PIVOT_ITEMS, PRESET_ITEMS


class OneShot3DAnimationSettings(bpy.types.PropertyGroup):
    """What the 3D Photo > Animation panel animates and renders (saved with the scene)."""

    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="SWING")
    amplitude: FloatProperty(
        name="Amplitude",
        description=(
            "How far the camera moves, as a fraction of the focus distance "
            "(0 = the preset's default: 0.04 for Swing)"
        ),
        default=0.0,
        min=AMPLITUDE_RANGE[0],
        max=AMPLITUDE_RANGE[1],
        soft_max=AMPLITUDE_SOFT_MAX,
        step=0.1,
        precision=3,
    )
    frames: IntProperty(
        name="Frames",
        description="Length of the move",
        default=DEFAULT_FRAMES,
        min=FRAMES_RANGE[0],
        max=FRAMES_RANGE[1],
    )
    loop: BoolProperty(
        name="Loop", description="Return to the start so the clip loops seamlessly", default=True
    )
    easing: EnumProperty(name="Easing", items=EASING_ITEMS, default="AUTO")
    pivot: EnumProperty(name="Pivot", items=PIVOT_ITEMS, default="ROTATE")
    crop_to_photo: BoolProperty(
        name="Stay Inside Photo",
        description="Zoom in just enough that no frame shows past the photo's border",
        default=True,
    )
    keyframes_json: StringProperty(
        name="Keyframes",
        description=(
            'Custom preset: JSON list of {"frame": F, "location": [x, y, z]} in units of the '
            "focus distance"
        ),
        default='[{"frame": 0, "location": [-0.04, 0, 0]}, {"frame": 45, "location": [0.04, 0, 0]}]',
    )
    # --- render ----------------------------------------------------------------------------
    engine: EnumProperty(name="Engine", items=ENGINE_ITEMS, default="CYCLES")
    samples: IntProperty(
        name="Samples", default=DEFAULT_SAMPLES, min=SAMPLES_RANGE[0], max=SAMPLES_RANGE[1]
    )
    resolution_scale: FloatProperty(
        name="Resolution %",
        description="Render size as a percentage of the photo's size",
        default=100.0,
        min=RESOLUTION_SCALE_RANGE[0],
        max=RESOLUTION_SCALE_RANGE[1],
        subtype="PERCENTAGE",
    )
    file_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="MP4")
    filepath: StringProperty(
        name="Output",
        description="Video file or image-sequence prefix",
        default="//render/3dphoto.mp4",
        subtype="FILE_PATH",
    )
    stereo: BoolProperty(
        name="Side-by-Side Stereo",
        description="Render left and right eye views side by side (for VR headsets and 3D TVs)",
        default=False,
    )
    interaxial: FloatProperty(
        name="Interaxial",
        description="Distance between the eyes in scene units (0 = a thirtieth of the focus distance)",
        default=0.0,
        min=0.0,
        soft_max=1.0,
        precision=4,
    )


def _draw_safe_motion(layout: bpy.types.UILayout, photo: bpy.types.Object, settings) -> None:
    """How far the camera can move on this photo before holes show, and whether the chosen
    preset stays within it."""
    from ..blender.camera_moves import build_trajectory, safe_amplitude
    from ..blender.photo import photo_safe_motion
    from ..pipeline.motion import DEFAULT_AMPLITUDES

    safe = photo_safe_motion(photo)
    if safe is None:
        return
    focus = float(photo.oneshot3d.focus_depth) or 1.0  # type: ignore[attr-defined]
    layout.label(text=f"Safe move: {100.0 * min(safe.values()) / focus:.1f} % of focus distance")
    if settings.preset in ("CUSTOM", "KEN_BURNS"):
        return
    amplitude = settings.amplitude or DEFAULT_AMPLITUDES[settings.preset]
    try:
        traj = build_trajectory(
            photo, settings.preset, settings.frames, amplitude, settings.loop, crop_to_photo=False
        )
    except Exception:  # noqa: BLE001 - a panel must draw; the operator reports the error
        return
    limit = safe_amplitude(photo, traj, amplitude)
    if limit is None or limit >= amplitude:
        return
    if settings.amplitude:
        layout.label(text=f"Holes beyond amplitude {limit:.3f}", icon="ERROR")
    else:
        layout.label(text=f"Default limited to {limit:.3f} on this photo", icon="INFO")


class ONESHOT3D_PT_animation(bpy.types.Panel):
    bl_label = "Camera Animation"
    bl_idname = "ONESHOT3D_PT_animation"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "3D Photo"

    def draw(self, context: bpy.types.Context) -> None:
        from ..blender.photo import find_photo

        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.oneshot3d_animation  # type: ignore[attr-defined]
        photo = find_photo(context)
        if photo is None:
            layout.label(text="Import a 3D photo first", icon="INFO")
            return
        col = layout.column()
        col.prop(settings, "preset")
        col.prop(settings, "amplitude")
        _draw_safe_motion(col, photo, settings)
        col.prop(settings, "frames")
        col.prop(settings, "loop")
        col.prop(settings, "easing")
        col.prop(settings, "pivot")
        col.prop(settings, "crop_to_photo")
        if settings.preset == "CUSTOM":
            col.prop(settings, "keyframes_json")
        row = col.row(align=True)
        row.prop(photo.oneshot3d, "focus_depth")  # type: ignore[attr-defined]  # panels.properties
        row.operator("oneshot3d.pick_focus", text="", icon="EYEDROPPER").mode = "CLICK"
        row.operator("oneshot3d.pick_focus", text="", icon="PIVOT_BOUNDBOX").mode = "CENTER"
        op = layout.operator("oneshot3d.animate_camera", icon="CAMERA_DATA")
        for name in ("preset", "amplitude", "frames", "loop", "easing", "pivot"):
            setattr(op, name, getattr(settings, name))
        op.crop_to_photo = settings.crop_to_photo
        op.keyframes_json = settings.keyframes_json
        op.object_name = photo.name

        box = layout.box()
        box.label(text="Render")
        box.prop(settings, "engine")
        box.prop(settings, "samples")
        box.prop(settings, "resolution_scale")
        box.prop(settings, "file_format")
        box.prop(settings, "filepath")
        box.prop(settings, "stereo")
        if settings.stereo:
            box.prop(settings, "interaxial")
        op = box.operator("oneshot3d.render", icon="RENDER_ANIMATION")
        for name in (
            "engine",
            "samples",
            "resolution_scale",
            "file_format",
            "filepath",
            "stereo",
            "interaxial",
        ):
            setattr(op, name, getattr(settings, name))


classes = (OneShot3DAnimationSettings, ONESHOT3D_PT_animation)


def register() -> None:
    bpy.types.Scene.oneshot3d_animation = PointerProperty(type=OneShot3DAnimationSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.Scene.oneshot3d_animation  # type: ignore[attr-defined]
