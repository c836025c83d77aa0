"""Menu entries, appended and removed symmetrically."""

from __future__ import annotations

import bpy


def menu_func_import(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.operator("oneshot3d.import_photo", text="3D Photo (.jpg, .png, .tif, .webp)")


MENUS = ((bpy.types.TOPBAR_MT_file_import, menu_func_import),)


def register() -> None:
    for menu, func in MENUS:
        menu.append(func)  # type: ignore[arg-type]  # Blender calls func(self, context)


def unregister() -> None:
    for menu, func in reversed(MENUS):
        menu.remove(func)  # type: ignore[arg-type]
