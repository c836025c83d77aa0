"""The worker's allocator tuning: a build in a fresh process reuses the memory its stages
free instead of having the kernel map and zero fresh pages for every large array."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A small build in a fresh interpreter (as a worker runs one), counting its page faults.
PROBE = """
import resource, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
from pipeline.runtime.allocator import keep_freed_memory
applied = keep_freed_memory() if {tune} else False
from pathlib import Path
from bench_pipeline import make_input
from pipeline.build import build_photo
from pipeline.settings import PipelineSettings
photo, depth = make_input(Path({tmp!r}), 320, 240)
settings = PipelineSettings(filepath=str(photo), depth_filepath=str(depth), depth_kind="DEPTH")
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
build_photo(settings)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(tune: bool, tmp: Path) -> tuple[bool, int]:
    code = PROBE.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), tune=tune, tmp=str(tmp))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[-2] == "True", int(out[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_fresh_build_faults_in_far_fewer_pages(tmp_path: Path) -> None:
    applied, tuned = _faults(True, tmp_path)
    if not applied:
        pytest.skip("this Linux's C library has no glibc mallopt")
    _, untuned = _faults(False, tmp_path)
    # Measured: 21 k -> 9 k faults at 320x240, 123 k -> 54 k at 1024x768.
    assert tuned * 1.5 < untuned, (tuned, untuned)


def test_no_effect_and_no_error_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.runtime import allocator

    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


# Arrays of 2 MB (heap blocks under the tuned mmap threshold) touched in a fresh interpreter,
# with or without the heap warmed first; prints the page faults the arrays took.
WARM_PROBE = """
import resource, sys
sys.path.insert(0, {root!r})
import numpy as np
from pipeline.runtime import allocator
allocator.keep_freed_memory()
if {warm}:
    thread = allocator.warm_heap(64 << 20)
    thread.join()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
arrays = [np.ones(1 << 18) for _ in range(24)]  # 24 x 2 MB, each written in full
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _touch_faults(warm: bool) -> int:
    code = WARM_PROBE.format(root=str(ROOT), warm=warm)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_warmed_heap_serves_the_builds_arrays_without_faults() -> None:
    from pipeline.runtime import allocator

    if not allocator.keep_freed_memory():
        pytest.skip("this Linux's C library has no glibc mallopt")
    cold, warmed = _touch_faults(False), _touch_faults(True)
    if cold < 1000:
        pytest.skip(f"48 MB of fresh heap took only {cold} faults: huge pages (THP 'always')")
    # 48 MB of fresh heap is ~12 k pages; warmed by the thread beforehand, almost none.
    assert warmed * 10 < cold, (warmed, cold)


def test_heap_estimate_scales_with_the_geometry_lattice(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from pipeline.lattice import geometry_size, working_size
    from pipeline.runtime.allocator import HEAP_PER_PIXEL, WARM_MAX, heap_estimate
    from pipeline.settings import PipelineSettings

    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), np.zeros((240, 320, 3), np.uint8))
    assert heap_estimate(PipelineSettings(filepath=str(small))) == 320 * 240 * HEAP_PER_PIXEL
    # The geometry budget caps the lattice; an unreadable header gets the most.
    capped = PipelineSettings(filepath=str(small), geometry_megapixels=0.01)
    w, h = working_size(320, 240, 0.01)
    assert heap_estimate(capped) == w * h * HEAP_PER_PIXEL <= 0.01e6 * HEAP_PER_PIXEL
    (tmp_path / "odd.tif").write_bytes(b"II*\x00" + bytes(100))
    assert heap_estimate(PipelineSettings(filepath=str(tmp_path / "odd.tif"))) == WARM_MAX
    # A network's depth: the lattice the build will use, half of a 1 MP photo's pixels.
    big = tmp_path / "big.jpg"
    cv2.imwrite(str(big), np.zeros((866, 1155, 3), np.uint8))
    network = PipelineSettings(filepath=str(big), depth_backend="tiefenrausch-onnx")
    w, h = geometry_size(1155, 866, network)
    assert w * h < 0.51 * 1155 * 866
    assert heap_estimate(network) == w * h * HEAP_PER_PIXEL
