"""Render speed of a 3D photo with Cycles CPU, and the time of a whole batch.

    .venv/bin/python benchmarks/bench_render.py [--frames 12] [--runs 3] [--samples 16]
                                                [--batch-frames 90] [--skip-batch]

1. Per-frame render time at 1280x720 (Cycles CPU, no denoising, persistent data): the sample
   is imported, a SWING move is keyed and ``--frames`` frames are rendered to an MP4; the time
   of each frame comes from the render_pre/render_post handlers (the first frame, which builds
   the BVH, is reported separately). Median over ``--runs``.
2. The whole batch of the sample folder (``samples/``, depth maps paired from the same folder)
   through ``scripts/oneshot3d.py`` as a subprocess: import, preview, .blend, one SWING video of
   ``--batch-frames`` frames at the photo's size. Median wall time over ``--runs``; peak RSS.

Loads the extension from this checkout (scripts/oneshot3d.py's ensure_extension).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "sample.png"
SAMPLE_DEPTH = ROOT / "samples" / "sample_depth.npy"


def per_frame_times(frames: int, samples: int, width: int, height: int, out: Path) -> list[float]:
    import bpy
    from extension import load_extension

    ext = load_extension()
    render = importlib.import_module(ext.__name__ + ".blender.render")
    scene_build = importlib.import_module(ext.__name__ + ".blender.scene")
    build = importlib.import_module(ext.__name__ + ".pipeline.build")
    settings_mod = importlib.import_module(ext.__name__ + ".pipeline.settings")
    bpy.ops.wm.read_homefile(use_empty=True)
    # The same path as the batch command (pipeline in-process, then the scene objects).
    settings = settings_mod.PipelineSettings(
        filepath=str(SAMPLE), depth_filepath=str(SAMPLE_DEPTH), depth_kind="DEPTH"
    )
    scene_build.build_photo_objects(bpy.context, build.build_photo(settings), settings)
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=frames) == {"FINISHED"}
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height
    stamps: list[float] = []

    def pre(*_args: object) -> None:
        stamps.append(time.perf_counter())

    def post(*_args: object) -> None:
        stamps.append(time.perf_counter())

    bpy.app.handlers.render_pre.append(pre)
    bpy.app.handlers.render_post.append(post)
    try:
        render.render_animation(scene, out, "MP4", "CYCLES", samples, 100.0)
    finally:
        bpy.app.handlers.render_pre.remove(pre)
        bpy.app.handlers.render_post.remove(post)
    return [b - a for a, b in zip(stamps[::2], stamps[1::2], strict=False)]


def batch_run(frames: int, samples: int, out: Path) -> tuple[float, dict]:
    env = dict(os.environ)
    env.setdefault("BLENDER_USER_RESOURCES", str(out / "user"))
    cmd = [sys.executable, str(ROOT / "scripts" / "oneshot3d.py"), str(ROOT / "samples")]
    cmd += ["-o", str(out / "batch"), "--depth-dir", str(ROOT / "samples")]
    cmd += ["--depth-kind", "depth", "--preset", "SWING", "--frames", str(frames)]
    cmd += ["--samples", str(samples), "--overwrite"]
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"batch failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    summary = json.loads((out / "batch" / "summary.json").read_text())
    return wall, summary["photos"][0]["timings"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--batch-frames", type=int, default=90)
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oneshot3d-bench-render-"))
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(tmp / "user"))

    firsts, rest = [], []
    for run in range(args.runs):
        times = per_frame_times(
            args.frames, args.samples, args.width, args.height, tmp / f"r{run}.mp4"
        )
        firsts.append(times[0])
        rest.append(statistics.median(times[1:]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"render {args.width}x{args.height}, Cycles CPU, {args.samples} samples, "
        f"{os.cpu_count()} cores: {statistics.median(rest):.2f} s/frame (median of {args.runs} "
        f"runs x {args.frames - 1} frames; first frame incl. BVH {statistics.median(firsts):.2f} s)"
        f"; peak RSS {peak_mb:.0f} MB"
    )
    if args.skip_batch:
        return
    walls, timings = [], {}
    for _ in range(args.runs):
        wall, timings = batch_run(args.batch_frames, args.samples, tmp)
        walls.append(wall)
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"batch of samples/ (1 photo, preview + .blend + SWING {args.batch_frames} frames at "
        f"the photo's size): {statistics.median(walls):.1f} s wall incl. start-up (median of "
        f"{args.runs}); stages {json.dumps(timings)}; peak RSS {child_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
