"""Speed and memory of the LDI path (preprocessing + LDI + inpainting + meshing).

    .venv/bin/python benchmarks/ldi_speed.py [--sizes 1024x768,4032x3024] [--runs 5]

Each size runs in a fresh process (so peak RSS is that size's own), on a synthetic photo with
a textured, slanted background and several nested foreground objects with soft (network-like)
depth edges. Prints the median wall time of the runs per stage, the peak RSS and the mesh size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _scene(width: int, height: int):
    import cv2
    import numpy as np

    s = max(width, height) / 1024.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= s
    xx /= s
    depth = 5.0 + yy / 400.0
    depth[(xx - 400) ** 2 + (yy - 380) ** 2 < 150**2] = 2.0
    depth[(yy > 300) & (yy < 500) & (xx > 500) & (xx < 700)] = 3.0
    depth[(yy > 200) & (yy < 420) & (xx > 620) & (xx < 660)] = 1.5
    depth[(yy > 520) & (yy < 700) & (xx > 100) & (xx < 300)] = 2.5
    depth = cv2.GaussianBlur(depth, (0, 0), 1.5 * s)  # soft edges, like a depth network
    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.random((96, 128, 3)).astype(np.float32), (width, height))
    rgb = (noise * 120 + 60).astype(np.uint8)
    rgb[..., 0] += ((xx // 32 + yy // 32) % 2 * 60).astype(np.uint8)
    return rgb, depth.astype(np.float32)


def run_one(width: int, height: int, runs: int) -> dict:
    sys.path.insert(0, str(REPO))
    from pipeline.build import build_mesh
    from pipeline.io.depth_file import DepthMap
    from pipeline.io.image_io import Photo
    from pipeline.settings import PipelineSettings

    rgb, depth = _scene(width, height)
    photo = Photo("synthetic", rgb, None, None, 1)
    settings = PipelineSettings(depth_kind="DEPTH")
    totals, stages = [], []
    mesh = None
    for _ in range(runs):
        t0 = time.perf_counter()
        mesh = build_mesh(photo, DepthMap("DEPTH", depth), settings)
        totals.append(time.perf_counter() - t0)
        stages.append(mesh.timings)
    assert mesh is not None
    return {
        "size": f"{width}x{height}",
        "median_s": statistics.median(totals),
        "runs_s": [round(t, 3) for t in totals],
        "stages_median_s": {
            k: round(statistics.median(s[k] for s in stages), 3) for k in stages[0]
        },
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "vertices": int(mesh.vertices.shape[0]),
        "triangles": int(mesh.triangle_count),
        "atlas": f"{mesh.texture.shape[1]}x{mesh.texture.shape[0]}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1024x768,4032x3024")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        w, h = (int(v) for v in args.one.split("x"))
        print(json.dumps(run_one(w, h, args.runs)))
        return 0
    for size in args.sizes.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", size, "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['size']}: median {r['median_s']:.2f} s {r['stages_median_s']} runs {r['runs_s']}; "
            f"peak RSS {r['peak_rss_gb']:.2f} GB; {r['vertices']} vertices, {r['triangles']} "
            f"triangles, atlas {r['atlas']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
