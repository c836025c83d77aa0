"""Latency, memory and fidelity of Tiefenrausch without PyTorch at the 384 px input: the
translated float graph in ONNX Runtime (``tiefenrausch-onnx``, the default) or in OpenCV DNN
(``tiefenrausch-opencv``).

    python benchmarks/bench_tiefenrausch_torchless.py [--backend onnx|opencv] [--threads 2]
                                                      [--runs 9] [--photo PHOTO] [--model-dir DIR]

Runs in this (fresh) process and never imports torch (checked at the end). Latency is
``predict`` on the photo (INTER_AREA resize + quantise + network + exp),
median of ``--runs`` after the first call, which pays OpenCV's network set-up and is reported
separately, as are the model load's parts (Caffe2 parse, ONNX translation, OpenCV import) and
the load a fresh worker does when the translation is kept on disk (``load_model(cache_dir=)``).
The network alone (``Net.forward``) and the pre/post-processing are timed apart too.
CPU seconds per run are printed next to wall time, and the load average before and after: on a
shared machine wall time grows with the other processes' load, CPU time much less. With the
official reference files present the fidelity against the official output for pumpkin.jpg is
printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.depth import tiefenrausch_graph as tg  # noqa: E402
from pipeline.depth import tiefenrausch_onnx, tiefenrausch_opencv  # noqa: E402
from pipeline.depth.caffe2_netdef import read_netdef  # noqa: E402

REFERENCE = ROOT / ".." / "shared" / "reference" / "tiefenrausch"


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def series(fn, runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    walls, cpus = [], []
    for _ in range(runs):
        _, wall, cpu = timed(fn)
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


def summary(walls: list[float], cpus: list[float]) -> str:
    ms = [w * 1000 for w in walls]
    return (
        f"median {statistics.median(ms):.0f} ms wall (min {min(ms):.0f}, max {max(ms):.0f}; "
        f"{len(ms)} runs), median CPU {statistics.median(cpus) * 1000:.0f} ms"
    )


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("onnx", "opencv"), default="onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--photo", type=Path, default=REFERENCE / "pumpkin.jpg")
    parser.add_argument("--model-dir", type=Path, default=REFERENCE)
    args = parser.parse_args()
    net_path, init_path = args.model_dir / tg.NET_FILE, args.model_dir / tg.INIT_FILE
    if not init_path.is_file():
        sys.exit(f"error: the Tiefenrausch model files are not in {args.model_dir}")
    rgb = cv2.imread(str(args.photo))
    if rgb is None:
        sys.exit(f"error: cannot read the photo {args.photo}")
    rgb = cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB)  # as the official script read it
    cv2.setNumThreads(args.threads)
    tc = tiefenrausch_onnx if args.backend == "onnx" else tiefenrausch_opencv
    if args.backend == "onnx":
        tiefenrausch_onnx.workers = lambda: args.threads  # type: ignore[assignment]

    load_before = load_average()
    (net, init), parse_s, _ = timed(lambda: (read_netdef(net_path), read_netdef(init_path)))
    graph, build_s, _ = timed(tg.build_graph, net, init, str(net_path), str(init_path))
    translate = (
        tiefenrausch_onnx.free_size_model
        if args.backend == "onnx"
        else tiefenrausch_opencv.onnx_model
    )
    onnx, onnx_s, _ = timed(translate, graph)
    with tempfile.TemporaryDirectory(prefix="tr-bench-") as cache_dir:
        # parse + translate + OpenCV import; the translation is written to cache_dir
        model, load_s, load_cpu = timed(tc.load_model, net_path, init_path, cache_dir)
        tc.NETWORK.cache.clear()  # what a fresh worker does: read the kept translation
        model, cached_s, cached_cpu = timed(tc.load_model, net_path, init_path, cache_dir)
    out, first_s, first_cpu = timed(model.predict, rgb)
    walls, cpus = series(lambda: model.predict(rgb), args.runs)
    q = tg.preprocess(rgb, model.input_scale, model.input_zp)
    x = (q.astype(np.float32) - np.float32(model.input_zp)) * np.float32(model.input_scale)

    def forward() -> None:
        if isinstance(model, tiefenrausch_onnx.OnnxTiefenrausch):
            model.session.run(None, {tiefenrausch_onnx.INPUT: x})
        else:
            model.net.setInput(x, tiefenrausch_opencv.INPUT)
            model.net.forward()

    f_walls, f_cpus = series(forward, args.runs)
    load_after = load_average()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    h, w = out.shape
    runtime = (
        f"ONNX Runtime {__import__('onnxruntime').__version__}"
        if args.backend == "onnx"
        else f"OpenCV {cv2.__version__}"
    )
    print(f"{runtime}, {args.threads} threads, input {w}x{h} from {args.photo.name}")
    print(f"load average before {load_before}, after {load_after} ({os.cpu_count()} CPUs)")
    print(
        f"model load {load_s:.3f} s, CPU {load_cpu:.3f} (Caffe2 parse {parse_s:.3f}, graph "
        f"{build_s:.3f}, ONNX {len(onnx) / 1e6:.1f} MB written in {onnx_s:.3f}); "
        f"from the kept translation {cached_s:.3f} s, CPU {cached_cpu:.3f}"
    )
    print(f"first predict {first_s * 1000:.0f} ms (CPU {first_cpu * 1000:.0f} ms)")
    print(f"predict: {summary(walls, cpus)}")
    print(f"network alone: {summary(f_walls, f_cpus)}")
    print(f"peak RSS {rss:.0f} MB; torch imported: {'torch' in sys.modules}")
    official = REFERENCE / "pumpkin.npy"
    if args.photo.name == "pumpkin.jpg" and official.is_file():
        ref = np.load(official).astype(np.float64)
        ours = out.astype(np.float64)
        corr = np.corrcoef(np.log(ours).ravel(), np.log(ref).ravel())[0, 1]
        rel = float(np.median(np.abs(ours / ref - 1)))
        print(
            f"vs official pumpkin.npy: log-disparity corr {corr:.6f}, median rel. error {rel:.4%}"
        )


if __name__ == "__main__":
    main()
