"""Import photos in a Blender that has only the extension zip installed and no PyTorch.

    python benchmarks/torchless_import.py --runs 5 [--size 1155x866] [--threads 2] [--cold]
    python benchmarks/torchless_import.py --inside --zip Z --photo P [--runs N]   (the child)

The driver builds the extension zip with Blender's tool, makes a Python without torch (a venv
linking every package of this one's except PyTorch's, ``tests/helpers.torchless_python``),
and runs this script in it with ``--inside``: fresh Blender user folders, the zip installed the
way Blender installs it (its wheels too: OpenCV and ONNX Runtime), the model files from a local folder (``ONESHOT3D_MODEL_DIR``), then
``bpy.ops.oneshot3d.import_photo(filepath=PHOTO)`` with nothing else set — what dropping a
photo on the viewport does. Each run removes the cached depth maps first, so each one starts a
worker and estimates depth; the network's translation that the first run keeps next to them
(``tiefenrausch_opencv.translation_path``) stays, as it does for a user after the first import,
so the first run is the cold one (it parses and translates the Caffe2 files) and is reported
apart. ``--cold`` removes the translation too before every run. Reported: per-run wall time of the operator (worker start-up,
depth, LDI, mesh, Blender mesh build), the worker's timings, whether torch was loaded in
Blender or the worker, and peak RSS of Blender and of the workers.
The Blender test ``tests/blender/test_torchless_import.py`` runs the same child once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / ".." / "shared" / "reference" / "tiefenrausch"


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def inside(args: argparse.Namespace) -> dict[str, Any]:
    """In the torch-free Blender: install the zip and import the photo ``args.runs`` times."""
    import importlib.util

    import bpy

    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(args.zip), enable_on_install=True
    )
    assert result == {"FINISHED"}, result
    ext = sys.modules["bl_ext.user_default.oneshot3d"]
    ip = sys.modules[ext.__name__ + ".blender.worker_jobs"]
    runs = []
    for _ in range(args.runs):
        for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.images):
            for item in list(collection):
                collection.remove(item)
        depth_dir = ip.user_dir() / "depth"
        if args.cold:
            shutil.rmtree(depth_dir, ignore_errors=True)
        else:  # estimate depth every run; keep the translated network (*.npz)
            for p in depth_dir.glob("*.npy"):
                p.unlink()
        cpu0 = _cpu()
        t0 = time.perf_counter()
        outcome = bpy.ops.oneshot3d.import_photo(filepath=str(args.photo))
        seconds = time.perf_counter() - t0
        cpu1 = _cpu()
        photos = [o for o in bpy.data.objects if o.oneshot3d.is_photo]
        runs.append(
            {
                "seconds": seconds,
                # CPU seconds of Blender and of the worker: less sensitive than wall time to
                # other processes on a shared machine.
                "cpu_blender": cpu1[0] - cpu0[0],
                "cpu_worker": cpu1[1] - cpu0[1],
                "result": sorted(outcome),
                "backend": photos[0].oneshot3d.depth_backend if photos else "",
                "vertices": len(photos[0].data.vertices) if photos else 0,
                "triangles": ip.last_result.get("triangles", 0),
                "torch_loaded_in_worker": ip.last_result.get("torch_loaded"),
                "depth_cache": ip.last_result.get("depth_cache"),
                "worker_timings": ip.last_result.get("timings", {}),
            }
        )
    return {
        "runs": runs,
        "torch_in_blender": "torch" in sys.modules,
        "torch_findable": importlib.util.find_spec("torch") is not None,
        # Where ONNX Runtime was found after installing the zip: its wheel, not this Python.
        "onnxruntime_origin": getattr(importlib.util.find_spec("onnxruntime"), "origin", None),
        "vendored_env": ip.vendor_folder() is not None,
        "peak_rss_blender_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_inside(
    python: Path,
    zip_path: Path,
    photo: Path,
    model_dir: Path,
    runs: int,
    work: Path,
    threads: int = 0,
    cold: bool = False,
) -> dict[str, Any]:
    """Run this script with ``--inside`` in ``python``; fresh user folders under ``work``."""
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(work / "blender-user")
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env["ONESHOT3D_MODEL_DIR"] = str(model_dir)
    env.pop("PYTHONPATH", None)
    if threads:  # OpenCV's and OpenMP's thread pools in the worker
        env["OPENCV_FOR_THREADS_NUM"] = env["OMP_NUM_THREADS"] = str(threads)
    report = work / "report.json"
    cmd = [str(python), str(Path(__file__).resolve()), "--inside", "--zip", str(zip_path)]
    cmd += ["--photo", str(photo), "--runs", str(runs), "--json", str(report)]
    if cold:
        cmd.append("--cold")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not report.is_file():
        raise RuntimeError(f"torch-free Blender failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(report.read_text())  # type: ignore[no-any-return]


def build_zip(out: Path) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--output-dir", str(out)],
        check=True,
        capture_output=True,
    )
    import platform

    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
    system = {"linux": "linux", "darwin": "macos", "windows": "windows"}
    tag = f"{system[platform.system().lower()]}_{machine[platform.machine().lower()]}"
    return next(out.glob(f"oneshot3d-*-{tag}.zip"))  # the zip for this platform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--zip", type=Path)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="1155x866", help="photo size WxH (default ~1 MP)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", type=Path, default=REFERENCE)
    parser.add_argument("--cold", action="store_true", help="translate the network every run")
    args = parser.parse_args()
    if args.inside:
        args.json.write_text(json.dumps(inside(args)))
        return

    import cv2

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import torchless_python

    if not (args.model_dir / "tiefenrausch_init.pb").is_file():
        sys.exit(f"error: the Tiefenrausch model files are not in {args.model_dir}")
    with tempfile.TemporaryDirectory(prefix="torchless-") as tmp:
        work = Path(tmp)
        python = torchless_python(work / "venv", also_without=("onnxruntime",))
        zip_path = build_zip(work / "dist")
        w, h = (int(v) for v in args.size.split("x"))
        photo = work / "photo.jpg"
        source = (
            cv2.imread(str(REFERENCE / "pumpkin.jpg"))
            if (REFERENCE / "pumpkin.jpg").is_file()
            else None
        )
        if source is None:
            source = cv2.imread(str(ROOT / "samples" / "sample.png"))
        cv2.imwrite(str(photo), cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA))
        load_before = os.getloadavg()
        report = run_inside(
            python, zip_path, photo, args.model_dir, args.runs, work, args.threads, args.cold
        )
        load_after = os.getloadavg()
    runs = report["runs"]
    warm = runs if args.cold or len(runs) == 1 else runs[1:]  # the first run translated
    times = [r["seconds"] for r in warm]
    print(
        f"photo {w}x{h} ({w * h / 1e6:.2f} MP), backend {report['runs'][0]['backend']}, "
        f"{args.threads} threads"
    )
    print(
        f"load average before {' '.join(f'{v:.2f}' for v in load_before)}, after "
        f"{' '.join(f'{v:.2f}' for v in load_after)} ({os.cpu_count()} CPUs)"
    )
    every = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    print(
        f"import incl. worker start-up{' (translating every run)' if args.cold else ''}: "
        f"median {statistics.median(times):.2f} s wall of {len(times)} runs "
        f"(all: {every}; {'every run' if args.cold else 'the first'} translated the network)"
    )
    for key in ("cpu_blender", "cpu_worker"):
        print(
            f"{key}: median {statistics.median(r[key] for r in warm):.2f} s "
            f"(first run {runs[0][key]:.2f} s)"
        )
    stages = runs[0]["worker_timings"]
    for stage in stages:
        values = [r["worker_timings"].get(stage, float("nan")) for r in warm]
        print(f"worker {stage}: median {statistics.median(values):.3f} s wall")
    print(
        f"torch in Blender: {report['torch_in_blender']}, in the worker: "
        f"{any(r['torch_loaded_in_worker'] for r in report['runs'])}, importable: "
        f"{report['torch_findable']}"
    )
    print(
        f"peak RSS: Blender {report['peak_rss_blender_mb']:.0f} MB, "
        f"worker {report['peak_rss_workers_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
