"""Cost of running the pipeline in a worker process instead of in-process.

    python benchmarks/bench_worker.py [--size 4032x3024] [--runs 3] [--mode TORN]

Measures (median of ``--runs``):
* interpreter start-up: ``python -s -c pass`` with the worker's PYTHONPATH;
* time to the first progress message of a real job (start-up + imports + job file);
* the whole job through the worker (start, build, write result.mesh, read it back) versus
  ``build_photo`` in this process, for a photo of ``--size`` (the bundled sample scaled up):
  the difference is the process boundary's overhead;
* result.mesh size and peak RSS of this process and of the worker children.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The same upscaled-sample input as the pipeline benchmark (this folder is on sys.path when a
# benchmark script runs).
from bench_pipeline import make_input  # noqa: E402

from pipeline.build import build_photo  # noqa: E402
from pipeline.mesh.mesh_data import MeshData  # noqa: E402
from pipeline.runtime.worker_client import State, build_job  # noqa: E402
from pipeline.runtime.worker_env import worker_env, worker_pythonpath  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402


def bare_startup() -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-s", "-c", "pass"], env=worker_env(worker_pythonpath()), check=True
    )
    return time.perf_counter() - t


def through_worker(settings: dict) -> dict[str, float]:
    t0 = time.perf_counter()
    job = build_job(settings).start()
    assert job.wait() is State.DONE, job.details()
    t_done = time.perf_counter()
    mesh = MeshData.load(job.result["result"])
    t_loaded = time.perf_counter()
    size = Path(job.result["result"]).stat().st_size
    job.release()
    return {
        "first_progress": job.first_progress_at - job.started_at,
        "worker_build": float(job.result["timings"]["build"]),
        "worker_write": float(job.result["timings"]["write"]),
        "total": t_loaded - t0,
        "load": t_loaded - t_done,
        "result_mb": size / 1e6,
        "triangles": mesh.triangle_count,
    }


def in_process(settings: dict) -> float:
    t = time.perf_counter()
    build_photo(PipelineSettings.from_keywords(settings))
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="4032x3024")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", default="TORN", choices=["LDI", "TORN", "RUBBER"])
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    med = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        photo, depth = make_input(Path(tmp), width, height)
        settings = {
            "filepath": str(photo),
            "depth_filepath": str(depth),
            "depth_kind": "DEPTH",
            "mesh_mode": args.mode,
        }
        startup = med(bare_startup() for _ in range(max(3, args.runs)))
        worker = [through_worker(settings) for _ in range(args.runs)]
        local = [in_process(settings) for _ in range(args.runs)]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    total = med(w["total"] for w in worker)
    print(f"photo {width}x{height}, mesh mode {args.mode}, median of {args.runs} runs")
    print("| measure | value |\n|---|---|")
    print(f"| interpreter start-up (python -s -c pass) | {startup * 1000:.0f} ms |")
    print(
        f"| time to first progress message | {med(w['first_progress'] for w in worker) * 1000:.0f} ms |"
    )
    print(f"| in-process build_photo | {med(local):.2f} s |")
    print(f"| build inside the worker | {med(w['worker_build'] for w in worker):.2f} s |")
    print(f"| write result.mesh (worker) | {med(w['worker_write'] for w in worker):.2f} s |")
    print(f"| read result.mesh (Blender side) | {med(w['load'] for w in worker):.2f} s |")
    print(f"| whole job through the worker | {total:.2f} s |")
    print(
        f"| process-boundary overhead | {total - med(local):.2f} s ({(total / med(local) - 1) * 100:.0f} %) |"
    )
    print(
        f"| result.mesh | {med(w['result_mb'] for w in worker):.0f} MB, {worker[0]['triangles']:,} triangles |"
    )
    print(f"| peak RSS: this process / worker | {peak_self:.0f} MB / {peak_child:.0f} MB |")


if __name__ == "__main__":
    main()
