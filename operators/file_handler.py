"""Drag and drop: a photo dropped into the 3D viewport is imported as a 3D photo.

Blender (4.1+) calls the import operator's invoke with ``filepath`` set; the operator then
runs at once with its automatic depth (the preferred depth backend), and its settings stay
adjustable in the redo panel.
"""

from __future__ import annotations

import bpy

from ..pipeline.io.formats import PHOTO_SUFFIXES


class ONESHOT3D_FH_photo(bpy.types.FileHandler):
    bl_idname = "ONESHOT3D_FH_photo"
    bl_label = "3D Photo"
    bl_import_operator = "oneshot3d.import_photo"
    bl_file_extensions = ";".join(PHOTO_SUFFIXES)

    @classmethod
    def poll_drop(cls, context: bpy.types.Context | None) -> bool:
        return context is not None and context.area is not None and context.area.type == "VIEW_3D"


classes = (ONESHOT3D_FH_photo,) if hasattr(bpy.types, "FileHandler") else ()
