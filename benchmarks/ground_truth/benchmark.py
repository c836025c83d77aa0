"""Ground-truth benchmark for the 3D photo mesh: rubber sheet vs torn single layer vs LDI,
with exact depth and with the depth a network would give.

    .venv/bin/python benchmarks/ground_truth/benchmark.py [--out DIR] [--size 320x240]
        [--scenes cards,nested,floor,person,pole] [--depth exact,soft,network]
        [--methods RUBBER,TORN,LDI] [--samples 16] [--skip-render]

A subset writes its tables to OUT/RESULTS.md unless --results says otherwise; only the full
set replaces RESULTS.md next to this script. Cost: about 2 x 4 renders per scene, depth and
method (colour and streak pass) plus the ground truth; ~7 s per render on the shared 2-core
machine under load, so ~8 min per scene with all depths and methods.

1. Renders synthetic scenes with Blender (Cycles CPU, emission-textured objects, so colours
   do not depend on the viewpoint): objects at different depths in front of textured
   backgrounds; ``person`` (a capsule body and a head 2 m away in front of a wall at 6 m and
   a floor) and ``pole`` (a 6 cm pole and a thin slanted stick 1.5 m away, a box at 3.5 m, a
   wall at 5 m) are the thin, near subjects real photos have. For each scene: a source view
   with its exact depth (planar camera-axis depth, by ray casting every pixel centre through
   Blender's own scene BVH) and target views, each with a mask of the pixels that were hidden
   in the source view (target pixel's surface point either falls outside the source frame or
   lies behind the source depth there) - the disoccluded pixels. Targets: cards / nested /
   floor move the camera left / right / up / forward by fixed amounts (no rotation);
   person / pole move it sideways by 10 % of the subject distance (turning to keep the
   subject centred, as the Swing preset does) and start a Dolly Zoom (12 % of the subject
   distance back, lens x 1.12: the preset's default amplitude).
2. Depth variants handed to the pipeline (all as metric camera-axis depth files):
   * ``exact``: the ray-cast depth;
   * ``soft``: the true disparity area-averaged to 1/4 resolution, upsampled bilinearly and
     Gaussian-blurred (sigma 1 px): every depth edge becomes a ramp a few pixels wide, as a
     network's does;
   * ``network``: Tiefenrausch (pipeline/depth/tiefenrausch.py, model files from
     ``--model-dir`` / ``$ONESHOT3D_MODEL_DIR`` / ``../shared/reference/tiefenrausch``) run
     on the rendered source view, aligned to the true disparity by one least-squares scale
     and shift in disparity (the standard protocol for affine-invariant depth). Skipped with
     a message when torch or the model files are missing.
3. Imports each source view with each depth through our pipeline and the extension's
   Blender mesh builder (the same code the import operator runs) in the three modes and
   renders the same target views through Blender.
4. Reports PSNR and SSIM over the whole frame, over the disoccluded pixels only (and, as
   *behind outlines*, the disoccluded pixels inside the source frame: what parallax reveals
   at depth edges, apart from what the border reveals) and over the pixels visible in the
   source view; the hole fraction (pixels with alpha < 0.5: no
   triangle covers them); and the **streak fraction**, per scene, depth variant and target,
   and writes the tables to benchmarks/ground_truth/RESULTS.md.

Streak measure. A triangle of a correct surface, seen from the target camera, keeps its size
in the source image up to the change of scale ``m = (f_t / f_s) (z_s / z_t)`` (target and
source focal lengths in px, the triangle centroid's depth along each camera's axis). A
triangle stretched across a depth discontinuity (a rubber sheet's edge triangle, or one of
the LDI's where a soft ramp was not cut) is a pixel or so wide in the source image but opens
to the parallax difference of its two ends in the target. Per triangle and target::

    stretch = max over its 3 edges of  L_target(e) / (m * max(L_source(e), 0.25 px))

(L = projected edge length in pixels; triangles behind the target camera count 0). A
triangle is a *streak* when ``stretch > 2``: it is drawn over more than twice the source
pixels it came from. (Why 2, not 3: a soft ramp W px wide that opens by a parallax
difference of P px stretches each of its triangles by only (W + P) / W, e.g. 3.6 for the
8 px ramps of ``soft`` depth and the 21 px a 10 % sideways move opens at 320 px - yet it is
exactly the smear the measure is for.) The streak fraction is the share of the target frame's pixels
whose visible surface is a streak triangle: the stretch flag is written as a face attribute
and rendered in a second Cycles pass (4 samples, an Attribute -> Emission material, covered
pixels only), so occlusion is Blender's own. Legitimate surfaces stay near 1 (a floor at a
grazing angle changes its foreshortening by a few per cent for these moves).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # extension.py, shared with the other benchmarks

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

from pipeline.build import build_photo  # noqa: E402
from pipeline.mesh.quads import face_flags, pair_triangles, quad_triangles  # noqa: E402
from pipeline.motion import look_at_euler  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402

METHODS = ("RUBBER", "TORN", "LDI")
DEPTHS = ("exact", "soft", "network")


@dataclass(frozen=True)
class Target:
    """A target camera: offset from the source camera (metres; +X right, +Y up, -Z forward),
    lens as a factor of the source's, and whether it turns to keep the subject (at
    ``SUBJECT[scene]`` on the axis) centred."""

    offset: tuple[float, float, float]
    lens_factor: float = 1.0
    look_at: float | None = None  # subject distance to look at; None = rest orientation
    # Within the camera presets' default amplitudes (the issue's hole bar applies to these).
    default_move: bool = False


# Fixed moves of the original scenes (no rotation).
TARGETS = {
    "left": Target((-0.12, 0.0, 0.0)),
    "right": Target((0.12, 0.0, 0.0)),
    "up": Target((0.0, 0.10, 0.0)),
    "forward": Target((0.0, 0.0, -0.35)),
}
# Distance of the near subject of the person-like / thin scenes (metres).
SUBJECT = {"person": 2.0, "pole": 1.5}
SIDEWAYS = 0.10  # of the subject distance (the target; Swing's default is 0.04)
DOLLY = 0.12  # motion.DEFAULT_AMPLITUDES["DOLLY_ZOOM"]
SWING = 0.04  # motion.DEFAULT_AMPLITUDES["SWING"]


def targets_of(scene: str) -> dict[str, Target]:
    if scene not in SUBJECT:
        return TARGETS
    z = SUBJECT[scene]
    return {
        "left": Target((-SIDEWAYS * z, 0.0, 0.0), 1.0, z),
        "right": Target((SIDEWAYS * z, 0.0, 0.0), 1.0, z),
        "swing": Target((SWING * z, 0.0, 0.0), 1.0, z, default_move=True),
        "dolly": Target((0.0, 0.0, DOLLY * z), 1.0 + DOLLY, z, default_move=True),
    }


SAMPLES = 16
STREAK_SAMPLES = 4
STREAK_RATIO = 2.0  # stretch above which a triangle is a streak (see the module docstring)
REFERENCE = REPO.parent / "shared" / "reference" / "tiefenrausch"


def _texture(
    name: str, seed: int, base: tuple[float, float, float], size: int = 256
) -> bpy.types.Image:
    """A deterministic texture: coloured noise blobs, stripes and checks (needs real detail so
    that blur is punished)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    noise = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 6)
    noise = (noise - noise.min()) / (noise.max() - noise.min() + 1e-6)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * rng.integers(3, 9) + yy * rng.integers(1, 5)))
    check = ((xx * 8).astype(int) + (yy * 8).astype(int)) % 2
    rgb = np.asarray(base, np.float32)[None, None, :] * (0.45 + 0.35 * noise)
    rgb += 0.15 * stripes[..., None] + 0.08 * check[..., None]
    rgba = np.concatenate([np.clip(rgb, 0, 1), np.ones((size, size, 1), np.float32)], axis=2)
    img = bpy.data.images.new(name, size, size, alpha=False)
    img.pixels.foreach_set(rgba[::-1].ravel())  # Blender images start at the bottom row
    img.pack()
    return img


