"""Ground-truth benchmark for the 3D photo mesh: rubber sheet vs torn single layer vs LDI.

    .venv/bin/python benchmarks/ground_truth/benchmark.py [--out DIR] [--size 480x360]

1. Renders synthetic scenes with Blender (Cycles CPU, emission-textured objects, so colours
   do not depend on the viewpoint): several objects at different depths in front of textured
   backgrounds. For each scene: a source view with its exact depth (planar camera-axis depth,
   by ray casting every pixel centre through Blender's own scene BVH) and target views from
   cameras moved left / right / up / forward, each with a mask of the pixels that were hidden
   in the source view (target pixel's surface point either falls outside the source frame or
   lies behind the source depth there) - the disoccluded pixels.
2. Imports each source view with its exact depth through our pipeline and the extension's
   Blender mesh builder (the same code the import operator runs) in the three modes and
   renders the same target views through Blender.
3. Reports PSNR and SSIM over the whole frame, over the disoccluded pixels only and over the
   pixels visible in the source view, per scene and target, and writes the table to
   benchmarks/ground_truth/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # extension.py, shared with the other benchmarks

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

from pipeline.build import build_photo  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402

METHODS = ("RUBBER", "TORN", "LDI")
# Target camera offsets in the source camera's frame (metres; +X right, +Y up, -Z forward).
TARGETS = {
    "left": (-0.12, 0.0, 0.0),
    "right": (0.12, 0.0, 0.0),
    "up": (0.0, 0.10, 0.0),
    "forward": (0.0, 0.0, -0.35),
}
SAMPLES = 16


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


def hole_fraction(path: Path) -> float:
    """Fraction of pixels that no surface covers (alpha below one half)."""
    return float((_read_rgba(path)[..., 3] < 128).mean())


def _ray_depth(cam_loc, width: int, height: int) -> np.ndarray:
    """(H, W, 3) world hit points of the pixel-centre rays of a camera at cam_loc (rest
    orientation, focal = long side px); NaN where nothing is hit."""
    scene = bpy.context.scene
    depsgraph = bpy.context.evaluated_depsgraph_get()
    f = float(max(width, height))
    out = np.full((height, width, 3), np.nan, np.float32)
    origin = Vector(cam_loc)
    for y in range(height):
        dy = (height / 2.0 - (y + 0.5)) / f
        for x in range(width):
            hit, loc, *_ = scene.ray_cast(
                depsgraph, origin, Vector(((x + 0.5 - width / 2.0) / f, dy, -1.0))
            )
            if hit:
                out[y, x] = loc
    return out


def make_scene(name: str, out: Path, width: int, height: int) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _render_settings(width, height)
    for i, (kind, loc, scale, rot, seed, color) in enumerate(SCENES[name]):
        _add(kind, f"{name}_{i}", loc, scale, rot, seed, color)
    cam = _camera(width, height)
    f = float(max(width, height))
    src_pts = _ray_depth((0, 0, 0), width, height)
    src_depth = -src_pts[..., 2]
    assert np.isfinite(src_depth).all(), "the source view must hit geometry everywhere"
    cam.location = (0, 0, 0)
    _render(out / f"{name}_source.png")
    np.save(out / f"{name}_depth.npy", src_depth.astype(np.float32))
    for tname, off in TARGETS.items():
        cam.location = off
        _render(out / f"{name}_{tname}_gt.png")
        pts = _ray_depth(off, width, height)
        z = -pts[..., 2]
        u = f * pts[..., 0] / z + width / 2.0
        v = height / 2.0 - f * pts[..., 1] / z
        inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
        ui = np.clip(u.astype(int), 0, width - 1)
        vi = np.clip(v.astype(int), 0, height - 1)
        hidden = z > src_depth[vi, ui] * 1.01 + 0.01
        disoccluded = ~np.isfinite(z) | ~inside | hidden
        np.save(out / f"{name}_{tname}_mask.npy", disoccluded)
    return {"f": f}


def _compat():
    """The extension's operators.compat (what differs between Blender versions)."""
    from extension import load_extension

    return importlib.import_module(load_extension().__name__ + ".operators.compat")


def _load_extension():
    from extension import load_extension

    return importlib.import_module(load_extension().__name__ + ".operators.scene_build")


def render_methods(name: str, out: Path, width: int, height: int, scene_build) -> dict[str, float]:
    timings = {}
    for method in METHODS:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        _render_settings(width, height)
        settings = PipelineSettings(
            filepath=str(out / f"{name}_source.png"),
            depth_filepath=str(out / f"{name}_depth.npy"),
            depth_kind="DEPTH",
            mesh_mode=method,
        )
        t0 = time.perf_counter()
        data = build_photo(settings)
        timings[method] = time.perf_counter() - t0
        imported = scene_build.build_photo_objects(bpy.context, data, settings, name=method)
        _render_settings(width, height)
        cam = imported.camera_object
        for tname, off in TARGETS.items():
            cam.location = off
            _render(out / f"{name}_{tname}_{method}.png")
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


