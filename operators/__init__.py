"""Operators (Operator and FileHandler classes only; what they do lives in blender/ and
pipeline/): import, rebuild, animate, render, dependencies, drag and drop, the command line."""

from . import animate_camera, cli_command, file_handler, import_photo, install_deps, rebuild, render

classes = (
    import_photo.ONESHOT3D_OT_import_photo,
    *rebuild.classes,
    *install_deps.classes,
    *file_handler.classes,
    *animate_camera.classes,
    *render.classes,
)


def register() -> None:
    cli_command.register()


def unregister() -> None:
    cli_command.unregister()
