"""Properties, menus, panels and preferences (the Blender UI layer)."""

from . import animation, menus, preferences, properties, sidebar

classes = (*properties.classes, *preferences.classes, *sidebar.classes, *animation.classes)


def register() -> None:
    properties.register()
    menus.register()
    animation.register()


def unregister() -> None:
    animation.unregister()
    menus.unregister()
    properties.unregister()