def evaluate(out: Path, scenes: list[str]) -> list[dict]:
    rows = []
    for name in scenes:
        for tname in TARGETS:
            gt = read_rgb(out / f"{name}_{tname}_gt.png")
            mask = np.load(out / f"{name}_{tname}_mask.npy")
            full = np.ones_like(mask)
            for method in METHODS:
                img = read_rgb(out / f"{name}_{tname}_{method}.png")
                smap = ssim_map(img, gt)
                rows.append(
                    {
                        "scene": name,
                        "target": tname,
                        "method": method,
                        "disoccluded_fraction": float(mask.mean()),
                        "psnr_all": psnr(img, gt, full),
                        "psnr_disoccluded": psnr(img, gt, mask),
                        "psnr_visible": psnr(img, gt, ~mask),
                        "holes": hole_fraction(out / f"{name}_{tname}_{method}.png"),
                        "ssim_all": float(smap.mean()),
                        "ssim_disoccluded": float(smap[mask].mean())
                        if mask.any()
                        else float("nan"),
                    }
                )
    return rows


def _pooled_psnr(out: Path, scene: str, method: str, which: str) -> float:
    """PSNR over the union of all targets' pixels of a kind (pooled MSE)."""
    se, n = 0.0, 0
    for tname in TARGETS:
        gt = read_rgb(out / f"{scene}_{tname}_gt.png").astype(np.float64)
        img = read_rgb(out / f"{scene}_{tname}_{method}.png").astype(np.float64)
        mask = np.load(out / f"{scene}_{tname}_mask.npy")
        sel = mask if which == "disoccluded" else ~mask
        se += float(((img - gt) ** 2)[sel].sum())
        n += int(sel.sum()) * 3
    return float(10 * np.log10(255.0**2 / max(se / max(n, 1), 1e-10)))


def write_results(
    rows: list[dict], path: Path, out: Path, scenes: list[str], size: str, timings: dict
) -> None:
    lines = [
        "# Ground-truth benchmark: rubber sheet vs torn single layer vs LDI",
        "",
        "Generated by `benchmarks/ground_truth/benchmark.py` (Blender Cycles CPU, "
        f"{SAMPLES} samples, {size}, emission-textured scenes; exact source depth by ray casting; "
        "targets: camera moved "
        + ", ".join(f"{k} {v}" for k, v in TARGETS.items())
        + " m in the source camera frame). PSNR in dB, SSIM in [0, 1]. *Disoccluded* = target "
        "pixels hidden in the source view or outside its frame; *visible* = the rest.",
        "",
        "## Per scene (all four targets pooled)",
        "",
        "| scene | method | PSNR disoccluded | PSNR visible | LDI gain vs best baseline (disoccl.) | LDI loss vs rubber (visible) | holes (% of target pixels, worst target) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scene in scenes:
        pooled = {
            m: (_pooled_psnr(out, scene, m, "disoccluded"), _pooled_psnr(out, scene, m, "visible"))
            for m in METHODS
        }
        best = max(pooled["RUBBER"][0], pooled["TORN"][0])
        holes = {
            m: max(r["holes"] for r in rows if r["scene"] == scene and r["method"] == m)
            for m in METHODS
        }
        for m in METHODS:
            gain = f"{pooled['LDI'][0] - best:+.2f}" if m == "LDI" else ""
            loss = f"{pooled['RUBBER'][1] - pooled['LDI'][1]:+.2f}" if m == "LDI" else ""
            lines.append(
                f"| {scene} | {m} | {pooled[m][0]:.2f} | {pooled[m][1]:.2f} | {gain} | {loss} "
                f"| {100 * holes[m]:.3f} |"
            )
    lines += [
        "",
        "## Per scene and target",
        "",
        "| scene | target | disoccl. % | method | PSNR all | PSNR disoccl. | PSNR visible | SSIM all | SSIM disoccl. |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scene']} | {r['target']} | {100 * r['disoccluded_fraction']:.1f} | {r['method']} | "
            f"{r['psnr_all']:.2f} | {r['psnr_disoccluded']:.2f} | {r['psnr_visible']:.2f} | "
            f"{r['ssim_all']:.4f} | {r['ssim_disoccluded']:.4f} |"
        )
    lines += ["", "Pipeline time per import (s, this machine, includes reading files):", ""]
    for scene, t in timings.items():
        lines.append(f"- {scene}: " + ", ".join(f"{m} {v:.2f}" for m, v in t.items()))
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/oneshot3d_gt", help="working folder for renders")
    parser.add_argument("--size", default="480x360")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument(
        "--skip-render", action="store_true", help="only re-evaluate existing renders"
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = [s for s in args.scenes.split(",") if s]
    timings: dict[str, dict[str, float]] = {}
    if not args.skip_render:
        scene_build = _load_extension()
        for name in scenes:
            t0 = time.perf_counter()
            make_scene(name, out, width, height)
            timings[name] = render_methods(name, out, width, height, scene_build)
            print(f"{name}: rendered in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = evaluate(out, scenes)
    write_results(rows, Path(args.results), out, scenes, args.size, timings)
    for r in rows:
        print(
            f"{r['scene']:8s} {r['target']:8s} {r['method']:7s} disoccl {r['psnr_disoccluded']:6.2f} "
            f"visible {r['psnr_visible']:6.2f} all {r['psnr_all']:6.2f} holes {r['holes']:.5f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
