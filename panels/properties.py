"""Per-object settings of a 3D photo, saved in the .blend with the object."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, PointerProperty, StringProperty

DEPTH_KIND_ITEMS = (
    ("DEPTH", "Depth", "Distance along the camera axis (near is small / dark)"),
    ("DISPARITY", "Disparity", "Inverse depth (near is large / bright)"),
)


class OneShot3DPhotoSettings(bpy.types.PropertyGroup):
    """What a 3D photo object was built from, so it can be rebuilt and animated."""

    is_photo: bpy.props.BoolProperty(default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    source_filepath: StringProperty(name="Photo", subtype="FILE_PATH")
    depth_filepath: StringProperty(name="Depth Map", subtype="FILE_PATH")
    depth_kind: EnumProperty(name="Depth Kind", items=DEPTH_KIND_ITEMS, default="DISPARITY")
    depth_threshold: FloatProperty(name="Depth Threshold", default=0.04, min=0.001, max=1.0)
    depth_scale: FloatProperty(name="Depth Scale", default=1.0, min=1e-6, max=1e6)
    fov: FloatProperty(name="Field of View", default=0.0, min=0.0, max=170.0)
    # Median camera-axis distance of the scene: the default focus for camera animations.
    focus_depth: FloatProperty(name="Focus Depth", default=1.0, min=0.0)
    camera: PointerProperty(name="Camera", type=bpy.types.Object)


classes = (OneShot3DPhotoSettings,)


def register() -> None:
    bpy.types.Object.oneshot3d = PointerProperty(type=OneShot3DPhotoSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.Object.oneshot3d  # type: ignore[attr-defined]
