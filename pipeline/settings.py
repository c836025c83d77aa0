"""Every tunable of the pipeline, with its valid range.

Validation is data: ``RULES`` maps each field to a check and the message shown when the
check fails, so the Blender operator, the command line and the worker share one source of
truth. ``PipelineSettings.from_keywords`` accepts the operator's ``as_keywords()`` output.
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
        """Raise SettingsError naming every setting that is out of range."""
        problems = [
            f"{name} = {getattr(self, name)!r}: {hint}"
            for name, (kind, check, hint) in RULES.items()
            if not (isinstance(getattr(self, name), kind) and check(getattr(self, name)))
        ]
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems))
        return self


def _between(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: lo <= v <= hi


def _number(v: Any) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))  # not NaN, not infinite


# name -> (accepted types, check, hint shown when the check fails)
RULES: dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]] = {
    "filepath": (str, lambda v: True, "must be a path"),
    "depth_filepath": (str, lambda v: True, "must be a path"),
    "depth_kind": (str, lambda v: v in DEPTH_KINDS, f"must be one of {', '.join(DEPTH_KINDS)}"),
    "fov": (
        (int, float),
        lambda v: _number(v) and (v == 0 or 1.0 <= v <= 170.0),
        "must be 0 (from EXIF / default) or between 1 and 170 degrees",
    ),
    "depth_backend": (str, lambda v: bool(v), "must name a depth backend or FILE"),
    "model_dir": (str, lambda v: True, "must be a folder path or empty"),
    "device": (str, lambda v: v in ("cpu", "cuda", "mps"), "must be cpu, cuda or mps"),
    "depth_threshold": (
        (int, float),
        lambda v: _number(v) and 0.001 <= v <= 1.0,
        "must be between 0.001 and 1 (fraction of the disparity range)",
    ),
    "depth_scale": (
        (int, float),
        lambda v: _number(v) and 1e-6 <= v <= 1e6,
        "must be between 0.000001 and 1000000",
    ),
    "far_ratio": (
        (int, float),
        lambda v: _number(v) and 1.5 <= v <= 10000.0,
        "must be between 1.5 and 10000",
    ),
    "mesh_mode": (str, lambda v: v in MESH_MODES, f"must be one of {', '.join(MESH_MODES)}"),
    "median_size": (
        int,
        lambda v: v == 0 or (3 <= v <= 9 and v % 2 == 1),
        "must be 0 (off) or an odd window size from 3 to 9",
    ),
    "median_iterations": (int, lambda v: 0 <= v <= 5, "must be between 0 and 5"),
    "min_edge_length": (
        (int, float),
        lambda v: _number(v) and 0.0 <= v <= 500.0,
        "must be between 0 and 500 pixels",
    ),
    "extension": (
        (int, float),
        lambda v: _number(v) and 0.0 <= v <= 0.3,
        "must be between 0 and 0.3 (fraction of the longer image side)",
    ),
    "frame_margin": (
        (int, float),
        lambda v: _number(v) and 0.0 <= v <= 0.25,
        "must be between 0 and 0.25 (fraction of the longer image side)",
    ),
    "context_band": (
        (int, float),
        lambda v: _number(v) and 0.005 <= v <= 0.5,
        "must be between 0.005 and 0.5 (fraction of the longer image side)",
    ),
    "ldi_layers": (int, lambda v: 0 <= v <= 4, "must be between 0 and 4"),
    "inpainter": (
        str,
        lambda v: v in ("pushpull", "telea", "fsr") or v.startswith("file:") or bool(v),
        "must name an inpainter (pushpull, telea, fsr) or file:PATH",
    ),
    "simplify_tolerance": (
        (int, float),
        lambda v: _number(v) and 0.0 <= v <= 0.05,
        "must be between 0 (full resolution) and 0.05",
    ),
    "simplify_block": (
        int,
        lambda v: v in (0, 1, 2, 4, 8, 16),
        "must be 0 (auto), 1, 2, 4, 8 or 16",
    ),
    "extras": (dict, lambda v: True, "must be a dict"),
}
