"""Real photos through the whole chain, as a user would run them: contact sheets and hole counts.

    .venv/bin/python benchmarks/real_photos.py [--photos pumpkin,astronaut,coffee,chelsea,rocket]
        [--out out/real_photos] [--size 640] [--mesh-mode LDI|RUBBER|TORN] [--frames 90]
        [--engine cycles|workbench] [--samples 4]

Per photo:

1. The photo is read (EXIF orientation applied) and reduced so that its long side is at most
   ``--size`` px (INTER_AREA), written to ``OUT/<name>/<name>.png``: the file the pipeline
   reads.
2. Depth from the project's own Tiefenrausch backend (``pipeline/depth/tiefenrausch.py``; model
   files from ``--model-dir``, else ``$ONESHOT3D_MODEL_DIR``, else ``../shared/reference/
   tiefenrausch``), through the depth cache the import uses; then the mesh in ``--mesh-mode``
   and the extension's own Blender import code (``blender/scene.py``).
3. The extension's ``oneshot3d.animate_camera`` operator keys each preset (Swing, Circle,
   Zoom In, Dolly Zoom) at its default amplitude and length; the *extreme frames* are the
   frames where the camera is farthest along +-x, +-y, +-z (the lens of a Dolly Zoom
   follows z), e.g. both ends of a Swing, four points of a Circle.
4. Each extreme frame is rendered with a transparent film: Cycles CPU with ``--samples`` 4 by
   default (~4 s CPU per 640 px frame here), or ``--engine workbench`` (FLAT light + TEXTURE
   colour; software GL on this machine, no faster).
   **Hole fraction** = pixels of the frame with alpha < 0.5 (nothing of the mesh covers them).
5. ``OUT/<name>/<name>_sheet.png``: the photo and its disparity, then one row per preset with
   its extreme frames (half size), then one row per strong depth outline with 3x crops of the
   same window in the photo and in every extreme frame. Holes are painted **magenta**
   (255, 0, 255) so that they cannot be mistaken for dark image content.

Prints per photo and preset the hole fraction of each extreme frame and the maximum, and
writes them to ``OUT/holes.json`` and ``OUT/holes.md``.

The scikit-image photos (astronaut, coffee, chelsea, rocket) are not in this repository and
scikit-image is not a dependency: the first run downloads its wheel with pip (``pip download
--no-deps``, the ordinary package-index client) and extracts only those four files into
``~/.cache/oneshot3d-photos`` (``--photo-cache``). Any other ``--photos`` entry is a file path.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # extension.py, shared with the other benchmarks

REFERENCE = ROOT.parent / "shared" / "reference" / "tiefenrausch"
SKIMAGE_VERSION = "0.24.0"
SKIMAGE_PHOTOS = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
}
DEFAULT_PHOTOS = ("pumpkin", *SKIMAGE_PHOTOS)
PRESETS = ("SWING", "CIRCLE", "ZOOM_IN", "DOLLY_ZOOM")
HOLE_COLOUR = (255, 0, 255)
CROP_WINDOW = 1 / 12  # crop side as a fraction of the long side (53 px at 640 px)
CROP_ZOOM = 3
CROPS = 3  # strongest outlines shown per photo
PIPELINE_MODULES = ("build", "io.image_io", "settings")


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


@dataclass
class Frame:
    preset: str
    frame: int
    label: str
    path: Path
    holes: float = 0.0
    # Where each crop's scene point lands in this frame (x, y px): crops follow the outline.
    centres: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class PhotoResult:
    name: str
    size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)

    def worst(self, preset: str) -> float:
        return max((f.holes for f in self.frames if f.preset == preset), default=float("nan"))


# --- photos -------------------------------------------------------------------------------------


def fetch_skimage_photos(cache: Path) -> None:
    """Extract scikit-image's sample photos from its wheel (downloaded with pip, then deleted)."""
    missing = [f for f in SKIMAGE_PHOTOS.values() if not (cache / f).exists()]
    if not missing:
        return
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oneshot3d_skimage_") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += [f"scikit-image=={SKIMAGE_VERSION}", "-d", tmp, "-q"]
        print(f"fetching scikit-image {SKIMAGE_VERSION}'s sample photos into {cache}", flush=True)
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("scikit_image-*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise UsageError(f"cannot download scikit-image's photos with pip: {last}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in missing:
                data = wheel.read(f"skimage/data/{name}")
                part = cache / (name + ".part")
                part.write_bytes(data)
                os.replace(part, cache / name)


def resolve_photos(names: list[str], cache: Path) -> list[tuple[str, Path]]:
    if any(n in SKIMAGE_PHOTOS for n in names):
        fetch_skimage_photos(cache)
    photos = []
    for name in names:
        if name == "pumpkin":
            path = REFERENCE / "pumpkin.jpg"
        elif name in SKIMAGE_PHOTOS:
            path = cache / SKIMAGE_PHOTOS[name]
        else:
            path = Path(name)
        if not path.is_file():
            raise UsageError(f"--photos: {name!r} is neither a known photo nor a file")
        photos.append((path.stem, path))
    return photos


def scaled_copy(path: Path, dest: Path, long_side: int, pipeline) -> np.ndarray:
    """The photo (EXIF-oriented) with its long side reduced to ``long_side``, written to
    ``dest`` as PNG; returns the RGB pixels."""
    rgb = pipeline.image_io.read_photo(path).rgb8()
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    if scale < 1.0:  # never enlarge: that would only blur the photo
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    dest.parent.mkdir(parents=True, exist_ok=True)
    pipeline.image_io.write_image_atomic(dest, rgb)
    return rgb


# --- Blender ------------------------------------------------------------------------------------


def extreme_frames(scene, camera, first: int, last: int) -> list[tuple[int, str]]:
    """Frames where the keyed camera is farthest along each of +-x, +-y, +-z (the lens of a
    dolly zoom follows z); only moves of at least a quarter of the largest."""
    poses = []
    for f in range(first, last + 1):
        scene.frame_set(f)
        poses.append(tuple(camera.location))
    p = np.asarray(poses, np.float64)
    reach = np.abs(p[:, :3]).max()
    picks: dict[int, str] = {}
    for axis, name in enumerate("xyz"):
        for sign, tag in ((1, "+"), (-1, "-")):
            i = int(np.argmax(sign * p[:, axis]))
            if sign * p[i, axis] > 0.25 * reach > 0 and first + i not in picks:
                picks[first + i] = f"{tag}{name}"
    return sorted(picks.items())


def render_frame(bpy, scene, frame: int, path: Path) -> float:
    """Render ``frame`` to ``path`` (RGBA PNG); returns the hole fraction (alpha < 0.5)."""
    scene.frame_set(frame)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    alpha = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., 3]
    return float((alpha < 128).mean())


