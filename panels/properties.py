"""Per-object settings of a 3D photo, saved in the .blend with the object, and the property
definitions the import operator, the sidebar and the preferences share.

Every ``PipelineSettings`` field an artist tunes per photo is generated from the pipeline's
settings table (``pipeline.settings.SETTINGS``: label, description, default, range or
choices, sidebar group): ``setting_annotations()`` turns it into bpy properties for the
operator (redo panel) and the PropertyGroup (sidebar), and ``settings_dict()`` reads them back
into keyword arguments for ``PipelineSettings.from_keywords``, so the pipeline never refuses a
value a slider offers.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..pipeline.settings import PHOTO_SETTINGS, SETTINGS, default, field_type


def _backend_items() -> tuple[tuple[str, str, str], ...]:
    """AUTO + FILE + every registered network backend. Importing pipeline.depth registers
    them without importing torch (measured: ~0.2 s, numpy and OpenCV only)."""
    from ..pipeline.depth import BACKENDS

    items = [
        ("AUTO", "Automatic", "Depth from file when one is given, else the preferred backend"),
        ("FILE", "Depth from file", "Read depth or disparity from .npy, PNG, TIFF or EXR"),
    ]
    for name, backend in sorted(BACKENDS.items()):
        if backend.models:  # a network (FILE has no model files)
            needs = "needs PyTorch" if backend.needs_torch else "no PyTorch needed"
            if backend.needs_package == "onnxruntime":
                needs += "; ONNX Runtime, which the extension bundles"
            desc = f"Estimate depth with {backend.label} ({backend.licence}; {needs})"
            items.append((name, backend.label, desc))
    return tuple(items)


DEPTH_BACKEND_ITEMS = _backend_items()
NETWORK_BACKEND_ITEMS = tuple(i for i in DEPTH_BACKEND_ITEMS if i[0] not in ("AUTO", "FILE"))

# Fields of PipelineSettings that are deliberately not per-photo properties: the import's
# inputs, the preferences' model folder and device, extras for scripts.
NOT_PROPERTIES = set(SETTINGS) - set(PHOTO_SETTINGS)


def is_enum_of_ints(name: str) -> bool:
    """An int setting offered as a list (median window, block size): Blender's enum
    identifiers are strings, converted back when read."""
    return field_type(name) == "int" and bool(SETTINGS[name].choices)


def setting_annotations() -> dict[str, Any]:
    """bpy property definitions for every per-photo setting (fresh objects per call)."""
    out: dict[str, Any] = {}
    for name in PHOTO_SETTINGS:
        spec = SETTINGS[name]
        value = default(name)
        desc = spec.description + (f" ({spec.hint})" if spec.hint else "")
        if spec.choices:
            out[name] = EnumProperty(
                name=spec.label, description=desc, items=spec.choices, default=str(value)
            )
        elif field_type(name) == "float":
            assert spec.range is not None, name
            lo, hi = spec.range
            out[name] = FloatProperty(
                name=spec.label,
                description=desc,
                default=float(value),
                min=lo,
                max=hi,
                soft_max=min(hi, 100.0),
                precision=spec.precision,
                step=spec.step,
            )
        else:
            assert spec.range is not None, name
            out[name] = IntProperty(
                name=spec.label,
                description=desc,
                default=int(value),
                min=int(spec.range[0]),
                max=int(spec.range[1]),
            )
    return out


def settings_dict(owner: Any) -> dict[str, Any]:
    """The per-photo settings of an operator or PropertyGroup as PipelineSettings keywords
    (enum identifiers converted back to ints where the field is an int)."""
    return {
        name: int(getattr(owner, name)) if is_enum_of_ints(name) else getattr(owner, name)
        for name in PHOTO_SETTINGS
    }


def store_settings(owner: Any, settings: Any) -> None:
    """Write PipelineSettings' per-photo fields onto an operator or PropertyGroup."""
    for name in PHOTO_SETTINGS:
        value = getattr(settings, name)
        if SETTINGS[name].choices:
            value = str(value)
            if value not in SETTINGS[name].ids:
                continue  # e.g. a file: inpainter from a script: keep the property's value
        setattr(owner, name, value)


class OneShot3DPhotoSettings(bpy.types.PropertyGroup):
    """What a 3D photo object was built from, so it can be rebuilt and animated."""

    is_photo: BoolProperty(default=False, options={"HIDDEN"})
    source_filepath: StringProperty(name="Photo", subtype="FILE_PATH")
    depth_filepath: StringProperty(name="Depth Map", subtype="FILE_PATH")
    depth_backend: EnumProperty(
        name="Depth", items=DEPTH_BACKEND_ITEMS[1:], default="FILE"
    )  # AUTO is resolved at import time
    material: StringProperty(name="Material", default="EMISSION", options={"HIDDEN"})
    # Median camera-axis distance of the scene: the default focus for camera animations.
    focus_depth: FloatProperty(name="Focus Depth", default=1.0, min=0.0)
    camera: PointerProperty(name="Camera", type=bpy.types.Object)
    # Largest camera moves without holes (Blender units), camera moving right, left, up, down
    # (pipeline.ldi.reveal); negative = not known (baseline meshes, older files).
    safe_motion: FloatVectorProperty(
        name="Safe Camera Move", size=4, default=(-1.0, -1.0, -1.0, -1.0), options={"HIDDEN"}
    )


OneShot3DPhotoSettings.__annotations__.update(setting_annotations())


class OneShot3DJobState(bpy.types.PropertyGroup):
    """The running job's progress, on the window manager, so panels can draw it."""

    running: BoolProperty(default=False)
    fraction: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(default="")
    # Backend calls of the last finished job (the depth cache's hits / misses), for tests
    # and the sidebar's "depth reused" note.
    depth_cache_hits: IntProperty(default=0)
    depth_cache_misses: IntProperty(default=0)


classes = (OneShot3DPhotoSettings, OneShot3DJobState)


def register() -> None:
    bpy.types.Object.oneshot3d = PointerProperty(type=OneShot3DPhotoSettings)  # type: ignore[attr-defined]
    bpy.types.WindowManager.oneshot3d_job = PointerProperty(type=OneShot3DJobState)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.WindowManager.oneshot3d_job  # type: ignore[attr-defined]
    del bpy.types.Object.oneshot3d  # type: ignore[attr-defined]
