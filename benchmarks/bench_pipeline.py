"""Time and peak memory of the pipeline and of the Blender mesh build.

    python benchmarks/bench_pipeline.py [--sizes 1024x768 4032x3024] [--runs 3] [--modes ...]

    python benchmarks/bench_pipeline.py --sizes 8192x6144 --runs 3 --no-blender   # 50 MP

    python benchmarks/bench_pipeline.py --sizes 4032x3024 --budgets 12.6 6 --no-blender

``--budgets`` runs each size at each geometry budget (``geometry_megapixels``; default: the
settings' default).

Each (size, mode) runs in a fresh subprocess so that its peak RSS is its own. The input is the
bundled sample scaled up to the size (photo with INTER_CUBIC, depth bilinearly, as the depth
backends resize a network's prediction to the photo), written to a temporary folder. Besides
the pipeline (median time, peak RSS) it reports the geometry's working size, the texture's
size, the worker's hand-over (result file written and read back: size, seconds, peak RSS
after) and, unless --no-blender, the Blender mesh and texture build. Prints a markdown table.

The subprocess sets up its allocator as the worker does for a build
(``pipeline.runtime.allocator``: freed memory stays in the heap); ``--malloc default`` keeps
glibc's defaults (about 0.2 s more system time per 1 MP build here). With Blender, its mesh
build runs in the same, tuned process.
"""

from __future__ import annotations

import argparse
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


def make_input(folder: Path, width: int, height: int) -> tuple[Path, Path]:
    import cv2
    import numpy as np

    photo = cv2.imread(str(ROOT / "samples" / "sample.png"))
    depth = np.load(ROOT / "samples" / "sample_depth.npy")
    photo_path = folder / f"photo_{width}x{height}.png"
    depth_path = folder / f"depth_{width}x{height}.npy"
    cv2.imwrite(str(photo_path), cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    np.save(depth_path, cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR))
    return photo_path, depth_path


