"""Every tunable of the pipeline: one table that everything else is generated from.

``PipelineSettings`` holds each field's type and default. ``SETTINGS`` holds, for every field
(an assertion at import ties its keys to the dataclass), the rest: label, description, range
or choices, the check and the message shown when it fails, the command-line flag and where the
sidebar shows it. From these two come the validation (``PipelineSettings.validate``), the
Blender operator's and PropertyGroup's properties (panels.properties), the preferences'
defaults, and the options of both command lines (pipeline.runtime.cli_options). ``from_keywords``
accepts the operator's ``as_keywords()`` output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError

# Field of view used when neither the user nor EXIF gives one: focal length = max(W, H)
# pixels, i.e. 2*atan(0.5) = 53.13 degrees across the longer side (as in Shih et al. 2020).
DEFAULT_FOV_DEGREES = 53.13010235415598


@dataclass
class PipelineSettings:
    """Plain settings object handed from the Blender operator / CLI down to the pipeline."""

    # --- input -----------------------------------------------------------------------------
    filepath: str = ""
    depth_filepath: str = ""
    depth_kind: str = "DISPARITY"
    # Field of view across the longer image side in degrees; 0 = from EXIF, else the default.
    fov: float = 0.0
    # --- depth estimation (issue: depth backends) ------------------------------------------
    # "FILE" reads depth_filepath; other names are looked up in pipeline.depth's registry.
    depth_backend: str = "FILE"
    model_dir: str = ""
    device: str = "cpu"
    # --- geometry --------------------------------------------------------------------------
    # Neighbours whose normalised disparity (disparity / max disparity) differs by more than
    # this are cut apart.
    depth_threshold: float = 0.04
    # DEPTH maps: multiplier on the stored distances (1 = as stored).
    # DISPARITY maps: distance of the nearest point in Blender units.
    depth_scale: float = 1.0
    # DISPARITY maps only: the farthest point is at most this many times the nearest.
    far_ratio: float = 30.0
    # --- layered depth image (issue 3) -------------------------------------------------------
    # "LDI": layered mesh with background grown and inpainted behind foreground edges;
    # "TORN": single layer cut at discontinuities (holes appear); "RUBBER": single layer, never
    # cut (edges stretch).
    mesh_mode: str = "LDI"
    # Weighted median (colour-guided) that sharpens depth edges: window size (odd, 0 = off)
    # and number of passes.
    median_size: int = 5
    median_iterations: int = 2
    # Depth-edge pieces shorter than this (pixels at a 1024 px long side; scaled with the
    # image) are dropped so that depth noise does not tear the mesh.
    min_edge_length: float = 15.0
    # Background grown behind foreground edges, as a fraction of the longer image side
    # (0.06 = ~60 px at 1000 px).
    extension: float = 0.06
    # Scene extended beyond the photo's frame on every side, fraction of the longer side.
    frame_margin: float = 0.06
    # Width of the background context band the inpainter reads, fraction of the longer side.
    context_band: float = 0.08
    # Number of grown layers (nesting depth: 2 = an object in front of an object in front of
    # a wall).
    ldi_layers: int = 2
    # Inpainter for grown pixels: "pushpull" (default), "telea", "fsr" or "file:PATH" to a
    # TorchScript model (see pipeline.inpaint).
    inpainter: str = "pushpull"
    # Simplification: maximum relative depth error of flat blocks (0 = full resolution) and
    # block size in pixels (0 = automatic: 8 below 4 MP, 16 above).
    simplify_tolerance: float = 0.002
    simplify_block: int = 0
    # Geometry budget: a lattice of at most this many megapixels and, for a network's depth
    # (far fewer samples than the photo), this share of the photo's pixels; the texture keeps
    # the photo's resolution (README, "Big photos": what each costs and changes).
    geometry_megapixels: float = 6.0
    network_geometry_share: float = 0.5
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any]) -> "PipelineSettings":
        """Build from a mapping (operator ``as_keywords()``, argparse namespace vars, JSON),
        ignoring keys that are not pipeline settings, then validate."""
        names = {f.name for f in dataclasses.fields(cls)}
        settings = cls(**{k: v for k, v in keywords.items() if k in names})
        settings.validate()
        return settings

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "PipelineSettings":
        """Raise SettingsError naming every setting that is out of range. A float within a
        float32 rounding of a range end (Blender stores its properties as 32-bit floats) is
        accepted and set to that end."""
        for name in RANGES:
            value = getattr(self, name)
            if isinstance(value, float):
                setattr(self, name, snap_to_range(name, value))
        problems = [
            f"{name} = {getattr(self, name)!r}: {hint}"
            for name, (kind, check, hint) in RULES.items()
            if not (isinstance(getattr(self, name), kind) and check(getattr(self, name)))
        ]
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems))
        return self


Choices = tuple[tuple[str, str, str], ...]  # (identifier, label, description), as Blender's enums

DEPTH_KIND_CHOICES: Choices = (
    ("DEPTH", "Depth", "Distance along the camera axis (near is small / dark)"),
    ("DISPARITY", "Disparity", "Inverse depth (near is large / bright)"),
    (
        "RELATIVE_DISPARITY",
        "Relative Disparity",
        "Inverse depth up to scale and shift, as depth networks (MiDaS, Depth Anything) give "
        "it; may be negative in the distance. Shifted so the farthest point is at the far clamp",
    ),
)
MESH_MODE_CHOICES: Choices = (
    ("LDI", "Layered (LDI)", "Background grown and inpainted behind foreground edges"),
    ("TORN", "Torn", "One layer cut at depth edges: holes appear when the camera moves"),
    ("RUBBER", "Rubber sheet", "One layer, never cut: edges stretch"),
)
DEVICE_CHOICES: Choices = (
    ("cpu", "CPU", "Works everywhere"),
    ("cuda", "CUDA (NVIDIA / AMD ROCm)", "Needs a CUDA or ROCm build of torch and a GPU"),
    ("mps", "Apple Metal (MPS)", "Apple Silicon GPUs"),
)
MEDIAN_SIZE_CHOICES: Choices = (
    ("0", "Off", "No median filter"),
    ("3", "3 x 3", ""),
    ("5", "5 x 5", "As in the paper"),
    ("7", "7 x 7", ""),
    ("9", "9 x 9", ""),
)
# Built-in inpainters; further names come from pipeline.inpaint.register_inpainter and
# "file:PATH" loads a TorchScript model, so the setting accepts any name (the inpainting
# stage refuses unknown ones).
INPAINTER_CHOICES: Choices = (
    ("pushpull", "Push-pull", "Smooth fill from the background context (fast, default)"),
    ("telea", "Telea", "OpenCV fast marching"),
    ("fsr", "Frequency selective", "OpenCV frequency selective reconstruction (slow, textured)"),
)
SIMPLIFY_BLOCK_CHOICES: Choices = (
    ("0", "Automatic", "8 px below 4 MP, 16 above"),
    ("1", "1 (full detail)", ""),
    ("2", "2", ""),
    ("4", "4", ""),
    ("8", "8", ""),
    ("16", "16", ""),
)

FOV_MIN = 1.0


@dataclass(frozen=True)
class Setting:
    """What the table says about one PipelineSettings field (type and default: the field's)."""

    label: str
    description: str
    # The valid range of a number: the slider's hard ends in Blender.
    range: tuple[float, float] | None = None
    choices: Choices = ()
    # A rule beyond range and choices, with the message shown when it fails.
    rule: Callable[[Any], bool] | None = None
    rule_hint: str = ""
    unit: str = ""
    # An option of both command lines (``--depth-threshold``, named after the field).
    flag: bool = True
    # Where the sidebar and the import's redo panel show it ("depth", "geometry", "ldi");
    # None: not a per-photo property (inputs, preferences, scripts only).
    group: str | None = None
    precision: int = 3
    step: float = 1.0
    choices_open: bool = False  # choices are suggestions; other values are checked elsewhere

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.choices)

    @property
    def hint(self) -> str:
        """Why a value was refused (the validation message; also the tool tips' suffix)."""
        if self.rule_hint:
            return self.rule_hint
        if self.range is not None:
            lo, hi = self.range
            return f"must be between {lo:g} and {hi:g}" + (f" ({self.unit})" if self.unit else "")
        if self.choices and not self.choices_open:
            return f"must be one of {', '.join(self.ids)}"
        return ""


