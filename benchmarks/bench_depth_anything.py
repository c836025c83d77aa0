"""Latency of Depth Anything V2 on CPU at the model's 518 px input (random weights: the
arithmetic is the same as with the real checkpoint).

    python benchmarks/bench_depth_anything.py [--encoder vits] [--threads 2] [--runs 5]

Reports the median of several runs per input size (after one warm-up run, which pays
torch's one-off kernel set-up) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="vits", choices=("vits", "vitb", "vitl"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from pipeline.depth import depth_anything_v2 as dav2

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = dav2.build_model(args.encoder).to(args.device)
    params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    results = []
    # 1:1 -> 518 x 518; 4:3 phone photo (3024 x 4032) -> 518 x 686.
    for photo_hw in ((518, 518), (3024, 4032)):
        rgb = (rng.random((*photo_hw, 3)) * 255).astype(np.uint8)
        dav2.predict(model, rgb)  # warm-up
        times, pre = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            dav2.preprocess(rgb)
            t1 = time.perf_counter()
            out = dav2.predict(model, rgb)
            t2 = time.perf_counter()
            pre.append(t1 - t0)
            times.append(t2 - t1)  # predict includes its own preprocessing
        results.append(
            {
                "photo": f"{photo_hw[1]}x{photo_hw[0]}",
                "network_grid": f"{out.shape[1]}x{out.shape[0]}",
                "median_s": round(statistics.median(times), 3),
                "min_s": round(min(times), 3),
                "preprocess_median_s": round(statistics.median(pre), 3),
            }
        )
    report = {
        "encoder": args.encoder,
        "parameters": params,
        "threads": args.threads,
        "device": args.device,
        "runs": args.runs,
        "torch": torch.__version__,
        "results": results,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
