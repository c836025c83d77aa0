# SPDX-License-Identifier: GPL-3.0-or-later
"""One Shot 3D Photo: turn a single photo into a 3D photo mesh with real parallax.

This module registers and nothing else; heavy imports happen inside operators' execute().
"""

from . import operators, panels

classes = (*panels.classes, *operators.classes)


def register() -> None:
    import bpy

    for cls in classes:
        bpy.utils.register_class(cls)
    panels.register()
    operators.register()


def unregister() -> None:
    import bpy

    operators.unregister()
    panels.unregister()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
