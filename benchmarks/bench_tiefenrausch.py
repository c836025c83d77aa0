"""Latency, memory and fidelity of the Tiefenrausch backends on CPU at the 384 px input.

    python benchmarks/bench_tiefenrausch.py [--threads 2] [--runs 7] [--exact-runs 3]
                                            [--photo PHOTO] [--model-dir DIR] [--no-exact]

Each mode runs in its own process so that its peak resident memory is its own. Latency is
``TiefenrauschModel.predict`` on the photo (resize + quantise + network + exp), median of
several runs after one warm-up run (the first call pays oneDNN's kernel set-up; reported
separately). With the official reference files present (``../shared/reference/tiefenrausch``)
the fidelity against the official output for pumpkin.jpg is printed too.
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

REFERENCE = REPO / ".." / "shared" / "reference" / "tiefenrausch"
OUTPUT_STEP = 0.018744077533483505  # one output code, in log-disparity


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def fidelity(ours: np.ndarray, official: np.ndarray) -> dict[str, float]:
    a, b = np.log(ours.astype(np.float64)), np.log(official.astype(np.float64))
    return {
        "corr_log": float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
        "median_rel": float(np.median(np.abs(ours / official - 1))),
        "identical": float(np.mean(ours == official)),
        "within_one_step": float(np.mean(np.abs(a - b) <= OUTPUT_STEP * 1.001)),
    }


def child(args: argparse.Namespace) -> None:
    import cv2
    import torch

    from pipeline.depth import tiefenrausch as tr
    from pipeline.depth import tiefenrausch_graph as tg

    torch.set_num_threads(args.threads)
    model_dir = Path(args.model_dir)
    t0 = time.perf_counter()
    model = tr.load_model(
        model_dir / tg.NET_FILE, model_dir / tg.INIT_FILE, exact=args.child == "exact"
    )
    load_s = time.perf_counter() - t0
    # Read as the official script did: cv2.imread (BGR) -> RGB.
    rgb = cv2.cvtColor(cv2.imread(str(args.photo)), cv2.COLOR_BGR2RGB)
    t0 = time.perf_counter()
    out = model.predict(rgb)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args.runs if args.child == "float" else args.exact_runs):
        t0 = time.perf_counter()
        out = model.predict(rgb)
        times.append(time.perf_counter() - t0)
    result: dict[str, Any] = {
        "mode": args.child,
        "grid": list(out.shape),
        "load_s": load_s,
        "first_s": first_s,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "runs": len(times),
        "peak_rss_mb": peak_rss_mb(),
    }
    official = Path(args.photo).with_suffix(".npy")
    if official.is_file():
        result["fidelity"] = fidelity(out, np.load(official))
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--exact-runs", type=int, default=3)
    parser.add_argument("--photo", default=str(REFERENCE / "pumpkin.jpg"))
    parser.add_argument("--model-dir", default=str(REFERENCE))
    parser.add_argument("--no-exact", action="store_true")
    parser.add_argument("--child", choices=("float", "exact"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    rows = []
    for mode in ("float",) if args.no_exact else ("float", "exact"):
        cmd = [sys.executable, __file__, "--child", mode] + [
            f"--{k.replace('_', '-')}={v}"
            for k, v in vars(args).items()
            if k in ("threads", "runs", "exact_runs", "photo", "model_dir")
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    import torch

    print(
        f"Tiefenrausch on {Path(args.photo).name}, {args.threads} threads, torch {torch.__version__}"
    )
    print()
    print("| mode | grid | median ms | min ms | first call ms | load ms | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['grid'][0]}x{r['grid'][1]} | {r['median_s'] * 1e3:.0f} "
            f"| {r['min_s'] * 1e3:.0f} | {r['first_s'] * 1e3:.0f} | {r['load_s'] * 1e3:.0f} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    if any("fidelity" in r for r in rows):
        print()
        print("| mode | corr(log disp) | median rel. error | identical | within one step |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            f = r.get("fidelity")
            if f:
                print(
                    f"| {r['mode']} | {f['corr_log']:.6f} | {f['median_rel'] * 100:.3f} % "
                    f"| {f['identical'] * 100:.1f} % | {f['within_one_step'] * 100:.1f} % |"
                )
        print()
        print("Bars: float corr >= 0.999 and median rel. <= 1 %; exact identical >= 60 % and")
        print("within one step >= 97 %. The paper's phone: 230 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
