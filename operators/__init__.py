"""Operators: import a photo as a 3D photo, and the headless entry points."""

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
