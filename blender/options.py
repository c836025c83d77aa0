"""Vocabularies and ranges of the import, camera-animation and render options, shared by the
operators, the panels and the batch command line (one source each). No bpy here.

The pipeline's own settings are in pipeline.settings; the camera presets, easings and pivots
are the motion stage's (pipeline.motion.vocabulary).
"""

from __future__ import annotations

Choices = tuple[tuple[str, str, str], ...]  # (identifier, label, description)

MATERIAL_ITEMS: Choices = (
    ("EMISSION", "Emission (unlit)", "Shows the photo's pixels as they are, unaffected by lights"),
    ("PRINCIPLED", "Principled BSDF", "A lit material with the photo as base colour"),
)
ENGINE_ITEMS: Choices = (
    ("CYCLES", "Cycles", "Path tracer (CPU or GPU); few samples suffice for an unlit photo"),
    ("EEVEE", "EEVEE", "Rasteriser; needs OpenGL (a GPU) on the machine"),
    ("WORKBENCH", "Workbench", "Fast flat preview of the texture"),
)
FORMAT_ITEMS: Choices = (
    ("MP4", "MP4 Video", "H.264 in an MP4 container, through Blender's FFmpeg"),
    ("PNG", "PNG Sequence", "One PNG per frame (lossless; resumable)"),
)
ENGINES = tuple(item[0] for item in ENGINE_ITEMS)
MATERIALS = tuple(item[0] for item in MATERIAL_ITEMS)

# Ranges shared by the command line, the operators and the panel's properties.
RESOLUTION_SCALE_RANGE = (1.0, 400.0)  # percent of the photo's size
SAMPLES_RANGE = (1, 65536)
FRAMES_RANGE = (2, 1_000_000)
# Camera move amplitude, fraction of the focus distance (0 = the preset's default); the
# slider stops at SOFT_MAX, typing allows up to the end of the range.
AMPLITUDE_RANGE = (0.0, 100.0)
AMPLITUDE_SOFT_MAX = 0.3
DEFAULT_FRAMES = 90
DEFAULT_SAMPLES = 16
