"""Properties, menus, panels and preferences (the Blender UI layer)."""

from . import animation, menus, properties

classes = (*properties.classes, *animation.classes)


def register() -> None:
    properties.register()
    menus.register()
    animation.register()


def unregister() -> None:
    animation.unregister()
    menus.unregister()
    properties.unregister()