def _emission_material(name: str, image: bpy.types.Image) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    tree = _compat().node_tree(mat)
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    em = nodes.new("ShaderNodeEmission")
    links.new(tex.outputs["Color"], em.inputs["Color"])
    links.new(em.outputs["Emission"], out.inputs["Surface"])
    return mat


def _add(kind: str, name: str, loc, scale, rot, seed: int, color) -> None:
    if kind == "plane":
        bpy.ops.mesh.primitive_plane_add(size=1.0, location=loc, rotation=rot)
    elif kind == "cylinder":  # diameter and height 1 before scaling; its own UVs
        bpy.ops.mesh.primitive_cylinder_add(
            vertices=48, radius=0.5, depth=1.0, location=loc, rotation=rot
        )
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=loc, rotation=rot)
    else:
        bpy.ops.mesh.primitive_cube_add(size=1.0, location=loc, rotation=rot)
    obj = bpy.context.active_object
    obj.name = name
    obj.scale = scale
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.uv.smart_project() if kind == "cube" else None
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.data.materials.append(_emission_material(name, _texture(name, seed, color)))


# name -> objects: (kind, location, scale, rotation, texture seed, base colour)
SCENES = {
    "cards": [
        ("plane", (0, 0, -6.0), (14, 11, 1), (0, 0, 0), 1, (0.9, 0.8, 0.6)),
        ("plane", (-0.9, -0.1, -2.4), (0.8, 1.3, 1), (0, 0, 0), 2, (0.9, 0.2, 0.2)),
        ("plane", (0.9, 0.3, -3.5), (1.0, 0.9, 1), (0, 0, 0.3), 3, (0.2, 0.4, 0.9)),
    ],
    "nested": [
        ("plane", (0, 0, -6.0), (14, 11, 1), (0, 0, 0), 4, (0.5, 0.8, 0.5)),
        ("cube", (0.3, 0.0, -4.0), (1.6, 1.4, 0.6), (0.2, 0.5, 0.0), 5, (0.8, 0.6, 0.2)),
        ("plane", (-0.35, -0.2, -2.3), (0.5, 0.9, 1), (0, 0, 0), 6, (0.7, 0.2, 0.8)),
    ],
    "floor": [
        ("plane", (0, 0.5, -7.0), (16, 8, 1), (0, 0, 0), 7, (0.6, 0.6, 0.9)),
        ("plane", (0, -1.2, -4.0), (16, 10, 1), (-1.5708, 0, 0), 8, (0.8, 0.7, 0.5)),
        ("cube", (-0.8, -0.7, -3.0), (0.7, 1.0, 0.7), (0, 0.6, 0), 9, (0.9, 0.3, 0.2)),
        ("cube", (0.7, -0.6, -4.5), (0.8, 1.2, 0.8), (0, 0.3, 0), 10, (0.2, 0.7, 0.8)),
    ],
    # A person 2 m away (light suit: the colour that smears into the background) in front of
    # a wall at 6 m and a floor.
    "person": [
        ("plane", (0, 0.5, -6.0), (14, 9, 1), (0, 0, 0), 11, (0.5, 0.6, 0.9)),
        ("plane", (0, -1.3, -4.0), (14, 8, 1), (-1.5708, 0, 0), 12, (0.7, 0.6, 0.4)),
        (
            "cylinder",
            (-0.15, -0.45, -2.0),
            (0.42, 0.3, 1.3),
            (1.5708, 0, 0),
            13,
            (0.95, 0.92, 0.85),
        ),
        ("sphere", (-0.15, 0.38, -2.0), (0.26, 0.3, 0.26), (0, 0, 0), 14, (0.9, 0.6, 0.45)),
        (
            "cylinder",
            (-0.5, -0.35, -2.05),
            (0.11, 0.11, 0.9),
            (1.5708, 0, 0.25),
            15,
            (0.9, 0.85, 0.8),
        ),
    ],
    # A thin pole and a thin slanted stick 1.5 m away, a box at 3.5 m, a wall at 5 m.
    "pole": [
        ("plane", (0, 0, -5.0), (12, 9, 1), (0, 0, 0), 16, (0.8, 0.7, 0.5)),
        ("cube", (0.7, -0.3, -3.5), (0.9, 1.0, 0.6), (0, 0.4, 0), 17, (0.3, 0.7, 0.4)),
        ("cylinder", (0.12, 0.0, -1.5), (0.06, 0.06, 3.0), (1.5708, 0, 0), 18, (0.85, 0.2, 0.15)),
        (
            "cylinder",
            (-0.25, 0.1, -1.6),
            (0.035, 0.035, 1.2),
            (1.5708, 0, 0.6),
            19,
            (0.2, 0.6, 0.2),
        ),
    ],
}


