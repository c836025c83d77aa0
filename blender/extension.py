"""Where the extension keeps its things (user folder, models, vendored torch), its
preferences, and which depth network a photo without a depth map gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

ROOT_PACKAGE = __package__.rpartition(".")[0]  # "bl_ext.<repo>.oneshot3d"


def user_dir() -> Path:
    """The extension's user folder (vendored environment, models, depth cache)."""
    try:
        return Path(bpy.utils.extension_path_user(ROOT_PACKAGE, create=True))
    except (ValueError, RuntimeError):
        # Loaded from a checkout (scripts/oneshot3d.py) rather than installed: Blender knows
        # no extension of that name, so keep the data beside Blender's user configuration.
        folder = Path(bpy.utils.resource_path("USER")) / "oneshot3d-checkout"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def preferences(context: bpy.types.Context | None = None) -> Any:
    context = context or bpy.context
    addon = context.preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon is not None else None


def model_folder(context: bpy.types.Context | None = None) -> Path:
    """The model folder of the preferences; empty = ``<user dir>/models``."""
    prefs = preferences(context)
    custom = bpy.path.abspath(prefs.model_dir) if prefs is not None and prefs.model_dir else ""
    return Path(custom) if custom else user_dir() / "models"


def vendor_folder() -> Path | None:
    from ..pipeline.runtime.vendor import vendor_dir

    folder = vendor_dir(user_dir())
    return folder if folder.is_dir() else None


def check_models(context: bpy.types.Context, backend: str, model_dir: str | None = None) -> None:
    """Raise ModelError (with the offline hint) when ``backend``'s model files are neither in
    the model folders nor downloadable now; the worker fetches them (the same rule) when they
    can be downloaded. Imports the backend's module, never torch."""
    from ..pipeline.depth.registry import backend_for
    from ..pipeline.errors import ModelError
    from ..pipeline.runtime.models import get_info, resolve_model

    folder = model_folder(context)
    for name in backend_for(backend).models:
        try:
            resolve_model(name, model_dir or str(folder), folder)
        except ModelError as e:
            if bpy.app.online_access and get_info(name).pinned:
                continue  # the worker downloads it
            hint = (
                " Online access is off (Preferences > System > Network, or --online-mode): "
                "allow it to download models, or put the files into the model folder."
                if not bpy.app.online_access
                else ""
            )
            raise ModelError(f"{e}{hint}") from None


def preferred_backend(context: bpy.types.Context) -> str:
    """The preferences' default network; Automatic (the default) is Depth Anything V2 Small
    when PyTorch is installed (vendored or in Blender's Python), else Tiefenrausch run by the
    ONNX Runtime that the extension zip carries (by OpenCV where it has none)."""
    from ..pipeline.depth.availability import default_network, torch_installed

    prefs = preferences(context)
    chosen = prefs.default_depth_backend if prefs is not None else "AUTO"
    if chosen != "AUTO":
        return str(chosen)
    vendor = vendor_folder()
    return default_network(torch_installed([vendor] if vendor else []))
