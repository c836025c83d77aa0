"""Properties, menus, panels and preferences (the Blender UI layer)."""

from . import menus, properties

classes = (*properties.classes,)


def register() -> None:
    properties.register()
    menus.register()


def unregister() -> None:
    menus.unregister()
    properties.unregister()
