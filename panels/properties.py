"""Per-object settings of a 3D photo, saved in the .blend with the object, and the property
definitions the import operator, the sidebar and the preferences share.

Every ``PipelineSettings`` field an artist may tune is declared once in ``SETTING_SPECS``
(label, precision, sidebar group; ranges come from ``pipeline.settings.RANGES``);
``setting_annotations()`` turns that into bpy properties for the
operator (redo panel) and the PropertyGroup (sidebar), and ``settings_dict()`` reads them
back into keyword arguments for ``PipelineSettings.from_keywords``. Defaults come from the
dataclass itself, ranges from ``RANGES`` and descriptions from its validation hints, so the
pipeline never refuses a value a slider offers.
"""

from __future__ import annotations

import dataclasses
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

from ..pipeline.settings import RANGES, RULES, PipelineSettings

DEPTH_KIND_ITEMS = (
    ("DEPTH", "Depth", "Distance along the camera axis (near is small / dark)"),
    ("DISPARITY", "Disparity", "Inverse depth (near is large / bright)"),
    (
        "RELATIVE_DISPARITY",
        "Relative Disparity",
        "Inverse depth up to scale and shift, as depth networks (MiDaS, Depth Anything) give "
        "it; may be negative in the distance. Shifted so the farthest point is at the far clamp",
    ),
)


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
            desc = f"Estimate depth with {backend.label} ({backend.licence}; {needs})"
            items.append((name, backend.label, desc))
    return tuple(items)


DEPTH_BACKEND_ITEMS = _backend_items()
NETWORK_BACKEND_ITEMS = tuple(i for i in DEPTH_BACKEND_ITEMS if i[0] not in ("AUTO", "FILE"))

MESH_MODE_ITEMS = (
    ("LDI", "Layered (LDI)", "Background grown and inpainted behind foreground edges"),
    ("TORN", "Torn", "One layer cut at depth edges: holes appear when the camera moves"),
    ("RUBBER", "Rubber sheet", "One layer, never cut: edges stretch"),
)
MEDIAN_SIZE_ITEMS = (
    ("0", "Off", "No median filter"),
    ("3", "3 x 3", ""),
    ("5", "5 x 5", "As in the paper"),
    ("7", "7 x 7", ""),
    ("9", "9 x 9", ""),
)
INPAINTER_ITEMS = (
    ("pushpull", "Push-pull", "Smooth fill from the background context (fast, default)"),
    ("telea", "Telea", "OpenCV fast marching"),
    ("fsr", "Frequency selective", "OpenCV frequency selective reconstruction (slow, textured)"),
)
SIMPLIFY_BLOCK_ITEMS = (
    ("0", "Automatic", "8 px below 4 MP, 16 above"),
    ("1", "1 (full detail)", ""),
    ("2", "2", ""),
    ("4", "4", ""),
    ("8", "8", ""),
    ("16", "16", ""),
)


@dataclasses.dataclass(frozen=True)
class SettingSpec:
    label: str
    kind: str  # "float", "int", "enum", "enum_int" (enum whose identifiers are ints)
    items: tuple[tuple[str, str, str], ...] = ()
    precision: int = 3
    step: float = 1.0
    group: str = "geometry"  # "depth", "geometry", "ldi" (how the sidebar groups them)


