"""Operators: import a photo as a 3D photo, and the headless entry points."""

from . import import_photo

classes = (import_photo.ONESHOT3D_OT_import_photo,)


def register() -> None:
    pass


def unregister() -> None:
    pass