def configure(scene, render_mod, engine: str, samples: int) -> None:
    render_mod.configure_engine(scene, engine.upper(), samples)
    render_mod.configure_output(scene, "PNG")
    scene.render.film_transparent = True  # holes: alpha 0
    scene.render.image_settings.color_mode = "RGBA"


# --- contact sheet ------------------------------------------------------------------------------


def strongest_outlines(disp: np.ndarray, count: int, window: int) -> list[tuple[int, int]]:
    """Centres (x, y) of the ``count`` strongest disparity steps, at least a window apart and
    a half window inside the frame: the places where parallax artefacts show."""
    d = disp.astype(np.float32) / max(float(disp.max()), 1e-12)
    # The jump across a span of several px, so that a network's soft ramp counts in full
    # (a 1 px difference would favour small sharp blobs over soft outlines).
    k = max(2, window // 10)
    gx = np.abs(np.roll(d, -k, 1) - np.roll(d, k, 1))
    gy = np.abs(np.roll(d, -k, 0) - np.roll(d, k, 0))
    g = np.maximum(gx, gy)
    half = window // 2 + 1
    g[:half], g[-half:], g[:, :half], g[:, -half:] = 0, 0, 0, 0
    g = cv2.GaussianBlur(g, (0, 0), window / 6.0)  # a long outline beats a small blob
    centres = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(g)), g.shape)
        if g[y, x] <= 0:
            break
        centres.append((int(x), int(y)))
        g[max(0, y - window) : y + window, max(0, x - window) : x + window] = 0
    return centres