_FRACTION = "fraction of the longer image side"

SETTINGS: dict[str, Setting] = {
    "filepath": Setting("Photo", "The photo", flag=False, rule_hint="must be a path"),
    "depth_filepath": Setting(
        "Depth Map",
        "Depth or disparity map (.npy, 8/16-bit PNG, float TIFF or EXR)",
        flag=False,
        rule_hint="must be a path",
    ),
    "depth_kind": Setting(
        "Depth Kind", "What the depth file stores", choices=DEPTH_KIND_CHOICES, group="depth"
    ),
    "fov": Setting(
        "Field of View",
        "Across the longer image side in degrees; 0 = from EXIF, else 53.13",
        range=(0.0, 170.0),
        rule=lambda v: v == 0 or v >= FOV_MIN,
        rule_hint=f"must be 0 (from EXIF / default) or between {FOV_MIN:g} and 170 degrees",
        group="depth",
        precision=2,
    ),
    "depth_backend": Setting(
        "Depth",
        "Where the depth comes from: FILE (depth_filepath) or a depth network's name",
        rule=bool,
        rule_hint="must name a depth backend or FILE",
        flag=False,  # each command line has its own rule (a depth file wins)
    ),
    "model_dir": Setting(
        "Model Folder",
        "folder with model files (else $ONESHOT3D_MODEL_DIR, else the download cache)",
        rule_hint="must be a folder path or empty",
        flag=False,  # the batch command line adds it (the mesh command reads no model)
    ),
    "device": Setting("Device", "where the depth network runs", choices=DEVICE_CHOICES, flag=False),
    "depth_threshold": Setting(
        "Depth Threshold",
        "Neighbours whose normalised disparity differs by more than this are torn apart",
        range=(0.001, 1.0),
        unit="fraction of the disparity range",
        group="geometry",
        step=0.1,
    ),
    "depth_scale": Setting(
        "Depth Scale",
        "Depth maps: multiplier on the stored distances. "
        "Disparity maps: distance of the nearest point",
        range=(1e-6, 1e6),
        group="geometry",
        precision=6,
        step=10.0,
    ),
    "far_ratio": Setting(
        "Far Ratio",
        "Disparity maps: the farthest point is at most this many times the nearest",
        range=(1.5, 10000.0),
        group="geometry",
        precision=1,
        step=100.0,
    ),
    "mesh_mode": Setting(
        "Mesh Mode", "How the mesh is built", choices=MESH_MODE_CHOICES, group="ldi"
    ),
    "median_size": Setting(
        "Median Filter",
        "Weighted median window that sharpens depth edges",
        choices=MEDIAN_SIZE_CHOICES,
        rule_hint="must be 0 (off) or an odd window size from 3 to 9",
        group="ldi",
    ),
    "median_iterations": Setting(
        "Median Passes", "Passes of the weighted median", range=(0, 5), group="ldi"
    ),
    "min_edge_length": Setting(
        "Min Edge Length",
        "Depth-edge pieces shorter than this (pixels at 1024 px) are ignored",
        range=(0.0, 500.0),
        unit="pixels at a 1024 px long side",
        group="ldi",
        precision=1,
        step=100.0,
    ),
    "extension": Setting(
        "Extension Size",
        "How far background grows behind foreground edges at least (grown further where the "
        "camera moves reveal more)",
        range=(0.0, 0.3),
        unit=_FRACTION,
        group="ldi",
        step=0.5,
    ),
    "frame_margin": Setting(
        "Frame Margin",
        "Scene extended beyond the photo's frame on every side",
        range=(0.0, 0.25),
        unit=_FRACTION,
        group="ldi",
        step=0.5,
    ),
    "context_band": Setting(
        "Context Band",
        "Width of the background band the inpainter reads",
        range=(0.005, 0.5),
        unit=_FRACTION,
        group="ldi",
        step=0.5,
    ),
    "ldi_layers": Setting(
        "Layers", "Number of grown layers (nesting depth)", range=(0, 4), group="ldi"
    ),
    "inpainter": Setting(
        "Inpainting",
        "How the grown background is coloured (pushpull, telea, fsr or file:PATH)",
        choices=INPAINTER_CHOICES,
        choices_open=True,
        rule=bool,
        rule_hint="must name an inpainter (pushpull, telea, fsr) or file:PATH",
        group="ldi",
    ),
    "simplify_tolerance": Setting(
        "Mesh Detail Tolerance",
        "Mesh detail: flat areas are meshed coarsely up to this relative depth error "
        "(0 = full resolution)",
        range=(0.0, 0.05),
        unit="0 = full resolution",
        group="ldi",
        precision=4,
        step=0.01,
    ),
    "simplify_block": Setting(
        "Mesh Block Size",
        "Block size of the simplification in pixels",
        choices=SIMPLIFY_BLOCK_CHOICES,
        rule_hint="must be 0 (auto), 1, 2, 4, 8 or 16",
        group="ldi",
    ),
    "geometry_megapixels": Setting(
        "Geometry Limit (MP)",
        "Larger photos get their geometry at this many megapixels; the texture keeps the "
        "photo's full resolution",
        range=(0.01, 1000.0),
        unit="megapixels of the geometry lattice",
        group="ldi",
        precision=1,
        step=100.0,
    ),
    "network_geometry_share": Setting(
        "Network Geometry Share",
        "Depth from a network: geometry gets this share of the photo's pixels (at least 0.5 MP)",
        range=(0.05, 1.0),
        unit="share of the photo's pixels",
        group="ldi",
        precision=2,
        step=5.0,
    ),
    "extras": Setting("Extras", "For scripts", flag=False, rule_hint="must be a dict"),
}
_FIELDS = {f.name: f for f in dataclasses.fields(PipelineSettings)}
assert set(SETTINGS) == set(_FIELDS), "SETTINGS and PipelineSettings must name the same fields"