# Every tunable PipelineSettings field that artists see. filepath / depth_filepath are the
# import's inputs, model_dir / device come from the preferences, extras is for scripts.
SETTING_SPECS: dict[str, SettingSpec] = {
    "depth_kind": SettingSpec("Depth Kind", "enum", items=DEPTH_KIND_ITEMS, group="depth"),
    "fov": SettingSpec("Field of View", "float", precision=2, group="depth"),
    "depth_threshold": SettingSpec("Depth Threshold", "float", step=0.1),
    "depth_scale": SettingSpec("Depth Scale", "float", precision=6, step=10.0),
    "far_ratio": SettingSpec("Far Ratio", "float", precision=1, step=100.0),
    "mesh_mode": SettingSpec("Mesh Mode", "enum", items=MESH_MODE_ITEMS, group="ldi"),
    "median_size": SettingSpec("Median Filter", "enum_int", items=MEDIAN_SIZE_ITEMS, group="ldi"),
    "median_iterations": SettingSpec("Median Passes", "int", group="ldi"),
    "min_edge_length": SettingSpec(
        "Min Edge Length", "float", precision=1, step=100.0, group="ldi"
    ),
    "extension": SettingSpec("Extension Size", "float", step=0.5, group="ldi"),
    "frame_margin": SettingSpec("Frame Margin", "float", step=0.5, group="ldi"),
    "context_band": SettingSpec("Context Band", "float", step=0.5, group="ldi"),
    "ldi_layers": SettingSpec("Layers", "int", group="ldi"),
    "inpainter": SettingSpec("Inpainting", "enum", items=INPAINTER_ITEMS, group="ldi"),
    "simplify_tolerance": SettingSpec(
        "Mesh Detail Tolerance", "float", precision=4, step=0.01, group="ldi"
    ),
    "simplify_block": SettingSpec(
        "Mesh Block Size", "enum_int", items=SIMPLIFY_BLOCK_ITEMS, group="ldi"
    ),
    "geometry_megapixels": SettingSpec(
        "Geometry Limit (MP)", "float", precision=1, step=100.0, group="ldi"
    ),
}

# Fields of PipelineSettings that are deliberately not per-photo properties (see above).
NOT_PROPERTIES = {"filepath", "depth_filepath", "depth_backend", "model_dir", "device", "extras"}

_DESCRIPTIONS = {
    "depth_kind": "What the depth file stores",
    "fov": "Across the longer image side in degrees; 0 = from EXIF, else 53.13",
    "depth_threshold": "Neighbours whose normalised disparity differs by more than this are torn apart",
    "depth_scale": (
        "Depth maps: multiplier on the stored distances. "
        "Disparity maps: distance of the nearest point"
    ),
    "far_ratio": "Disparity maps: the farthest point is at most this many times the nearest",
    "median_size": "Weighted median window that sharpens depth edges",
    "min_edge_length": "Depth-edge pieces shorter than this (pixels at 1024 px) are ignored",
    "extension": "How far background grows behind foreground edges (fraction of the long side)",
    "inpainting": "How the grown background is coloured",
    "simplify_tolerance": "Mesh detail: flat areas are meshed coarsely up to this relative depth error (0 = full resolution)",
    "geometry_megapixels": (
        "Larger photos get their geometry at this many megapixels; the texture keeps the "
        "photo's full resolution"
    ),
}


def _default(name: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(PipelineSettings)}
    return fields[name].default


def setting_annotations() -> dict[str, Any]:
    """bpy property definitions for every field in SETTING_SPECS (fresh objects per call)."""
    out: dict[str, Any] = {}
    for name, spec in SETTING_SPECS.items():
        default = _default(name)
        hint = RULES[name][2] if name in RULES else ""
        desc = _DESCRIPTIONS.get(name, spec.label) + (f" ({hint})" if hint else "")
        if spec.kind == "float":
            lo, hi = RANGES[name]
            out[name] = FloatProperty(
                name=spec.label,
                description=desc,
                default=float(default),
                min=lo,
                max=hi,
                soft_max=min(hi, 100.0) if hi > 100 else hi,
                precision=spec.precision,
                step=spec.step,
            )
        elif spec.kind == "int":
            out[name] = IntProperty(
                name=spec.label,
                description=desc,
                default=int(default),
                min=int(RANGES[name][0]),
                max=int(RANGES[name][1]),
            )
        else:
            out[name] = EnumProperty(
                name=spec.label, description=desc, items=spec.items, default=str(default)
            )
    return out


def settings_dict(owner: Any) -> dict[str, Any]:
    """The SETTING_SPECS fields of an operator or PropertyGroup as PipelineSettings keywords
    (enum identifiers converted back to ints where the field is an int)."""
    out: dict[str, Any] = {}
    for name, spec in SETTING_SPECS.items():
        value = getattr(owner, name)
        out[name] = int(value) if spec.kind == "enum_int" else value
    return out


def store_settings(owner: Any, settings: Any) -> None:
    """Write PipelineSettings' SETTING_SPECS fields onto an operator or PropertyGroup."""
    for name, spec in SETTING_SPECS.items():
        value = getattr(settings, name)
        if spec.kind.startswith("enum"):
            value = str(value)
            if value not in {i[0] for i in spec.items}:
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
    # (pipeline.reveal); negative = not known (baseline meshes, older files).
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
