"""Saved .blend size and peak memory of the headless import + preview render.

    python benchmarks/bench_blend_size.py [--sizes 1152x864 2432x1824 4032x3024] [--runs 1]

Per size: the bundled sample scaled up (as bench_pipeline.py does) goes through
``scripts/oneshot3d.py PHOTO --depth D --depth-kind depth -o OUT`` (the batch path: pipeline,
scene build, preview render, save) in a fresh process. Reported: the .blend's size, the peak RSS
of the largest process (wait4) and the peak of the whole process tree's summed RSS (sampled
every 20 ms from /proc), wall time. Prints a markdown table (medians over ``--runs``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import make_input  # noqa: E402


def _tree_rss_bytes(root: int) -> int:
    """Summed RSS of ``root`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_once(photo: Path, depth: Path, out: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "oneshot3d.py"),
        str(photo),
        "--depth",
        str(depth),
        "--depth-kind",
        "depth",
        "--output",
        str(out),
    ]
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(out / "user"))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    log = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(log.decode(errors="replace")[-3000:])
        raise SystemExit(f"import failed for {photo} (exit {proc.returncode})")
    blend = out / photo.stem / f"{photo.stem}.blend"
    return {
        "blend_mb": blend.stat().st_size / 1e6,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "tree_rss_mb": peak[0] / 1e6,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1152x864", "2432x1824", "4032x3024"])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            photo, depth = make_input(Path(tmp), w, h)
            results = [
                run_once(photo, depth, Path(tmp) / f"out_{size}_{i}") for i in range(args.runs)
            ]
            rows.append((size, {k: statistics.median(r[k] for r in results) for k in results[0]}))
    print(
        f"| photo | .blend MB | peak RSS, largest process MB | peak RSS, process tree MB "
        f"| import + preview + save s (median of {args.runs}) |"
    )
    print("|---|---:|---:|---:|---:|")
    for size, r in rows:
        w, h = (int(v) for v in size.split("x"))
        print(
            f"| {size} ({w * h / 1e6:.1f} MP) | {r['blend_mb']:.1f} | {r['max_rss_mb']:.0f} "
            f"| {r['tree_rss_mb']:.0f} | {r['wall_s']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
