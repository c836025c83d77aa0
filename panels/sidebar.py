"""View3D > Sidebar > 3D Photo: the active 3D photo's settings and "Rebuild"."""

from __future__ import annotations

import bpy

from ..blender.photo import is_photo
from ..pipeline.settings import PHOTO_SETTINGS, SETTINGS


def active_photo(context: bpy.types.Context) -> bpy.types.Object | None:
    obj = context.active_object
    return obj if is_photo(obj) else None


class ONESHOT3D_PT_photo(bpy.types.Panel):
    bl_label = "3D Photo"
    bl_idname = "ONESHOT3D_PT_photo"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "3D Photo"
    bl_order = 0

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        job = context.window_manager.oneshot3d_job  # type: ignore[attr-defined]
        if job.running:
            layout.progress(factor=job.fraction, text=job.message or "Working")
            layout.label(text="Esc cancels", icon="CANCEL")
        obj = active_photo(context)
        if obj is None:
            layout.label(text="Select a 3D photo, or import one:", icon="INFO")
            layout.operator("oneshot3d.import_photo", icon="IMAGE_DATA")
            return
        props = obj.oneshot3d  # type: ignore[attr-defined]
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column()
        col.prop(props, "source_filepath")
        col.prop(props, "depth_backend")
        if props.depth_backend == "FILE":
            col.prop(props, "depth_filepath")
            col.prop(props, "depth_kind")
        col.prop(props, "fov")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = not job.running
        row.operator("oneshot3d.rebuild_photo", icon="FILE_REFRESH")


class ONESHOT3D_PT_photo_geometry(bpy.types.Panel):
    bl_label = "Geometry and Layers"
    bl_idname = "ONESHOT3D_PT_photo_geometry"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "3D Photo"
    bl_parent_id = "ONESHOT3D_PT_photo"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return active_photo(context) is not None

    def draw(self, context: bpy.types.Context) -> None:
        obj = active_photo(context)
        assert obj is not None
        props = obj.oneshot3d  # type: ignore[attr-defined]
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        for group in ("geometry", "ldi"):
            col = layout.column()
            for name in PHOTO_SETTINGS:
                if SETTINGS[name].group == group:
                    col.prop(props, name)
        layout.label(text="Rebuild reuses the estimated depth", icon="INFO")


classes = (ONESHOT3D_PT_photo, ONESHOT3D_PT_photo_geometry)