# Python type of each field (from the dataclass's annotations) -> the types validation accepts.
_ACCEPTS: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "dict[str, Any]": dict,
}


def field_type(name: str) -> str:
    """``"str"``, ``"int"``, ``"float"`` or ``"dict[str, Any]"``: the field's annotation."""
    return str(_FIELDS[name].type)


def default(name: str) -> Any:
    """The field's default (the dataclass's)."""
    f = _FIELDS[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]


def _number(v: Any) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))  # not NaN, not infinite


def _check(spec: Setting) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if spec.range is not None and not (_number(v) and spec.range[0] <= v <= spec.range[1]):
            return False
        if spec.choices and not spec.choices_open and str(v) not in spec.ids:
            return False
        return bool(spec.rule(v)) if spec.rule is not None else True

    return check


# Derived from the table: name -> (lo, hi) of every numeric setting, and name -> (accepted
# types, check, hint shown when the check fails) of every field.
RANGES: dict[str, tuple[float, float]] = {
    name: spec.range for name, spec in SETTINGS.items() if spec.range is not None
}
RULES: dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]] = {
    name: (_ACCEPTS[field_type(name)], _check(spec), spec.hint) for name, spec in SETTINGS.items()
}
DEPTH_KINDS = SETTINGS["depth_kind"].ids
MESH_MODES = SETTINGS["mesh_mode"].ids
# The fields an artist tunes per photo (operator, sidebar), in the table's order.
PHOTO_SETTINGS = tuple(name for name, spec in SETTINGS.items() if spec.group is not None)
# The fields both command lines offer as options, in the table's order.
CLI_SETTINGS = tuple(name for name, spec in SETTINGS.items() if spec.flag)

# Blender keeps FloatProperty values as 32-bit floats: the slider's end 0.3 comes back as
# 0.30000001192..., 0.005 as 0.00499999988... One rounding to float32 moves a value by at
# most 2**-24 of itself; this allows a few of them.
FLOAT32_TOLERANCE = 2.0**-21


def snap_to_range(name: str, value: float) -> float:
    """``value``, or the end of ``RANGES[name]`` it is within a float32 rounding of."""
    lo, hi = RANGES[name]
    if lo > value >= lo - FLOAT32_TOLERANCE * abs(lo):
        return float(lo)
    if hi < value <= hi + FLOAT32_TOLERANCE * abs(hi):
        return float(hi)
    if name == "fov" and FOV_MIN > value >= FOV_MIN * (1.0 - FLOAT32_TOLERANCE):
        return FOV_MIN
    return value