def _cpu_seconds() -> float:
    """User + system CPU time of this process: on a shared machine, less noisy than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(
    photo: str, depth: str, runs: int, mode: str, blender: bool, budget: float, malloc: str
) -> dict:
    """Runs inside the subprocess: returns timings and peak RSS."""
    sys.path.insert(0, str(ROOT))
    keywords: dict[str, object] = {
        "filepath": photo,
        "depth_filepath": depth,
        "depth_kind": "DEPTH",
    }
    if mode:
        keywords["mesh_mode"] = mode
    if budget > 0:
        keywords["geometry_megapixels"] = budget
    if malloc == "worker":
        # The allocator set up as the worker sets it up for its build (no earlier checkout
        # has pipeline.runtime.allocator: those run with the default).
        try:
            from pipeline.runtime.allocator import keep_freed_memory
        except ImportError:
            pass
        else:
            keep_freed_memory()
            try:  # and the heap warmed while the pipeline is imported (later checkouts)
                from pipeline.runtime.allocator import heap_estimate, warm_heap
            except ImportError:
                pass
            else:
                from pipeline.settings import PipelineSettings as _Settings

                try:  # the build's settings decide the lattice
                    warm = heap_estimate(_Settings.from_keywords(keywords))
                except TypeError:  # older checkouts: (path, geometry megapixels)
                    warm = heap_estimate(photo, budget or _Settings.geometry_megapixels)
                warm_heap(warm)
    from pipeline import build
    from pipeline.build import build_photo
    from pipeline.mesh.mesh_data import MeshData
    from pipeline.settings import PipelineSettings

    settings = PipelineSettings.from_keywords(keywords)
    times, cpu, stages = [], [], []
    mesh = None
    for _ in range(runs):
        mesh = None  # let the previous result go before the next run
        t0, c0 = time.perf_counter(), _cpu_seconds()
        mesh = build_photo(settings)
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
        stages.append(dict(mesh.timings))
    assert mesh is not None
    width, height = mesh.intrinsics.width, mesh.intrinsics.height
    # (Older checkouts, for before/after numbers, build geometry at the photo's size.)
    try:
        from pipeline.lattice import geometry_size

        work = geometry_size(width, height, settings)
    except ImportError:
        working_size = getattr(build, "working_size", lambda w, h, mp: (w, h))
        work = working_size(width, height, getattr(settings, "geometry_megapixels", 0.0))
    out = {
        "pipeline_s": statistics.median(times),
        "pipeline_cpu_s": statistics.median(cpu),
        "stages": {k: statistics.median(s[k] for s in stages) for k in stages[0]},
        "triangles": mesh.triangle_count,
        "vertices": int(mesh.vertices.shape[0]),
        "geometry": f"{work[0]}x{work[1]}",
        "texture": f"{mesh.texture.shape[1]}x{mesh.texture.shape[0]}",
        "pipeline_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    # The worker's hand-over to Blender: the result file written by the worker, read by Blender.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.mesh"
        t0 = time.perf_counter()
        with open(path, "wb") as f:
            mesh.save(f)
        out["handover_save_s"] = time.perf_counter() - t0
        out["handover_mb"] = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        mesh = MeshData.load(path)
        out["handover_load_s"] = time.perf_counter() - t0
    out["handover_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if blender:
        import importlib

        import bpy
        from extension import load_extension

        ext = load_extension()
        blender_mesh = importlib.import_module(ext.__name__ + ".blender.mesh")
        blender_material = importlib.import_module(ext.__name__ + ".blender.material")
        btimes, itimes = [], []
        for i in range(runs):
            t0 = time.perf_counter()
            me = blender_mesh.build_mesh(f"bench{i}", mesh)
            btimes.append(time.perf_counter() - t0)
            bpy.data.meshes.remove(me)
            t0 = time.perf_counter()
            image = blender_material.build_image(f"bench{i}", mesh.texture)
            itimes.append(time.perf_counter() - t0)
            bpy.data.images.remove(image)
        out["blender_mesh_s"] = statistics.median(btimes)
        out["blender_image_s"] = statistics.median(itimes)
        out["blender_s_per_mtri"] = out["blender_mesh_s"] / max(mesh.triangle_count / 1e6, 1e-9)
        out["total_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1024x768", "4032x3024"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=[""], help="mesh_mode values ('' = default)")
    parser.add_argument(
        "--budgets", nargs="+", type=float, default=[0.0], help="geometry_megapixels (0 = default)"
    )
    parser.add_argument("--no-blender", action="store_true")
    parser.add_argument(
        "--malloc",
        choices=("worker", "default"),
        default="worker",
        help="the pipeline process's allocator: as the worker tunes it (default) or glibc's "
        "default",
    )
    parser.add_argument(
        "--child",
        nargs=5,
        metavar=("PHOTO", "DEPTH", "MODE", "BLENDER", "BUDGET"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.child:
        photo, depth, mode, blender, budget = args.child
        result = child(photo, depth, args.runs, mode, blender == "1", float(budget), args.malloc)
        print("RESULT " + json.dumps(result))
        return 0

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            photo, depth = make_input(Path(tmp), w, h)
            for mode, budget in ((m, b) for m in args.modes for b in args.budgets):
                cmd = [
                    sys.executable,
                    __file__,
                    "--runs",
                    str(args.runs),
                    "--malloc",
                    args.malloc,
                    "--child",
                    str(photo),
                    str(depth),
                    mode,
                    "0" if args.no_blender else "1",
                    str(budget),
                ]
                env = dict(os.environ, BLENDER_USER_RESOURCES=str(Path(tmp) / "user"))
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                line = next(
                    (ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None
                )
                if line is None:
                    print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
                    return 1
                label = (mode or "default") + (f", {budget:g} MP" if budget > 0 else "")
                rows.append((size, label, json.loads(line[7:])))

    print(
        f"| size | mode | pipeline s (median of {args.runs}) | CPU s | stages s | geometry | triangles "
        "| texture | pipeline peak RSS MB | hand-over MB (save s, load s, peak RSS MB) "
        "| Blender mesh build s | s per M triangles | Blender texture s | peak RSS incl. Blender MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    nan = float("nan")
    for size, mode, r in rows:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
        print(
            f"| {size} | {mode} | {r['pipeline_s']:.2f} | {r['pipeline_cpu_s']:.2f} | {stages} | "
            f"{r['geometry']} | "
            f"{r['triangles']:,} | {r['texture']} | {r['pipeline_peak_rss_mb']:.0f} | "
            f"{r['handover_mb']:.0f} ({r['handover_save_s']:.2f}, {r['handover_load_s']:.2f}, "
            f"{r['handover_peak_rss_mb']:.0f}) | {r.get('blender_mesh_s', nan):.2f} | "
            f"{r.get('blender_s_per_mtri', nan):.2f} | {r.get('blender_image_s', nan):.2f} | "
            f"{r.get('total_peak_rss_mb', nan):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
