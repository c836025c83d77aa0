"""The whole pipeline, photo file to MeshData, as one call with progress reporting.

Big photos: geometry (the LDI, inpainting, meshing) is built on a working lattice of at most
``settings.geometry_megapixels``, the photo and its depth area-downscaled to it, while the
texture's photo region (layer 0) is the photo at full resolution: layer 0 samples the photo by
UV, so only the UVs change. Grown layers' atlas tiles stay at the working resolution. Vertices
are unprojected through the full-resolution camera, so the camera matches the photo exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import cv2
import numpy as np

from .depth.disparity import normalise, scene_depth
from .errors import PipelineError, SettingsError
from .io.depth_file import DepthMap, read_depth_file, relative_disparity_map
from .io.image_io import MIN_PHOTO_SIDE, Photo, check_photo_size, read_photo
from .io.intrinsics import Intrinsics
from .mesh import atlas as atlas_mod
from .mesh.baselines import grid_mesh
from .mesh.mesh_data import MeshData
from .settings import PipelineSettings

# progress(stage, fraction of the whole job in [0, 1], message). It may raise
# CancelledError to stop the job between stages.
ProgressFn = Callable[[str, float, str], None]


def _no_progress(stage: str, fraction: float, message: str) -> None:
    pass


def working_size(width: int, height: int, megapixels: float) -> tuple[int, int]:
    """(width, height) of the geometry lattice: the photo's own size when it has at most
    ``megapixels``, else the largest size of the same aspect ratio within that budget (but
    never a short side below MIN_PHOTO_SIDE: an extreme panorama may exceed the budget)."""
    budget = megapixels * 1e6
    if width * height <= budget:
        return width, height
    scale = math.sqrt(budget / (width * height))
    scale = min(max(scale, MIN_PHOTO_SIDE / min(width, height)), 1.0)
    return max(int(width * scale), 1), max(int(height * scale), 1)


def load_depth(
    photo: Photo, settings: PipelineSettings, size: tuple[int, int] | None = None
) -> DepthMap:
    """The photo's depth from a file or from a depth backend, at ``size`` = (width, height)
    (default: the photo's size)."""
    size = size or (photo.width, photo.height)
    if settings.depth_backend == "FILE":
        if not settings.depth_filepath:
            raise SettingsError(
                "No depth map given: choose a depth file (depth_filepath) or a depth backend."
            )
        return read_depth_file(
            settings.depth_filepath, settings.depth_kind, size, settings.far_ratio
        )
    from .depth.cache import cached_estimate

    # Networks predict disparity up to scale and shift (Depth Anything's can be negative).
    return _resized(
        relative_disparity_map(cached_estimate(photo, settings), settings.far_ratio), size
    )


def _resized(depth: DepthMap, size: tuple[int, int]) -> DepthMap:
    """``depth`` area-averaged down to ``size`` (in disparity, as depth files are resized,
    so edges between near and far stay in place)."""
    h, w = depth.values.shape
    if (w, h) == tuple(size):
        return depth
    disparity = cv2.resize(depth.disparity(), size, interpolation=cv2.INTER_AREA)
    values = 1.0 / disparity if depth.kind == "DEPTH" else disparity
    return DepthMap(depth.kind, values.astype(np.float32), list(depth.warnings))


def build_mesh(
    photo: Photo, depth: DepthMap, settings: PipelineSettings, progress: ProgressFn = _no_progress
) -> MeshData:
    """Geometry and texture from a photo and its depth, routed by ``settings.mesh_mode``:
    "LDI" (layered, inpainted), "TORN" or "RUBBER" (single-layer baselines). Geometry is
    built at ``working_size`` (``depth`` may come at that size or the photo's), the photo
    texture is the photo at full resolution."""
    check_photo_size(photo.width, photo.height, photo.path)
    intrinsics = Intrinsics.choose(photo.width, photo.height, settings.fov, photo.focal_35mm)
    size = working_size(photo.width, photo.height, settings.geometry_megapixels)
    w, h = size
    sx, sy = photo.width / w, photo.height / h
    # A camera for the working lattice whose rays are the full-resolution camera's: x is
    # exact; y is off by sy / sx (two roundings of the same aspect ratio), fixed below.
    work_intrinsics = Intrinsics(w, h, intrinsics.fx / sx, intrinsics.cx / sx, intrinsics.cy / sy)
    depth = _resized(depth, size)
    rgb = photo.rgb
    alpha = photo.alpha
    if size != (photo.width, photo.height):
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if alpha is not None:
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    disp = normalise(depth.disparity())
    valid = alpha >= 0.5 if alpha is not None else None
    if settings.mesh_mode != "LDI":
        z = scene_depth(depth, settings.depth_scale, settings.far_ratio)
        progress("mesh", 0.6, "Building mesh")
        threshold = None if settings.mesh_mode == "RUBBER" else settings.depth_threshold
        # UVs span [0, 1] over the image, so they fit the full-resolution photo as they are.
        vertices, triangles, uvs = grid_mesh(disp, z, work_intrinsics, threshold, valid)
        n = vertices.shape[0]
        mesh = MeshData(
            vertices=vertices,
            triangles=triangles,
            uvs=uvs,
            texture=photo.rgb,
            intrinsics=intrinsics,
            attributes={"layer": np.zeros(n, np.int32), "inpainted": np.zeros(n, np.int8)},
            warnings=list(depth.warnings),
        )
    else:
        from .mesh.ldi_mesh import build_ldi_mesh

        mesh = build_ldi_mesh(rgb, disp, depth, settings, work_intrinsics, valid, progress)
        mesh.warnings = list(depth.warnings) + mesh.warnings
        del rgb, disp, depth, valid
        if size != (photo.width, photo.height):
            _full_resolution_photo(mesh, photo.rgb, (h, w), mesh.frame_margin)
        mesh.intrinsics = intrinsics
    if sy != sx:
        mesh.vertices[:, 1] *= np.float32(sy / sx)
    if mesh.triangle_count == 0:
        raise PipelineError(
            f"The photo '{photo.path}' gave an empty mesh: every pixel is transparent "
            "(alpha < 0.5) or cut apart from its neighbours by depth edges."
        )
    return mesh


def _full_resolution_photo(
    mesh: MeshData, photo: np.ndarray, work_shape: tuple[int, int], margin: int
) -> None:
    """Replace the atlas's photo region (the margin-padded working photo at the top left) by
    the margin-padded full-resolution photo, move the grown layers' tiles below it and remap
    every UV. Texel edge coordinates: a working photo texel t is image position t - margin
    (working px), i.e. (t - margin) * scale full-resolution px."""
    h, w = work_shape
    big_h, big_w = photo.shape[:2]
    sx, sy = big_w / w, big_h / h
    old = mesh.texture
    old_h, old_w = old.shape[:2]
    ph, pw = h + 2 * margin, w + 2 * margin  # the photo region of the working atlas
    if old_w != max(pw, atlas_mod.CELL) or old_h < ph:
        raise AssertionError(f"unexpected atlas {old_w}x{old_h} for a {pw}x{ph} photo region")
    has_tiles = old_h > ph
    tiles_top = atlas_mod.layout((ph, pw), 1).tiles_top if has_tiles else old_h
    big_margin = math.ceil(margin * max(sx, sy))
    rh, rw = big_h + 2 * big_margin, big_w + 2 * big_margin
    # The frame margin holds the continued background (pipeline.ldi.border), smooth by nature:
    # scaled up from the working atlas; the photo itself goes in at full resolution.
    region = cv2.resize(old[:ph, :pw], (rw, rh), interpolation=cv2.INTER_LINEAR)
    region[big_margin : big_margin + big_h, big_margin : big_margin + big_w] = photo[..., :3]
    tile_w = atlas_mod.layout((ph, pw), 1).columns * atlas_mod.CELL if has_tiles else 0
    new_w = max(rw, tile_w, atlas_mod.CELL)
    new_top = atlas_mod.layout((rh, rw), 1).tiles_top if has_tiles else rh
    new_h = new_top + (old_h - tiles_top)
    texture = np.empty((new_h, new_w) + old.shape[2:], old.dtype)
    texture[:rh, :rw] = region
    # Continue the photo's edges into the unused area so mips never pull in black (as
    # atlas.build_atlas does).
    texture[rh:new_top, :rw] = region[rh - 1 : rh]
    texture[:new_top, rw:] = texture[:new_top, rw - 1 : rw]
    if has_tiles:
        texture[new_top:, :tile_w] = old[tiles_top:, :tile_w]
        texture[new_top:, tile_w:] = old[tiles_top:, tile_w - 1 : tile_w]
    del region

    u = mesh.uvs[:, 0].astype(np.float64) * old_w
    t = (1.0 - mesh.uvs[:, 1].astype(np.float64)) * old_h
    in_photo = t < ph + atlas_mod.PAD  # tile texels start PAD below tiles_top >= ph + PAD
    u = np.where(in_photo, (u - margin) * sx + big_margin, u)
    t = np.where(in_photo, (t - margin) * sy + big_margin, t + (new_top - tiles_top))
    uvs = np.empty_like(mesh.uvs)
    uvs[:, 0] = u / new_w
    uvs[:, 1] = 1.0 - t / new_h
    mesh.uvs = uvs
    mesh.texture = texture


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
    depth = load_depth(
        photo, settings, working_size(photo.width, photo.height, settings.geometry_megapixels)
    )
    timings["depth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh = build_mesh(photo, depth, settings, progress)
    timings["mesh"] = time.perf_counter() - t0
    mesh.timings = timings
    progress("done", 1.0, "Done")
    return mesh