def _camera(width: int, height: int) -> bpy.types.Object:
    cam = bpy.data.cameras.new("Camera")
    cam.sensor_fit = "AUTO"
    cam.sensor_width = 36.0
    cam.lens = 36.0  # focal = long side in pixels: 53.13 degrees, the pipeline's default
    cam.clip_start = 0.05
    cam.clip_end = 100.0
    obj = bpy.data.objects.new("Camera", cam)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.scene.camera = obj
    return obj


def _render_settings(width: int, height: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = SAMPLES
    scene.cycles.use_denoising = False
    scene.cycles.use_adaptive_sampling = False
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.image_settings.file_format = "PNG"
    # Transparent film: pixels no triangle covers (holes) come out with alpha 0 and are
    # counted; colours are composited over black as before for PSNR / SSIM.
    scene.render.film_transparent = True
    scene.render.image_settings.color_mode = "RGBA"
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    bg = _compat().node_tree(scene.world).nodes.get("Background")
    if bg is not None:
        bg.inputs["Color"].default_value = (0, 0, 0, 1)


def _render(path: Path) -> np.ndarray:
    bpy.context.scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_rgb(path)


def _read_rgba(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, img.dtype)], axis=2)
    return img[:, :, [2, 1, 0, 3]]


def read_rgb(path: Path) -> np.ndarray:
    """RGB composited over black (uint8), in linear light as Blender would have rendered it
    over a black world (the PNG holds straight sRGB colour and alpha)."""
    rgba = _read_rgba(path).astype(np.float64) / 255.0
    c, a = rgba[..., :3], rgba[..., 3:]
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) * a
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(np.clip(srgb, 0, 1) * 255.0).astype(np.uint8)


