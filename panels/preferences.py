"""Add-on preferences: model folder, device, the vendored environment, default settings."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import EnumProperty, StringProperty

from ..pipeline.settings import DEVICE_CHOICES
from .properties import NETWORK_BACKEND_ITEMS, setting_annotations

ROOT_PACKAGE = __package__.rpartition(".")[0]

# The pipeline's device names, upper case as saved in existing preferences.
DEVICE_ITEMS = tuple((ident.upper(), label, desc) for ident, label, desc in DEVICE_CHOICES)


DEFAULT_BACKEND_ITEMS = (
    (
        "AUTO",
        "Automatic",
        "Depth Anything V2 Small when PyTorch is installed, else Tiefenrausch without PyTorch "
        "(works right after installing the extension)",
    ),
    *NETWORK_BACKEND_ITEMS,
)


def _variant_items(self: object, context: object) -> list[tuple[str, str, str]]:
    from ..pipeline.runtime.vendor import available_variants

    # Enum callbacks must keep their strings alive: a module-level cache does that.
    global _VARIANT_CACHE
    _VARIANT_CACHE = [(v.key, v.label, v.description) for v in available_variants()]
    return _VARIANT_CACHE


_VARIANT_CACHE: list[tuple[str, str, str]] = []


class ONESHOT3D_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    model_dir: StringProperty(
        name="Model Folder",
        description=(
            "Where depth models are looked for and downloaded to; empty = the extension's "
            "user folder (models/)"
        ),
        subtype="DIR_PATH",
    )
    device: EnumProperty(
        name="Device",
        description="Where the depth network runs (in the worker process, never in Blender)",
        items=DEVICE_ITEMS,
        default="CPU",
    )
    torch_variant: EnumProperty(
        name="torch Build",
        description="Which build of torch 'Install Dependencies' installs",
        items=_variant_items,
    )
    default_depth_backend: EnumProperty(
        name="Default Depth Backend",
        description="Used when a photo is imported without a depth map (e.g. dropped in)",
        items=DEFAULT_BACKEND_ITEMS,
        default="AUTO",
    )
    # Filled by "Status" (the worker's probe), shown below: never computed while drawing.
    status_text: StringProperty(name="Status", default="Press Status to check")

    def draw(self, context: bpy.types.Context) -> None:
        from ..pipeline.runtime.vendor import status

        layout = self.layout
        layout.use_property_split = True
        col = layout.column(heading="Depth")
        col.prop(self, "model_dir")
        col.prop(self, "device")
        col.prop(self, "default_depth_backend")
        col.prop(self, "default_depth_threshold")
        self.draw_backends(context, layout.box())

        box = layout.box()
        box.label(text="Dependencies (torch, installed into the extension's user folder)")
        try:
            root = bpy.utils.extension_path_user(ROOT_PACKAGE, create=False)
            env = status(root, measure_size=False)
            box.label(
                text=f"Installed: {env.summary()}", icon="CHECKMARK" if env.installed else "ERROR"
            )
        except (OSError, ValueError) as e:
            box.label(text=f"Unknown ({e})", icon="ERROR")
        box.label(text=self.status_text, icon="INFO")
        box.prop(self, "torch_variant")
        row = box.row()
        if not bpy.app.online_access:
            box.label(
                text="Online access is off (System > Network): installing is disabled",
                icon="INTERNET_OFFLINE",
            )
        sub = row.row()
        sub.enabled = bool(bpy.app.online_access)
        op = sub.operator("oneshot3d.install_dependencies", icon="IMPORT")
        op.variant = self.torch_variant
        row.operator("oneshot3d.remove_dependencies", icon="TRASH")
        row.operator("oneshot3d.dependency_status", icon="INFO")
        job = context.window_manager.oneshot3d_job  # type: ignore[attr-defined]
        if job.running:
            box.progress(factor=job.fraction, text=job.message)

    def draw_backends(self, context: bpy.types.Context, box: bpy.types.UILayout) -> None:
        box.label(text="Depth networks")
        for text, icon in backend_rows(context):
            box.label(text=text, icon=icon)  # type: ignore[arg-type]  # one of three icons


def backend_rows(context: bpy.types.Context) -> list[tuple[str, str]]:
    """(text, icon) per depth network: whether it works now and what it needs. A path lookup
    for torch and a size check of the model files: cheap enough for every redraw."""
    from ..blender.extension import model_folder, vendor_folder
    from ..pipeline.depth.availability import backend_status, default_network, torch_installed

    vendor = vendor_folder()
    torch = torch_installed([vendor] if vendor else [])
    online = bool(bpy.app.online_access)
    auto = default_network(torch)
    folder = model_folder(context)  # the worker's model folder and download cache
    rows = []
    for name, _label, _desc in NETWORK_BACKEND_ITEMS:
        state = backend_status(name, torch, model_dir=str(folder), cache_dir=folder)
        icon = "CHECKMARK" if state.ready else "IMPORT" if state.usable(online) else "ERROR"
        suffix = " (Automatic picks this)" if name == auto else ""
        rows.append((state.summary(online) + suffix, icon))
    return rows


def _as_default(name: str) -> Any:
    """The per-photo property ``name`` (same range and default as the import's), named and
    described as the default for new imports that do not set it."""
    deferred = setting_annotations()[name]
    keywords = dict(deferred.keywords)
    keywords["name"] = "Default " + keywords["name"]
    keywords["description"] = "For new imports that do not set it. " + keywords["description"]
    return deferred.function(**keywords)


ONESHOT3D_AP_preferences.__annotations__["default_depth_threshold"] = _as_default("depth_threshold")

classes = (ONESHOT3D_AP_preferences,)
