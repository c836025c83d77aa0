"""Ctrl-C (a real SIGINT) in the headless command line, scripts/oneshot3d.py with the bpy
module: one line, exit 130, no traceback, no finished-looking output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers import interrupt_when, maps_library

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs /proc (Linux)"),
]
ROOT = Path(__file__).resolve().parents[2]


def _logged(text: str):  # type: ignore[no-untyped-def]
    """Ready once the job has printed a line containing ``text`` (any case) on stdout."""

    def ready(proc) -> bool:  # type: ignore[no-untyped-def]
        assert proc.stdout is not None
        return text.lower() in proc.stdout.readline().lower()

    return ready


@pytest.mark.parametrize("when", ["loading", "running", "rendering"])
def test_ctrl_c_in_headless_script_exits_130_with_one_line(
    tmp_path: Path, sample_photo: Path, sample_depth: Path, when: str
) -> None:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    out = tmp_path / "out"
    argv = [sys.executable, str(ROOT / "scripts" / "oneshot3d.py"), str(sample_photo)]
    argv += ["--depth", str(sample_depth), "--depth-kind", "depth", "-o", str(out)]
    argv += ["--preset", "SWING", "--frames", "200"]  # long enough to be interrupted
    if when == "loading":  # Blender's module is being loaded
        result = interrupt_when(argv, lambda p: maps_library(p, "bpy/__init__.so"), 0.0, env=env)
    elif when == "running":  # the batch has started: the pipeline or the scene
        result = interrupt_when(argv, _logged("photo(s) in shard"), 0.5, env=env)
    else:  # inside the video render (Blender would catch a KeyboardInterrupt there)
        # The movie writer logs "Append frame N" (4.2-4.5) or "Video append frame N" (5.x).
        result = interrupt_when(argv, _logged("append frame"), 0.0, env=env)
    assert result.returncode == 130, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == "oneshot3d: interrupted"
    assert not (out / "sample" / "sample_swing.mp4").exists()  # only complete videos get it
