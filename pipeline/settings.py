"""Every tunable of the pipeline, with its valid range.

Validation is data: ``RANGES`` holds the valid range of every numeric setting and ``RULES``
maps each field to a check and the message shown when the check fails, so the Blender
operator's and the PropertyGroup's limits (panels.properties), the preferences, the command
lines and the worker share one source of truth. ``PipelineSettings.from_keywords`` accepts
the operator's ``as_keywords()`` output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError

DEPTH_KINDS = ("DEPTH", "DISPARITY", "RELATIVE_DISPARITY")
MESH_MODES = ("LDI", "TORN", "RUBBER")

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
    # Geometry budget: the LDI, inpainting and mesh are built on a lattice of at most this
    # many megapixels; a larger photo is area-downscaled for geometry only, while layer 0
    # of the texture keeps the photo's full resolution (see README, "Big photos"). The
    # default keeps a 12 MP phone photo (4032 x 3024) native and builds a 50 MP one at half
    # its size: about 2 M triangles and under 2 GB for the geometry stages.
    geometry_megapixels: float = 12.6
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


# name -> (lo, hi): the valid range of every numeric setting, the slider ends in Blender.
RANGES: dict[str, tuple[float, float]] = {
    "fov": (0.0, 170.0),  # 0 = from EXIF / default, else at least FOV_MIN
    "depth_threshold": (0.001, 1.0),
    "depth_scale": (1e-6, 1e6),
    "far_ratio": (1.5, 10000.0),
    "median_size": (0, 9),
    "median_iterations": (0, 5),
    "min_edge_length": (0.0, 500.0),
    "extension": (0.0, 0.3),
    "frame_margin": (0.0, 0.25),
    "context_band": (0.005, 0.5),
    "ldi_layers": (0, 4),
    "simplify_tolerance": (0.0, 0.05),
    "geometry_megapixels": (0.01, 1000.0),
}
FOV_MIN = 1.0

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


def _number(v: Any) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))  # not NaN, not infinite


def _in_range(name: str) -> Callable[[Any], bool]:
    lo, hi = RANGES[name]
    return lambda v: _number(v) and lo <= v <= hi


def _between_text(name: str, unit: str = "") -> str:
    lo, hi = RANGES[name]
    return f"must be between {lo:g} and {hi:g}" + (f" ({unit})" if unit else "")


# name -> (accepted types, check, hint shown when the check fails)
RULES: dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]] = {
    "filepath": (str, lambda v: True, "must be a path"),
    "depth_filepath": (str, lambda v: True, "must be a path"),
    "depth_kind": (str, lambda v: v in DEPTH_KINDS, f"must be one of {', '.join(DEPTH_KINDS)}"),
    "fov": (
        (int, float),
        lambda v: _number(v) and (v == 0 or FOV_MIN <= v <= RANGES["fov"][1]),
        f"must be 0 (from EXIF / default) or between {FOV_MIN:g} and {RANGES['fov'][1]:g} degrees",
    ),
    "depth_backend": (str, lambda v: bool(v), "must name a depth backend or FILE"),
    "model_dir": (str, lambda v: True, "must be a folder path or empty"),
    "device": (str, lambda v: v in ("cpu", "cuda", "mps"), "must be cpu, cuda or mps"),
    "depth_threshold": (
        (int, float),
        _in_range("depth_threshold"),
        _between_text("depth_threshold", "fraction of the disparity range"),
    ),
    "depth_scale": (
        (int, float),
        _in_range("depth_scale"),
        _between_text("depth_scale"),
    ),
    "far_ratio": (
        (int, float),
        _in_range("far_ratio"),
        _between_text("far_ratio"),
    ),
    "mesh_mode": (str, lambda v: v in MESH_MODES, f"must be one of {', '.join(MESH_MODES)}"),
    "median_size": (
        int,
        lambda v: v == 0 or (3 <= v <= RANGES["median_size"][1] and v % 2 == 1),
        f"must be 0 (off) or an odd window size from 3 to {RANGES['median_size'][1]}",
    ),
    "median_iterations": (
        int,
        _in_range("median_iterations"),
        _between_text("median_iterations"),
    ),
    "min_edge_length": (
        (int, float),
        _in_range("min_edge_length"),
        _between_text("min_edge_length", "pixels at a 1024 px long side"),
    ),
    "extension": (
        (int, float),
        _in_range("extension"),
        _between_text("extension", "fraction of the longer image side"),
    ),
    "frame_margin": (
        (int, float),
        _in_range("frame_margin"),
        _between_text("frame_margin", "fraction of the longer image side"),
    ),
    "context_band": (
        (int, float),
        _in_range("context_band"),
        _between_text("context_band", "fraction of the longer image side"),
    ),
    "ldi_layers": (int, _in_range("ldi_layers"), _between_text("ldi_layers")),
    "inpainter": (
        str,
        lambda v: v in ("pushpull", "telea", "fsr") or v.startswith("file:") or bool(v),
        "must name an inpainter (pushpull, telea, fsr) or file:PATH",
    ),
    "simplify_tolerance": (
        (int, float),
        _in_range("simplify_tolerance"),
        _between_text("simplify_tolerance", "0 = full resolution"),
    ),
    "simplify_block": (
        int,
        lambda v: v in (0, 1, 2, 4, 8, 16),
        "must be 0 (auto), 1, 2, 4, 8 or 16",
    ),
    "geometry_megapixels": (
        (int, float),
        _in_range("geometry_megapixels"),
        _between_text("geometry_megapixels", "megapixels of the geometry lattice"),
    ),
    "extras": (dict, lambda v: True, "must be a dict"),
}