def hole_fraction(path: Path, where: np.ndarray | None = None) -> float:
    """Fraction of pixels that no surface covers (alpha below one half); with ``where``,
    only holes there count (still as a fraction of the whole frame)."""
    holes = _read_rgba(path)[..., 3] < 128
    return float((holes & where).mean() if where is not None else holes.mean())


def _pose(cam: bpy.types.Object, target: Target, base_lens: float) -> None:
    """Put ``cam`` at ``target`` (the source camera is at the origin looking down -Z)."""
    cam.location = target.offset
    if target.look_at is None:
        cam.rotation_euler = (0.0, 0.0, 0.0)
    else:
        euler = look_at_euler(np.asarray(target.offset), np.array([0.0, 0.0, -target.look_at]))
        cam.rotation_euler = tuple(float(v) for v in euler)
    cam.data.lens = base_lens * target.lens_factor
    bpy.context.view_layer.update()


def _focal_px(cam: bpy.types.Object, width: int, height: int) -> float:
    """Focal length in pixels (sensor fit AUTO: the sensor spans the longer side)."""
    return float(cam.data.lens / cam.data.sensor_width * max(width, height))


def _ray_points(cam: bpy.types.Object, width: int, height: int) -> np.ndarray:
    """(H, W, 3) world hit points of ``cam``'s pixel-centre rays; NaN where nothing is hit."""
    scene = bpy.context.scene
    depsgraph = bpy.context.evaluated_depsgraph_get()
    f = _focal_px(cam, width, height)
    rot = np.array(cam.matrix_world.to_3x3(), np.float64)
    origin = cam.matrix_world.translation.copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    local = np.stack(
        [(xx + 0.5 - width / 2.0) / f, (height / 2.0 - (yy + 0.5)) / f, -np.ones_like(xx)], -1
    )
    dirs = local @ rot.T
    out = np.full((height, width, 3), np.nan, np.float32)
    for y in range(height):
        for x in range(width):
            hit, loc, *_ = scene.ray_cast(depsgraph, origin, Vector(dirs[y, x]))
            if hit:
                out[y, x] = loc
    return out


