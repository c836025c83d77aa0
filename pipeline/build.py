"""The whole pipeline, photo file to MeshData, as one call with progress reporting: the one
place that runs the stages of *One Shot 3D Photography* in order.

    read (io) -> depth (depth) -> preprocess, frame margin, LDI (ldi) -> inpaint -> mesh (mesh)

Each stage is one module (or small package) with one entry function; ``build_photo`` reads the
inputs, ``build_mesh`` picks the working lattice and the mesh mode, ``build_layered`` runs the
layered path.

Big photos: geometry (the LDI, inpainting, meshing) is built on a working lattice of at most
``settings.geometry_megapixels`` (and, for a network's depth, at most
``settings.network_geometry_share`` of the photo's pixels: ``lattice.geometry_size``), the
photo and its depth area-downscaled to it, while the texture's photo region (layer 0) is the
photo at full resolution: layer 0 samples the photo by UV, so only the UVs change. Grown
layers' atlas tiles stay at the working resolution. Vertices are unprojected through the
full-resolution camera, so the camera matches the photo exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from .depth.disparity import depth_function, normalise, scene_depth
from .errors import PipelineError, SettingsError
from .io.depth_file import DepthMap, read_depth_file, relative_disparity_map
from .io.image_io import Photo, check_photo_size, read_photo, to_float
from .io.intrinsics import Intrinsics
from .lattice import geometry_size
from .mesh.atlas import full_resolution_photo
from .mesh.baselines import grid_mesh
from .mesh.mesh_data import MeshData
from .settings import PipelineSettings

# progress(stage, fraction of the whole job in [0, 1], message). It may raise
# CancelledError to stop the job between stages.
ProgressFn = Callable[[str, float, str], None]


def _no_progress(stage: str, fraction: float, message: str) -> None:
    pass


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
    built at ``lattice.geometry_size`` (``depth`` may come at that size or the photo's), the photo
    texture is the photo at full resolution."""
    check_photo_size(photo.width, photo.height, photo.path)
    intrinsics = Intrinsics.choose(photo.width, photo.height, settings.fov, photo.focal_35mm)
    size = geometry_size(photo.width, photo.height, settings)
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
        mesh = build_layered(rgb, disp, depth, settings, work_intrinsics, valid, progress)
        mesh.warnings = list(depth.warnings) + mesh.warnings
        del rgb, disp, depth, valid
        if size != (photo.width, photo.height):
            full_resolution_photo(mesh, photo.rgb, (h, w), mesh.frame_margin)
        mesh.intrinsics = intrinsics
    if sy != sx:
        mesh.vertices[:, 1] *= np.float32(sy / sx)
    if mesh.triangle_count == 0:
        raise PipelineError(
            f"The photo '{photo.path}' gave an empty mesh: every pixel is transparent "
            "(alpha < 0.5) or cut apart from its neighbours by depth edges."
        )
    return mesh


