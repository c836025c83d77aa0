"""The whole pipeline, photo file to MeshData, as one call with progress reporting."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .depth_file import DepthMap, read_depth_file, relative_disparity_map
from .disparity import normalise, scene_depth
from .errors import SettingsError
from .image_io import Photo, read_photo
from .intrinsics import Intrinsics
from .mesh import grid_mesh
from .mesh_data import MeshData
from .settings import PipelineSettings

# progress(stage, fraction of the whole job in [0, 1], message). It may raise
# CancelledError to stop the job between stages.
ProgressFn = Callable[[str, float, str], None]


def _no_progress(stage: str, fraction: float, message: str) -> None:
    pass


def load_depth(photo: Photo, settings: PipelineSettings) -> DepthMap:
    """The photo's depth from a file or from a depth backend, at the photo's size."""
    if settings.depth_backend == "FILE":
        if not settings.depth_filepath:
            raise SettingsError(
                "No depth map given: choose a depth file (depth_filepath) or a depth backend."
            )
        return read_depth_file(
            settings.depth_filepath,
            settings.depth_kind,
            (photo.width, photo.height),
            settings.far_ratio,
        )
    from .depth.cache import cached_estimate

    # Networks predict disparity up to scale and shift (Depth Anything's can be negative).
    return relative_disparity_map(cached_estimate(photo, settings), settings.far_ratio)


def build_mesh(
    photo: Photo, depth: DepthMap, settings: PipelineSettings, progress: ProgressFn = _no_progress
) -> MeshData:
    """Geometry and texture from a photo and its depth, routed by ``settings.mesh_mode``:
    "LDI" (layered, inpainted), "TORN" or "RUBBER" (single-layer baselines)."""
    intrinsics = Intrinsics.choose(photo.width, photo.height, settings.fov, photo.focal_35mm)
    disp = normalise(depth.disparity())
    valid = photo.alpha >= 0.5 if photo.alpha is not None else None
    if settings.mesh_mode != "LDI":
        z = scene_depth(depth, settings.depth_scale, settings.far_ratio)
        progress("mesh", 0.6, "Building mesh")
        threshold = None if settings.mesh_mode == "RUBBER" else settings.depth_threshold
        vertices, triangles, uvs = grid_mesh(disp, z, intrinsics, threshold, valid)
        n = vertices.shape[0]
        return MeshData(
            vertices=vertices,
            triangles=triangles,
            uvs=uvs,
            texture=photo.rgb,
            intrinsics=intrinsics,
            attributes={"layer": np.zeros(n, np.int32), "inpainted": np.zeros(n, np.int8)},
            warnings=list(depth.warnings),
        )
    from .ldi_mesh import build_ldi_mesh

    mesh = build_ldi_mesh(photo.rgb, disp, depth, settings, intrinsics, valid, progress)
    mesh.warnings = list(depth.warnings) + mesh.warnings
    return mesh


def build_photo(settings: PipelineSettings, progress: ProgressFn = _no_progress) -> MeshData:
    """Read the photo and its depth named by ``settings`` and build the 3D photo's mesh."""
    settings.validate()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("read", 0.0, "Reading photo")
    photo = read_photo(settings.filepath)
    timings["read"] = time.perf_counter() - t0
    progress("depth", 0.1, "Loading depth")
    t0 = time.perf_counter()
    depth = load_depth(photo, settings)
    timings["depth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh = build_mesh(photo, depth, settings, progress)
    timings["mesh"] = time.perf_counter() - t0
    mesh.timings = timings
    progress("done", 1.0, "Done")
    return mesh
