"""What a smaller geometry budget costs on a 12 MP photo: renders at a candidate budget against
renders at the reference budget, through the rest camera and a moved one.

    .venv/bin/python benchmarks/bench_geometry_budget.py [--budgets 12.6 6] [--long-side 4032]
        [--photo ../shared/reference/tiefenrausch/pumpkin.jpg --disp disparity.npy]
        [--samples 4] [--out ../scratch/budget_pumpkin]

The photo (and its disparity, ``--disp``: a .npy at any size, e.g. the Tiefenrausch
prediction; without it, the project's Tiefenrausch backend predicts it from the photo) is
enlarged to ``--long-side`` (INTER_CUBIC, the disparity bilinearly, as the depth backends
resize a network's prediction), then imported with the extension's own operator
(``oneshot3d.import_photo``) at each budget (``geometry_megapixels``; the first is the
reference). Each import is rendered with Cycles (``blender/render.py``'s settings, fixed
seed) through the photo's camera (rest) and at the far end of a Swing
(``oneshot3d.animate_camera``, ``--amplitude`` 4 % sideways, the same for every build).
Holes (alpha < 0.5) are painted magenta. The whole frame is rendered at ``--percentage`` of
the photo's size, the outline windows at full size (border renders).

Prints the PSNR of each candidate's renders against the reference's (whole frame, and in
windows around the strongest depth outlines, where a coarser lattice would show), the
triangle counts, and writes ``OUT/budget_crops.png``: per outline, 3x crops of the rest and
the moved view at the reference budget and each candidate, with the absolute difference
(x4).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import real_photos  # noqa: E402  (shared helpers: outlines, crops, extreme frames)

CROP_FRACTION = 1 / 36  # crop side as a fraction of the long side (112 px at 4032 px)
CROPS = 3
ZOOM = 3


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / max(mse, 1e-12))


def make_input(args, folder: Path, ext) -> tuple[Path, Path, np.ndarray]:
    """The photo enlarged to ``--long-side`` and its disparity at the same size."""
    image_io = importlib.import_module(ext.__name__ + ".pipeline.io.image_io")
    rgb = image_io.read_photo(Path(args.photo)).rgb8()
    h, w = rgb.shape[:2]
    scale = args.long_side / max(h, w)
    size = (round(w * scale), round(h * scale))
    big = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    if args.disp:
        disp = np.load(args.disp).astype(np.float32)
    else:
        build = importlib.import_module(ext.__name__ + ".pipeline.build")
        settings_mod = importlib.import_module(ext.__name__ + ".pipeline.settings")
        settings = settings_mod.PipelineSettings(
            filepath=str(args.photo), depth_backend="tiefenrausch"
        )
        disp = build.load_depth(image_io.read_photo(Path(args.photo)), settings).disparity()
    disp = cv2.resize(disp, size, interpolation=cv2.INTER_LINEAR)
    photo_path, disp_path = folder / "photo.png", folder / "disp.npy"
    image_io.write_image_atomic(photo_path, big)
    np.save(disp_path, disp)
    return photo_path, disp_path, disp


def render(bpy, scene, frame: int, path: Path, percentage: int, windows: list) -> np.ndarray:
    """The frame at ``percentage`` of the photo's size, then each window (x0, y0, x1, y1) at
    full size (border renders): returns the frame and the window crops."""
    render = scene.render
    render.use_border = False
    render.resolution_percentage = percentage
    real_photos.render_frame(bpy, scene, frame, path)
    frame_rgb = real_photos.composite(path)
    render.resolution_percentage = 100
    render.use_border = render.use_crop_to_border = True
    w, h = render.resolution_x, render.resolution_y
    crops = []
    for i, (x0, y0, x1, y1) in enumerate(windows):
        render.border_min_x, render.border_max_x = x0 / w, x1 / w
        render.border_min_y, render.border_max_y = 1 - y1 / h, 1 - y0 / h
        crop_path = path.with_name(f"{path.stem}_crop{i}.png")
        real_photos.render_frame(bpy, scene, frame, crop_path)
        crops.append(real_photos.composite(crop_path))
    render.use_border = False
    return frame_rgb, crops


def windows_at(centres: list, window: int, width: int, height: int) -> list:
    out = []
    for x, y in centres:
        x0 = int(np.clip(x - window // 2, 0, width - window))
        y0 = int(np.clip(y - window // 2, 0, height - window))
        out.append((x0, y0, x0 + window, y0 + window))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", type=float, default=[12.6, 6.0])
    parser.add_argument("--photo", default=str(real_photos.REFERENCE / "pumpkin.jpg"))
    parser.add_argument("--disp", default="", help=".npy disparity (default: Tiefenrausch)")
    parser.add_argument("--long-side", type=int, default=4032)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument(
        "--amplitude",
        type=float,
        default=0.04,
        help="Swing amplitude, fraction of the focus distance (fixed: the preset's default is "
        "limited per build by its safe move, so it would differ between the budgets)",
    )
    parser.add_argument(
        "--percentage", type=int, default=25, help="size of the whole-frame renders, %%"
    )
    parser.add_argument("--out", default=str(ROOT / "out" / "geometry_budget"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="oneshot3d_bu_"))
    import bpy
    from extension import load_extension

    ext = load_extension()
    render_mod = importlib.import_module(ext.__name__ + ".blender.render")
    photo_path, disp_path, disp = make_input(args, out, ext)
    height, width = disp.shape
    window = max(16, round(CROP_FRACTION * max(width, height)))
    centres = real_photos.strongest_outlines(disp, CROPS, window)
    sides = real_photos.outline_sides(disp, centres, window)

    rest_windows = windows_at(centres, window, width, height)
    renders: dict[float, dict[str, tuple]] = {}
    moved_windows: list = []
    for budget in args.budgets:
        bpy.ops.wm.read_homefile(use_empty=True)
        result = bpy.ops.oneshot3d.import_photo(
            filepath=str(photo_path),
            depth_filepath=str(disp_path),
            depth_kind="DISPARITY",
            geometry_megapixels=budget,
        )
        if result != {"FINISHED"}:
            raise RuntimeError(f"import at {budget} MP failed")
        scene = bpy.context.scene
        mesh_obj = next(o for o in bpy.data.objects if o.type == "MESH")
        polygons = mesh_obj.data.polygons
        loops = np.empty(len(polygons), np.int32)
        polygons.foreach_get("loop_total", loops)
        triangles = int((loops - 2).sum())
        real_photos.configure(scene, render_mod, "cycles", args.samples)
        scene.cycles.seed = 0
        scene.cycles.use_auto_tile = False  # no tiles written to disk
        scene.render.use_persistent_data = True  # later renders reuse the first one's BVH
        rest = render(
            bpy,
            scene,
            scene.frame_current,
            out / f"rest_{budget:g}.png",
            args.percentage,
            rest_windows,
        )
        if not moved_windows:  # the outlines' places in the moved view, from the reference
            pixels = [p for pair in sides for p in pair]
            points = real_photos.surface_points(bpy, scene, pixels, width, height)
        if bpy.ops.oneshot3d.animate_camera(preset="SWING", amplitude=args.amplitude) != {
            "FINISHED"
        }:
            raise RuntimeError("animate_camera failed")
        camera = scene.camera
        frames = real_photos.extreme_frames(scene, camera, scene.frame_start, scene.frame_end)
        frame = next(f for f, label in frames if label == "+x")
        if not moved_windows:
            scene.frame_set(frame)
            moved = real_photos.track_outlines(scene, camera, sides, points, width, height)
            moved_windows = windows_at(moved, window, width, height)
        renders[budget] = {
            "rest": rest,
            "moved": render(
                bpy, scene, frame, out / f"moved_{budget:g}.png", args.percentage, moved_windows
            ),
        }
        print(f"{budget:g} MP: {triangles:,} triangles", flush=True)

    ref = args.budgets[0]
    for budget in args.budgets[1:]:
        for view in ("rest", "moved"):
            (a, a_crops), (b, b_crops) = renders[ref][view], renders[budget][view]
            crops_a = np.concatenate([c.reshape(-1, 3) for c in a_crops])
            crops_b = np.concatenate([c.reshape(-1, 3) for c in b_crops])
            differ = np.abs(crops_a.astype(int) - crops_b).max(1) > 8
            print(
                f"{budget:g} vs {ref:g} MP, {view}: PSNR {psnr(a, b):.2f} dB "
                f"(whole frame at {args.percentage} %), at outlines (full size) "
                f"{psnr(crops_a, crops_b):.2f} dB, pixels differing by > 8 there: "
                f"{100 * differ.mean():.2f} %",
                flush=True,
            )
    rows = []
    for i in range(len(centres)):
        cells = []
        for view in ("rest", "moved"):
            ref_crop = renders[ref][view][1][i]
            zoom = (window * ZOOM, window * ZOOM)
            big = cv2.resize(ref_crop, zoom, interpolation=cv2.INTER_NEAREST)
            cells.append(real_photos._label(big, f"{view} {ref:g} MP"))
            for budget in args.budgets[1:]:
                crop = renders[budget][view][1][i]
                diff = np.clip(np.abs(crop.astype(int) - ref_crop) * 4, 0, 255).astype(np.uint8)
                for img, text in ((crop, f"{view} {budget:g} MP"), (diff, "|diff| x4")):
                    big = cv2.resize(img, zoom, interpolation=cv2.INTER_NEAREST)
                    cells.append(real_photos._label(big, text))
        rows.append(real_photos._row(cells, 0))
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(out / "budget_crops.png"), sheet[:, :, ::-1])
    print(f"crops: {out / 'budget_crops.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