def make_scene(name: str, out: Path, width: int, height: int) -> None:
    """Source view, exact depth, soft depth; ground-truth target views and their masks."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _render_settings(width, height)
    for i, (kind, loc, scale, rot, seed, color) in enumerate(SCENES[name]):
        _add(kind, f"{name}_{i}", loc, scale, rot, seed, color)
    cam = _camera(width, height)
    base_lens = float(cam.data.lens)
    _pose(cam, Target((0.0, 0.0, 0.0)), base_lens)
    src_pts = _ray_points(cam, width, height)
    src_depth = -src_pts[..., 2]
    assert np.isfinite(src_depth).all(), "the source view must hit geometry everywhere"
    _render(out / f"{name}_source.png")
    np.save(out / f"{name}_depth_exact.npy", src_depth.astype(np.float32))
    np.save(
        out / f"{name}_depth_soft.npy", (1.0 / soft_disparity(1.0 / src_depth)).astype(np.float32)
    )
    f = float(max(width, height))
    for tname, target in targets_of(name).items():
        _pose(cam, target, base_lens)
        _render(out / f"{name}_{tname}_gt.png")
        pts = _ray_points(cam, width, height)
        z = -pts[..., 2]  # depth in the source camera of what the target pixel sees
        u = f * pts[..., 0] / z + width / 2.0
        v = height / 2.0 - f * pts[..., 1] / z
        inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
        ui = np.clip(np.nan_to_num(u).astype(int), 0, width - 1)
        vi = np.clip(np.nan_to_num(v).astype(int), 0, height - 1)
        hidden = z > src_depth[vi, ui] * 1.01 + 0.01
        disoccluded = ~np.isfinite(z) | ~inside | hidden
        np.save(out / f"{name}_{tname}_mask.npy", disoccluded)
        np.save(out / f"{name}_{tname}_outside.npy", ~np.isfinite(z) | ~inside)


def soft_disparity(disp: np.ndarray) -> np.ndarray:
    """What a depth network's upsampled output looks like without its gross errors: area
    average to 1/4 resolution, bilinear upsampling, Gaussian blur sigma 1 px."""
    h, w = disp.shape
    small = cv2.resize(disp, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(up, (0, 0), 1.0)


def network_depth(name: str, out: Path, model_dir: str) -> dict[str, float]:
    """Tiefenrausch on the rendered source view, aligned to the true disparity by one
    least-squares scale and shift; saved as metric depth. Returns the fit's errors."""
    from pipeline.depth.tiefenrausch import estimate
    from pipeline.io.image_io import read_photo

    truth = 1.0 / np.load(out / f"{name}_depth_exact.npy").astype(np.float64)
    photo = read_photo(out / f"{name}_source.png")
    settings = PipelineSettings(
        filepath=str(out / f"{name}_source.png"), depth_backend="tiefenrausch", model_dir=model_dir
    )
    est = np.asarray(estimate(photo, settings), np.float64)
    design = np.stack([est.ravel(), np.ones(est.size)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, truth.ravel(), rcond=None)
    aligned = np.maximum(scale * est + shift, 0.2 * truth.min())  # keep every point in front
    np.save(out / f"{name}_depth_network.npy", (1.0 / aligned).astype(np.float32))
    return {
        "scale": float(scale),
        "shift": float(shift),
        "absrel_disparity": float(np.mean(np.abs(aligned - truth) / truth)),
    }


def _compat():
    """The extension's blender.compat (what differs between Blender versions)."""
    from extension import load_extension

    return importlib.import_module(load_extension().__name__ + ".blender.compat")


def _load_extension():
    from extension import load_extension

    return importlib.import_module(load_extension().__name__ + ".blender.scene")


def _streak_material() -> bpy.types.Material:
    """Emission = the face attribute ``streak`` (1 on streak triangles, 0 elsewhere)."""
    mat = bpy.data.materials.new("streak")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    attr = nodes.new("ShaderNodeAttribute")
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = "streak"
    em = nodes.new("ShaderNodeEmission")
    em.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    links.new(attr.outputs["Fac"], em.inputs["Strength"])
    links.new(em.outputs["Emission"], out.inputs["Surface"])
    return mat


def triangle_stretch(
    vertices: np.ndarray,
    triangles: np.ndarray,
    f_source: float,
    cam_matrix: np.ndarray,
    f_target: float,
) -> np.ndarray:
    """Per triangle: the largest ratio of an edge's length on the target screen to its length
    in the source image times the triangle's change of scale (module docstring); 0 for
    triangles with a vertex behind the target camera."""
    v = np.asarray(vertices, np.float64)
    z_s = np.maximum(-v[:, 2], 1e-9)
    src = f_source * v[:, :2] / z_s[:, None]
    cam = (v - cam_matrix[:3, 3]) @ cam_matrix[:3, :3]
    z_t = -cam[:, 2]
    ok_v = z_t > 1e-6
    tgt = f_target * cam[:, :2] / np.where(ok_v, z_t, 1.0)[:, None]
    tri = np.asarray(triangles, np.int64)
    scale = (f_target / f_source) * z_s[tri].mean(1) / np.maximum(z_t[tri].mean(1), 1e-9)
    stretch = np.zeros(len(tri))
    for a, b in ((0, 1), (1, 2), (2, 0)):
        ls = np.linalg.norm(src[tri[:, a]] - src[tri[:, b]], axis=1)
        lt = np.linalg.norm(tgt[tri[:, a]] - tgt[tri[:, b]], axis=1)
        stretch = np.maximum(stretch, lt / (scale * np.maximum(ls, 0.25)))
    stretch[~ok_v[tri].all(1)] = 0.0
    return stretch


def render_methods(
    name: str, variant: str, out: Path, width: int, height: int, scene_build, methods: list[str]
) -> dict[str, float]:
    timings = {}
    scene = bpy.context.scene
    for method in methods:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        _render_settings(width, height)
        settings = PipelineSettings(
            filepath=str(out / f"{name}_source.png"),
            depth_filepath=str(out / f"{name}_depth_{variant}.npy"),
            depth_kind="DEPTH",
            mesh_mode=method,
        )
        t0 = time.perf_counter()
        data = build_photo(settings)
        timings[method] = time.perf_counter() - t0
        imported = scene_build.build_photo_objects(bpy.context, data, settings, name=method)
        _render_settings(width, height)
        scene = bpy.context.scene
        cam = imported.camera_object
        base_lens = float(cam.data.lens)
        f_source = _focal_px(cam, width, height)
        mesh = imported.mesh_object.data
        photo_mat, streak_mat = mesh.materials[0], _streak_material()
        flags = mesh.attributes.new("streak", "FLOAT", "FACE")
        quads, singles = pair_triangles(data.vertices, data.triangles)
        assert len(mesh.polygons) == quads.shape[0] + singles.shape[0]
        for tname, target in targets_of(name).items():
            _pose(cam, target, base_lens)
            stem = f"{name}_{variant}_{tname}_{method}"
            mesh.materials[0] = photo_mat
            scene.cycles.samples = SAMPLES
            _render(out / f"{stem}.png")
            # Blender's faces: the triangle pairs stored as quads first, then the single
            # triangles (blender/mesh.build_mesh); a quad is a streak when either of
            # its two triangles is.
            stretch = triangle_stretch(
                data.vertices,
                np.concatenate([quad_triangles(quads), singles]),
                f_source,
                np.array(cam.matrix_world, np.float64),
                _focal_px(cam, width, height),
            )
            per_face = face_flags(stretch > STREAK_RATIO, quads.shape[0])
            flags.data.foreach_set("value", per_face.astype(np.float32))
            mesh.update()
            mesh.materials[0] = streak_mat
            scene.cycles.samples = STREAK_SAMPLES
            _render(out / f"{stem}_streak.png")
        scene.cycles.samples = SAMPLES
    return timings


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    if not mask.any():
        return float("nan")
    mse = np.mean((a.astype(np.float64)[mask] - b.astype(np.float64)[mask]) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5), averaged over channels."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    va = blur(a * a) - mu_a**2
    vb = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return s.mean(axis=2)


def streak_fraction(path: Path) -> float:
    """Share of the frame's pixels whose visible surface is a streak triangle."""
    rgba = _read_rgba(path)
    return float(((rgba[..., 3] >= 128) & (rgba[..., 0] >= 128)).mean())


def _mean(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def evaluate(out: Path, scenes: list[str], variants: list[str], methods: list[str]) -> list[dict]:
    rows = []
    for name in scenes:
        for tname in targets_of(name):
            gt = read_rgb(out / f"{name}_{tname}_gt.png")
            mask = np.load(out / f"{name}_{tname}_mask.npy")
            outside = np.load(out / f"{name}_{tname}_outside.npy")
            behind = mask & ~outside
            full = np.ones_like(mask)
            for variant in variants:
                for method in methods:
                    stem = out / f"{name}_{variant}_{tname}_{method}"
                    if not stem.with_suffix(".png").exists():
                        continue
                    img = read_rgb(stem.with_suffix(".png"))
                    smap = ssim_map(img, gt)
                    rows.append(
                        {
                            "scene": name,
                            "depth": variant,
                            "target": tname,
                            "method": method,
                            "disoccluded_fraction": float(mask.mean()),
                            "psnr_all": psnr(img, gt, full),
                            "psnr_disoccluded": psnr(img, gt, mask),
                            "psnr_behind": psnr(img, gt, behind),
                            "behind_fraction": float(behind.mean()),
                            "psnr_visible": psnr(img, gt, ~mask),
                            "holes": hole_fraction(stem.with_suffix(".png")),
                            "holes_inside": hole_fraction(stem.with_suffix(".png"), ~outside),
                            "streaks": streak_fraction(Path(f"{stem}_streak.png")),
                            "ssim_all": float(smap.mean()),
                            "ssim_disoccluded": float(smap[mask].mean())
                            if mask.any()
                            else float("nan"),
                            "ssim_visible": float(smap[~mask].mean()),
                        }
                    )
    return rows


def _pooled_psnr(out: Path, scene: str, variant: str, method: str, which: str) -> float:
    """PSNR over the union of all targets' pixels of a kind (pooled MSE)."""
    se, n = 0.0, 0
    for tname in targets_of(scene):
        gt = read_rgb(out / f"{scene}_{tname}_gt.png").astype(np.float64)
        img = read_rgb(out / f"{scene}_{variant}_{tname}_{method}.png").astype(np.float64)
        mask = np.load(out / f"{scene}_{tname}_mask.npy")
        if which == "disoccluded":
            sel = mask
        elif which == "behind":
            sel = mask & ~np.load(out / f"{scene}_{tname}_outside.npy")
        else:
            sel = ~mask
        se += float(((img - gt) ** 2)[sel].sum())
        n += int(sel.sum()) * 3
    return float(10 * np.log10(255.0**2 / max(se / max(n, 1), 1e-10)))


def summarise(out: Path, rows: list[dict]) -> list[dict]:
    """Per scene, depth variant and method: pooled PSNR, mean SSIM, worst holes, mean streaks."""
    keys = sorted(
        {(r["scene"], r["depth"], r["method"]) for r in rows},
        key=lambda k: (list(SCENES).index(k[0]), DEPTHS.index(k[1]), METHODS.index(k[2])),
    )
    summary = []
    for scene, variant, method in keys:
        sel = [r for r in rows if (r["scene"], r["depth"], r["method"]) == (scene, variant, method)]
        summary.append(
            {
                "scene": scene,
                "depth": variant,
                "method": method,
                "psnr_disoccluded": _pooled_psnr(out, scene, variant, method, "disoccluded"),
                "psnr_visible": _pooled_psnr(out, scene, variant, method, "visible"),
                "psnr_behind": _pooled_psnr(out, scene, variant, method, "behind"),
                "ssim_disoccluded": _mean([r["ssim_disoccluded"] for r in sel]),
                "ssim_visible": _mean([r["ssim_visible"] for r in sel]),
                "holes": max(r["holes"] for r in sel),
                "holes_inside": max(r["holes_inside"] for r in sel),
                "holes_default": max(
                    (r["holes"] for r in sel if targets_of(scene)[r["target"]].default_move),
                    default=float("nan"),
                ),
                "streaks": _mean([r["streaks"] for r in sel]),
            }
        )
    return summary


def _get(summary: list[dict], scene: str, variant: str, method: str) -> dict | None:
    for s in summary:
        if (s["scene"], s["depth"], s["method"]) == (scene, variant, method):
            return s
    return None


def write_results(
    rows: list[dict],
    summary: list[dict],
    path: Path,
    size: str,
    timings: dict,
    fits: dict,
    elapsed: float | None,
) -> None:
    lines = [
        "# Ground-truth benchmark: rubber sheet vs torn single layer vs LDI, exact and realistic depth",
        "",
        "Generated by `benchmarks/ground_truth/benchmark.py` (Blender Cycles CPU, "
        f"{SAMPLES} samples, {size}, emission-textured scenes; see the script's docstring for "
        "the scenes, targets, depth variants and the streak measure). PSNR in dB, SSIM in "
        "[0, 1]. *Disoccluded* = target pixels hidden in the source view or outside its frame; "
        "*behind outlines* = the disoccluded pixels inside the source frame (revealed by "
        "parallax at depth edges, not by the frame border); *visible* = the rest. *Holes* = % of target pixels no triangle covers (worst target); *holes inside frame* = "
        "those holes that lie where the source frame reaches (at outlines, not the border). "
        f"*Streaks* = % of target pixels showing a triangle stretched > {STREAK_RATIO:g}x its "
        "source size (mean over targets).",
        "",
        "Targets: cards, nested, floor: camera moved "
        + ", ".join(f"{k} {v.offset}" for k, v in TARGETS.items())
        + " m; person, pole: sideways by "
        + f"{SIDEWAYS:.0%} of the subject distance ({', '.join(f'{k} {v} m' for k, v in SUBJECT.items())}) "
        + f"turning to the subject, Swing's default ({SWING:.0%} to the right, turning), and a "
        + f"dolly zoom start ({DOLLY:.0%} back, lens x {1 + DOLLY:.2f}). *Holes at default "
        + "moves* = worst of the targets within the presets' default amplitudes (swing, dolly).",
        "",
        "## Per scene and depth (targets pooled)",
        "",
        "| scene | depth | method | PSNR disoccl. | PSNR behind outlines | PSNR visible "
        "| SSIM disoccl. | SSIM visible "
        "| holes % | holes inside frame % | holes at default moves % | streaks % "
        "| LDI gain vs best baseline (disoccl.) | LDI loss vs rubber (visible) "
        "| LDI streaks / rubber |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        extra = ["", "", ""]
        rub = _get(summary, s["scene"], s["depth"], "RUBBER")
        torn = _get(summary, s["scene"], s["depth"], "TORN")
        if s["method"] == "LDI" and rub is not None and torn is not None:
            best = max(rub["psnr_disoccluded"], torn["psnr_disoccluded"])
            ratio = s["streaks"] / rub["streaks"] if rub["streaks"] > 0 else float("nan")
            extra = [
                f"{s['psnr_disoccluded'] - best:+.2f}",
                f"{rub['psnr_visible'] - s['psnr_visible']:+.2f}",
                f"{ratio:.2f}",
            ]
        lines.append(
            f"| {s['scene']} | {s['depth']} | {s['method']} | {s['psnr_disoccluded']:.2f} "
            f"| {s['psnr_behind']:.2f} | {s['psnr_visible']:.2f} | {s['ssim_disoccluded']:.4f} | {s['ssim_visible']:.4f} "
            f"| {100 * s['holes']:.3f} | {100 * s['holes_inside']:.3f} "
            f"| {100 * s['holes_default']:.3f} | {100 * s['streaks']:.3f} | "
            + " | ".join(extra)
            + " |"
        )
    lines += [
        "",
        "## Per scene, depth and target",
        "",
        "| scene | depth | target | disoccl. % | behind % | method | PSNR all | PSNR disoccl. "
        "| PSNR behind | PSNR visible "
        "| SSIM all | SSIM disoccl. | SSIM visible | holes % | streaks % |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (list(SCENES).index(r["scene"]), DEPTHS.index(r["depth"]))):
        lines.append(
            f"| {r['scene']} | {r['depth']} | {r['target']} | {100 * r['disoccluded_fraction']:.1f} "
            f"| {100 * r['behind_fraction']:.1f} | {r['method']} | {r['psnr_all']:.2f} "
            f"| {r['psnr_disoccluded']:.2f} | {r['psnr_behind']:.2f} "
            f"| {r['psnr_visible']:.2f} | {r['ssim_all']:.4f} | {r['ssim_disoccluded']:.4f} "
            f"| {r['ssim_visible']:.4f} | {100 * r['holes']:.3f} | {100 * r['streaks']:.3f} |"
        )
    if fits:
        lines += [
            "",
            "Network depth (Tiefenrausch on the source render) after the least-squares "
            "alignment: mean relative disparity error per scene: "
            + ", ".join(f"{k} {v['absrel_disparity']:.3f}" for k, v in fits.items())
            + ".",
        ]
    if timings:
        lines += ["", "Pipeline time per import (s, this machine, includes reading files):", ""]
        for key, t in timings.items():
            lines.append(f"- {key}: " + ", ".join(f"{m} {v:.2f}" for m, v in t.items()))
    if elapsed is not None:
        lines += ["", f"Whole run (scenes, depths, renders, evaluation): {elapsed / 60:.1f} min."]
    path.write_text("\n".join(lines) + "\n")


def _choices(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    picked = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in picked if v not in known]
    if bad or not picked:
        raise ValueError(f"--{what} {text!r}: choose from {', '.join(known)}")
    return picked


def main() -> int:
    global SAMPLES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/oneshot3d_gt", help="working folder for renders")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--depth", default=",".join(DEPTHS), help="exact,soft,network")
    parser.add_argument("--methods", default=",".join(METHODS), help="RUBBER,TORN,LDI")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="Cycles samples")
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("ONESHOT3D_MODEL_DIR") or str(REFERENCE),
        help="Tiefenrausch model files (network depth)",
    )
    parser.add_argument(
        "--results",
        default="",
        help="table file (default: RESULTS.md next to this script for a full run, "
        "OUT/RESULTS.md for a subset)",
    )
    parser.add_argument(
        "--skip-render", action="store_true", help="only re-evaluate existing renders"
    )
    args = parser.parse_args()
    try:
        width, height = (int(v) for v in args.size.split("x"))
        scenes = _choices(args.scenes, list(SCENES), "scenes")
        variants = _choices(args.depth, DEPTHS, "depth")
        methods = _choices(args.methods, METHODS, "methods")
        if args.samples < 1:
            raise ValueError(f"--samples {args.samples}: must be at least 1")
    except ValueError as e:
        print(f"benchmark.py: {e}", file=sys.stderr)
        return 2
    SAMPLES = args.samples
    methods = [m for m in METHODS if m in methods]  # table order
    if "network" in variants and not args.skip_render:
        missing = [
            f
            for f in ("tiefenrausch.pb", "tiefenrausch_init.pb")
            if not (Path(args.model_dir) / f).is_file()
        ]
        try:
            import torch  # noqa: F401
        except ImportError:
            missing.append("torch")
        if missing:
            print(f"network depth skipped: {', '.join(missing)} missing", flush=True)
            variants.remove("network")
    full = set(scenes) == set(SCENES) and set(variants) == set(DEPTHS) and len(methods) == 3
    results = (
        Path(args.results)
        if args.results
        else (Path(__file__).with_name("RESULTS.md") if full else Path(args.out) / "RESULTS.md")
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, dict[str, float]] = {}
    fits: dict[str, dict[str, float]] = {}
    t_start = time.perf_counter()
    if not args.skip_render:
        scene_build = _load_extension()
        for name in scenes:
            t0 = time.perf_counter()
            make_scene(name, out, width, height)
            if "network" in variants:
                fits[name] = network_depth(name, out, args.model_dir)
            for variant in variants:
                timings[f"{name} {variant}"] = render_methods(
                    name, variant, out, width, height, scene_build, methods
                )
            print(f"{name}: rendered in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = evaluate(out, scenes, variants, methods)
    summary = summarise(out, rows)
    elapsed = None if args.skip_render else time.perf_counter() - t_start
    write_results(rows, summary, results, args.size, timings, fits, elapsed)
    for s in summary:
        print(
            f"{s['scene']:7s} {s['depth']:7s} {s['method']:6s} disoccl {s['psnr_disoccluded']:6.2f} "
            f"visible {s['psnr_visible']:6.2f} holes {100 * s['holes']:6.3f}% "
            f"streaks {100 * s['streaks']:6.3f}%"
        )
    print(f"tables: {results}" + (f" ({elapsed / 60:.1f} min)" if elapsed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
