"""The camera that sees the photo exactly as it was taken (intrinsics from the pipeline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
import numpy as np

if TYPE_CHECKING:
    from ..pipeline.mesh.mesh_data import MeshData


SENSOR_MM = 36.0


def build_camera(name: str, data: "MeshData") -> bpy.types.Object:
    """A camera at the origin in rest orientation (looking down -Z) that sees the photo."""
    intr = data.intrinsics
    cam = bpy.data.cameras.new(name)
    cam.sensor_fit = "AUTO"  # sensor_width spans the longer side of the render
    cam.sensor_width = SENSOR_MM
    cam.lens = intr.blender_lens(SENSOR_MM)
    long_side = float(max(intr.width, intr.height))
    cam.shift_x = (intr.width / 2.0 - intr.cx) / long_side
    cam.shift_y = (intr.cy - intr.height / 2.0) / long_side
    depths = -data.vertices[:, 2] if data.vertices.size else np.ones(1, np.float32)
    cam.clip_start = float(max(1e-4, depths.min() * 0.05))
    cam.clip_end = float(max(depths.max() * 20.0, cam.clip_start * 1000.0))
    return bpy.data.objects.new(name, cam)