def build_layered(
    rgb: np.ndarray,
    disp: np.ndarray,
    depth: DepthMap,
    settings: PipelineSettings,
    intrinsics: Intrinsics,
    valid: np.ndarray | None = None,
    progress: ProgressFn = _no_progress,
) -> MeshData:
    """The layered 3D photo from the photo (uint8 / uint16) and its normalised disparity at the
    working size: frame margin and depth preprocessing, the LDI with background grown behind
    every edge, inpainting, meshing. ``valid``: the photo's opaque pixels (alpha), if any."""
    from .inpaint import get_inpainter, inpaint_ldi
    from .ldi.border import extend_frame, pad_reflect
    from .ldi.lift import build_ldi
    from .ldi.links import compute_links
    from .ldi.preprocess import preprocess
    from .ldi.reveal import focus_disparity, growth, margin_for_move, safe_motion
    from .mesh.ldi_mesh import ldi_geometry, ldi_texture

    timings: dict[str, float] = {}
    long_side = max(disp.shape)
    threshold = settings.depth_threshold
    # The camera moves are fractions of the focus distance: the frame margin and the growth
    # behind every edge must hold what the largest default move shows (pipeline.ldi.reveal).
    floor = 1.0 / settings.far_ratio if depth.kind != "DEPTH" else 0.0
    d_focus = focus_disparity(disp, floor, valid)
    margin = max(
        int(round(settings.frame_margin * long_side)),
        margin_for_move(intrinsics.fx, d_focus, float(np.min(np.maximum(disp, floor)))),
    )

    t0 = time.perf_counter()
    progress("preprocess", 0.55, "Sharpening depth edges")
    disp_p, rgb_p = extend_frame(
        np.ascontiguousarray(disp, np.float32), np.ascontiguousarray(rgb), margin, threshold, valid
    )
    valid_p = None if valid is None else pad_reflect(valid.view(np.uint8), margin).view(bool)
    pre = preprocess(
        disp_p,
        to_float(rgb_p),
        threshold,
        settings.median_size,
        settings.median_iterations,
        settings.min_edge_length * max(long_side / 1024.0, 1.0),
    )
    timings["preprocess"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("ldi", 0.65, "Growing background behind edges")
    ldi = build_ldi(
        pre.disp,
        pre.cuts,
        rgb_p,
        threshold,
        settings.extension * long_side,
        settings.ldi_layers,
        settings.context_band * long_side,
        margin,
        valid_p,
        # Every edge grows at least ``extension``, and as far as the largest default camera
        # move opens it, so the presets show no holes at their default amplitudes.
        growth(intrinsics.fx, d_focus, floor, long_side),
        with_links=False,
    )
    timings["ldi"] = time.perf_counter() - t0

    progress("inpaint", 0.75, "Inpainting hidden background")
    inpainter = get_inpainter(settings.inpainter, settings.device)
    z_of_disp = depth_function(
        depth.kind, float(np.max(depth.disparity())), settings.depth_scale, settings.far_ratio
    )

    def colour() -> float:
        t = time.perf_counter()
        inpaint_ldi(ldi, inpainter)
        return time.perf_counter() - t

    # Colour (inpainting) and geometry (links, triangles, UVs; of the colour only the photo's)
    # read and write disjoint parts of the LDI, so they run side by side: numpy's and OpenCV's
    # loops release the GIL, and on a machine with two cores or more this hides most of the
    # inpainting. Only the atlas texture waits for the colours.
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The links first, on every core (two directions in threads); then the inpainting
        # beside the mesh's mostly single-threaded geometry.
        ldi.links = compute_links(ldi.valid, ldi.disp, pre.cuts, threshold)
        colour_done = pool.submit(colour)
        # safe_motion needs the links; it runs in the worker after the inpainting.
        safe_done = pool.submit(safe_motion, ldi, intrinsics.fx, d_focus, floor)
        progress("mesh", 0.85, "Meshing and packing the texture atlas")
        mesh, plan = ldi_geometry(
            ldi, intrinsics, z_of_disp, settings.simplify_block, settings.simplify_tolerance
        )
        timings["inpaint"] = colour_done.result()
        mesh.texture = ldi_texture(ldi, plan)
        safe = safe_done.result().to_dict()
    timings["meshing"] = time.perf_counter() - t0
    mesh.timings.update(timings)
    # In Blender units (a fraction of the focus distance the estimate was made for), so that
    # the animation side can compare it with any focus the artist picks.
    z_focus = float(z_of_disp(np.float32(d_focus)))
    mesh.safe_motion = {k: v * z_focus for k, v in safe.items()}
    mesh.frame_margin = margin
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
    depth = load_depth(photo, settings, geometry_size(photo.width, photo.height, settings))
    timings["depth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesh = build_mesh(photo, depth, settings, progress)
    timings["mesh"] = time.perf_counter() - t0
    mesh.timings = {**timings, **mesh.timings}
    progress("done", 1.0, "Done")
    return mesh