def composite(path: Path) -> np.ndarray:
    """RGB of a rendered RGBA PNG with holes (alpha < 0.5) painted magenta, edges blended."""
    bgra = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32)
    rgb, a = bgra[..., 2::-1], bgra[..., 3:] / 255.0
    over = np.asarray(HOLE_COLOUR, np.float32)[None, None, :]
    out = rgb * a + over * (1 - a)
    out[a[..., 0] < 0.5] = over
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((18, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def _row(cells: list[np.ndarray], width: int) -> np.ndarray:
    h = max(c.shape[0] for c in cells)
    pad = [np.pad(c, ((0, h - c.shape[0]), (0, 4), (0, 0)), constant_values=200) for c in cells]
    row = np.concatenate(pad, axis=1)
    return np.pad(row, ((0, 4), (0, max(0, width - row.shape[1])), (0, 0)), constant_values=200)


def _crop(img: np.ndarray, centre: tuple[int, int], window: int) -> np.ndarray:
    """``window`` px around ``centre`` (grey outside the image), enlarged CROP_ZOOM times."""
    x, y = centre
    h = window // 2
    pad = (window,) * 4
    padded = cv2.copyMakeBorder(img, *pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    x = int(np.clip(x, -h, img.shape[1] + h))
    y = int(np.clip(y, -h, img.shape[0] + h))
    patch = padded[y - h + window : y - h + 2 * window, x - h + window : x - h + 2 * window]
    return cv2.resize(
        patch,
        (patch.shape[1] * CROP_ZOOM, patch.shape[0] * CROP_ZOOM),
        interpolation=cv2.INTER_NEAREST,
    )


def crop_window(width: int, height: int) -> int:
    return max(16, round(CROP_WINDOW * max(width, height)))


def outline_sides(
    disp: np.ndarray, centres: list[tuple[int, int]], window: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per crop centre, its nearest (largest disparity) and farthest pixel within the span
    the outline was measured over: the two sides of the outline."""
    k = max(2, window // 10)
    h, w = disp.shape
    sides = []
    for x, y in centres:
        x0, y0 = max(0, x - k), max(0, y - k)
        box = disp[y0 : min(h, y + k + 1), x0 : min(w, x + k + 1)]
        near = np.unravel_index(int(np.argmax(box)), box.shape)
        far = np.unravel_index(int(np.argmin(box)), box.shape)
        sides.append(((x0 + near[1], y0 + near[0]), (x0 + far[1], y0 + far[0])))
    return sides


def surface_points(bpy, scene, pixels: list[tuple[int, int]], width: int, height: int) -> list:
    """The 3D photo's surface point seen through each pixel from the rest camera (None where
    the ray misses)."""
    from mathutils import Vector

    cam = scene.camera
    f = cam.data.lens / cam.data.sensor_width * max(width, height)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    points = []
    for x, y in pixels:
        d = Vector(((x + 0.5 - width / 2) / f, (height / 2 - y - 0.5) / f, -1.0))
        hit, loc, *_ = scene.ray_cast(depsgraph, cam.matrix_world.translation, d)
        points.append(loc.copy() if hit else None)
    return points


def project_points(scene, camera, points: list, fallback: list, width: int, height: int) -> list:
    """Pixel positions of ``points`` in the current frame's camera (``fallback`` where a
    point is None)."""
    from bpy_extras.object_utils import world_to_camera_view

    out = []
    for p, keep in zip(points, fallback, strict=True):
        if p is None:
            out.append(keep)
            continue
        u, v, _ = world_to_camera_view(scene, camera, p)
        out.append((u * width, (1.0 - v) * height))
    return out


def track_outlines(scene, camera, sides: list, points: list, width: int, height: int) -> list:
    """Where each outline lies in the current frame: the mean of its two sides' projections,
    so that what the move reveals between them stays in the crop."""
    flat = [p for pair in sides for p in pair]
    moved = project_points(scene, camera, points, flat, width, height)
    return [
        (int(round((a[0] + b[0]) / 2)), int(round((a[1] + b[1]) / 2)))
        for a, b in zip(moved[::2], moved[1::2], strict=True)
    ]


def contact_sheet(
    rgb: np.ndarray,
    disp: np.ndarray,
    result: PhotoResult,
    centres: list[tuple[int, int]],
    window: int,
    path: Path,
) -> None:
    h, w = rgb.shape[:2]
    half = (max(1, w // 2), max(1, h // 2))
    d8 = (255 * disp / max(float(disp.max()), 1e-12)).astype(np.uint8)
    disp_rgb = cv2.applyColorMap(d8, cv2.COLORMAP_INFERNO)[..., ::-1]
    marked = rgb.copy()
    for i, (x, y) in enumerate(centres):
        hw = window // 2
        cv2.rectangle(marked, (x - hw, y - hw), (x - hw + window, y - hw + window), (0, 255, 0), 1)
        cv2.putText(marked, str(i + 1), (x - hw + 2, y - hw - 3), 0, 0.4, (0, 255, 0), 1)
    renders = {(f.preset, f.frame): composite(f.path) for f in result.frames}
    rows = [
        [
            _label(cv2.resize(marked, half, interpolation=cv2.INTER_AREA), "photo (crop windows)"),
            _label(
                cv2.resize(disp_rgb, half, interpolation=cv2.INTER_AREA), "Tiefenrausch disparity"
            ),
        ]
    ]
    for preset in PRESETS:
        cells = [
            _label(
                cv2.resize(renders[(f.preset, f.frame)], half, interpolation=cv2.INTER_AREA),
                f"{preset} f{f.frame} {f.label} holes {100 * f.holes:.2f}%",
            )
            for f in result.frames
            if f.preset == preset
        ]
        if cells:
            rows.append(cells)
    for i, c in enumerate(centres):
        cells = [_label(_crop(rgb, c, window), f"{i + 1}: photo")]
        for f in result.frames:
            name = f.preset.replace("_", " ").title().replace(" ", "")
            crop = _crop(renders[(f.preset, f.frame)], f.centres[i], window)
            cells.append(_label(crop, f"{name} {f.label}"))
        rows.append(cells)
    width = max(sum(c.shape[1] + 4 for c in r) for r in rows)
    sheet = np.concatenate([_row(r, width) for r in rows], axis=0)
    title = f"{result.name} {w}x{h}  holes magenta  max hole %: " + "  ".join(
        f"{p} {100 * result.worst(p):.2f}" for p in PRESETS
    )
    cv2.imwrite(str(path), _label(sheet, title)[..., ::-1])


# --- main ---------------------------------------------------------------------------------------


def run_photo(name: str, source: Path, args, ext, bpy) -> PhotoResult:
    pipe = argparse.Namespace(
        **{
            m.rsplit(".", 1)[-1]: importlib.import_module(f"{ext.__name__}.pipeline.{m}")
            for m in PIPELINE_MODULES
        }
    )
    render_mod = importlib.import_module(ext.__name__ + ".blender.render")
    scene_build = importlib.import_module(ext.__name__ + ".blender.scene")
    folder = Path(args.out) / name
    t0 = time.perf_counter()
    rgb = scaled_copy(source, folder / f"{name}.png", args.size, pipe)
    settings = pipe.settings.PipelineSettings(
        filepath=str(folder / f"{name}.png"),
        depth_backend="tiefenrausch",
        model_dir=str(args.model_dir),
        mesh_mode=args.mesh_mode,
    )
    photo = pipe.image_io.read_photo(settings.filepath)
    depth = pipe.build.load_depth(photo, settings)
    result = PhotoResult(name, (photo.width, photo.height))
    result.seconds["depth"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = pipe.build.build_mesh(photo, depth, settings)
    result.seconds["mesh"] = time.perf_counter() - t0
    disp = depth.disparity()

    t0 = time.perf_counter()
    bpy.ops.wm.read_homefile(use_empty=True)
    scene_build.build_photo_objects(bpy.context, data, settings, name=name)
    scene = bpy.context.scene
    configure(scene, render_mod, args.engine, args.samples)
    window = crop_window(photo.width, photo.height)
    centres = strongest_outlines(disp, CROPS, window)
    sides = outline_sides(disp, centres, window)
    pixels = [p for pair in sides for p in pair]
    points = surface_points(bpy, scene, pixels, photo.width, photo.height)
    for preset in PRESETS:
        if bpy.ops.oneshot3d.animate_camera(preset=preset, frames=args.frames) != {"FINISHED"}:
            raise RuntimeError(f"{name}: animate_camera({preset}) failed")
        camera = scene.camera
        for frame, label in extreme_frames(scene, camera, scene.frame_start, scene.frame_end):
            path = folder / f"{name}_{preset.lower()}_{frame:03d}.png"
            holes = render_frame(bpy, scene, frame, path)
            moved = track_outlines(scene, camera, sides, points, photo.width, photo.height)
            result.frames.append(Frame(preset, frame, label, path, holes, moved))
    result.seconds["render"] = time.perf_counter() - t0
    contact_sheet(rgb, disp, result, centres, window, folder / f"{name}_sheet.png")
    return result


def write_summary(results: list[PhotoResult], args) -> None:
    out = Path(args.out)
    (out / "holes.json").write_text(
        json.dumps(
            {
                "mesh_mode": args.mesh_mode,
                "size": args.size,
                "engine": args.engine,
                "photos": [
                    {
                        "name": r.name,
                        "size": r.size,
                        "seconds": r.seconds,
                        "frames": [
                            {
                                "preset": f.preset,
                                "frame": f.frame,
                                "pose": f.label,
                                "holes": f.holes,
                            }
                            for f in r.frames
                        ],
                        "max_holes": {p: r.worst(p) for p in PRESETS},
                    }
                    for r in results
                ],
            },
            indent=1,
        )
    )
    lines = [
        f"Hole fraction (% of frame pixels with alpha < 0.5), max over the extreme frames; "
        f"mesh mode {args.mesh_mode}, long side {args.size} px, {args.engine}.",
        "",
        "| photo | " + " | ".join(PRESETS) + " |",
        "|---|" + "---:|" * len(PRESETS),
    ]
    for r in results:
        lines.append(
            f"| {r.name} | " + " | ".join(f"{100 * r.worst(p):.3f}" for p in PRESETS) + " |"
        )
    (out / "holes.md").write_text("\n".join(lines) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--photos",
        default=",".join(DEFAULT_PHOTOS),
        help="comma-separated: pumpkin, astronaut, coffee, chelsea, rocket or file paths",
    )
    parser.add_argument("--out", default=str(ROOT / "out" / "real_photos"))
    parser.add_argument("--size", type=int, default=640, help="long side in px")
    parser.add_argument("--mesh-mode", default="LDI", choices=("LDI", "RUBBER", "TORN"))
    parser.add_argument("--frames", type=int, default=90, help="animation length per preset")
    parser.add_argument("--engine", default="cycles", choices=("workbench", "cycles"))
    parser.add_argument("--samples", type=int, default=4, help="Cycles samples")
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("ONESHOT3D_MODEL_DIR") or str(REFERENCE),
        help="folder with tiefenrausch.pb and tiefenrausch_init.pb",
    )
    parser.add_argument(
        "--photo-cache",
        default=str(Path.home() / ".cache" / "oneshot3d-photos"),
        help="where scikit-image's photos are extracted",
    )
    args = parser.parse_args(argv)
    if not 32 <= args.size <= 8192:
        raise UsageError(f"--size {args.size}: must be between 32 and 8192 px")
    if args.frames < 2:
        raise UsageError(f"--frames {args.frames}: must be at least 2")
    for f in ("tiefenrausch.pb", "tiefenrausch_init.pb"):
        if not (Path(args.model_dir) / f).is_file():
            raise UsageError(f"--model-dir {args.model_dir}: no {f} there")
    args.photos = [p.strip() for p in args.photos.split(",") if p.strip()]
    if not args.photos:
        raise UsageError("--photos: give at least one photo")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        photos = resolve_photos(args.photos, Path(args.photo_cache))
    except UsageError as e:
        print(f"real_photos.py: {e}", file=sys.stderr)
        return 2
    # Measure this checkout, never an extension installed in the user's Blender.
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="oneshot3d_bu_"))
    import bpy
    from extension import load_extension

    ext = load_extension()
    results = []
    for name, source in photos:
        r = run_photo(name, source, args, ext, bpy)
        results.append(r)
        holes = "  ".join(f"{p} {100 * r.worst(p):.3f}%" for p in PRESETS)
        print(
            f"{name:10s} {r.size[0]}x{r.size[1]} {args.mesh_mode}: max holes {holes}  "
            f"(depth {r.seconds['depth']:.1f} s, mesh {r.seconds['mesh']:.1f} s, "
            f"render {r.seconds['render']:.1f} s)",
            flush=True,
        )
        for f in r.frames:
            print(f"    {f.preset:10s} frame {f.frame:3d} {f.label}: holes {100 * f.holes:.3f}%")
    write_summary(results, args)
    print(f"sheets: {Path(args.out)}/<photo>/<photo>_sheet.png; table: {Path(args.out)}/holes.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
