"""The command lines (``python -m pipeline mesh`` / ``depth``) as a user meets them, in real
subprocesses: unwritable outputs and too-small photos exit 2 with one line and no file, input
warnings are printed, and Ctrl-C (a real SIGINT) exits 130 with one line, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import interrupt_when, maps_library

from pipeline.io.image_io import MIN_PHOTO_SIDE

REPO = Path(__file__).resolve().parents[2]
TIEFENRAUSCH = REPO / ".." / "shared" / "reference" / "tiefenrausch"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _pipeline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *argv],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


def _inputs(folder: Path, w: int = 64, h: int = 48) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    photo = folder / f"photo_{w}x{h}.png"
    depth = folder / f"depth_{w}x{h}.npy"
    cv2.imwrite(str(photo), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    d = np.full((h, w), 4.0, np.float32)
    d[h // 4 : 3 * h // 4, w // 4 : w // 2] = 1.5
    np.save(depth, d)
    return photo, depth


def _one_error_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_output_under_a_file_exits_2_with_one_line(tmp_path: Path) -> None:
    photo, depth = _inputs(tmp_path)
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "out.glb"
    result = _pipeline("mesh", str(photo), "--depth", str(depth), "-o", str(out), cwd=tmp_path)
    _one_error_line(result, "afile", "is a file")


def test_output_that_is_a_folder_exits_2(tmp_path: Path) -> None:
    photo, depth = _inputs(tmp_path)
    out = tmp_path / "dir.glb"
    out.mkdir()
    result = _pipeline("mesh", str(photo), "--depth", str(depth), "-o", str(out), cwd=tmp_path)
    _one_error_line(result, "dir.glb", "folder")


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """A folder nobody may write to. Root ignores permission bits, so as root the folder is
    made immutable instead (chattr +i)."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)]).returncode != 0:
            pytest.skip("running as root and this filesystem cannot make a folder immutable")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@pytest.mark.parametrize("command", ["mesh", "depth"])
def test_read_only_output_folder_exits_2_with_one_line(tmp_path: Path, command: str) -> None:
    photo, depth = _inputs(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked / ("out.glb" if command == "mesh" else "out.npy")
    argv = (
        ["mesh", str(photo), "--depth", str(depth), "-o", str(out)]
        if command == "mesh"
        else ["depth", str(photo), "-o", str(out), "--backend", "tiefenrausch"]
    )
    with _read_only(locked):
        assert not os.access(locked, os.W_OK)
        result = _pipeline(*argv, cwd=tmp_path)
    _one_error_line(result, "locked", "read-only")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("size", [(1, 1), (2, 40), (40, 2), (MIN_PHOTO_SIDE - 1, 40)])
def test_too_small_photo_exits_2_and_writes_nothing(tmp_path: Path, size: tuple[int, int]) -> None:
    w, h = size
    photo, depth = _inputs(tmp_path, w, h)
    out = tmp_path / "out.glb"
    result = _pipeline("mesh", str(photo), "--depth", str(depth), "-o", str(out), cwd=tmp_path)
    _one_error_line(result, f"{w}x{h}", f"at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([photo.name, depth.name])


def test_smallest_allowed_photo_meshes(tmp_path: Path) -> None:
    photo, depth = _inputs(tmp_path, MIN_PHOTO_SIDE, MIN_PHOTO_SIDE)
    out = tmp_path / "out.glb"
    result = _pipeline("mesh", str(photo), "--depth", str(depth), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000


def test_depth_repair_warnings_are_printed(tmp_path: Path) -> None:
    photo, depth = _inputs(tmp_path)
    d = np.load(depth)
    d[5:8, 5:9] = np.nan  # a few unusable pixels: repaired, with a warning
    np.save(depth, d)
    out = tmp_path / "out.ply"
    result = _pipeline("mesh", str(photo), "--depth", str(depth), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning: ")]
    assert warnings and "12" in warnings[0] and out.is_file()


# --- Ctrl-C --------------------------------------------------------------------------------


def _interrupt(
    argv: list[str], cwd: Path, delay: float, marker: str = "_multiarray_umath"
) -> subprocess.CompletedProcess[str]:
    # Once numpy's core is mapped the command's own code runs (a SIGINT before that ends
    # Python's start-up, not the command).
    return interrupt_when(
        [sys.executable, *argv],
        lambda proc: maps_library(proc, marker),
        delay,
        env=ENV,
        cwd=cwd,
    )


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs /proc (Linux)")
# While importing, and while building the mesh: OpenCV is the command's last import, after
# which the 2400x1800 build runs ~1.5 s on a quiet machine (a fixed delay from numpy's
# mapping let the whole run finish first once the build got faster).
@pytest.mark.parametrize(("marker", "delay"), [("_multiarray_umath", 0.0), ("cv2", 0.5)])
def test_ctrl_c_in_mesh_exits_130_with_one_line(tmp_path: Path, marker: str, delay: float) -> None:
    photo, depth = _inputs(tmp_path, 2400, 1800)
    out = tmp_path / "out.glb"
    result = _interrupt(
        ["-m", "pipeline", "mesh", str(photo), "--depth", str(depth), "-o", str(out)],
        tmp_path,
        delay,
        marker,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "interrupted", result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs /proc (Linux)")
@pytest.mark.skipif(
    not (TIEFENRAUSCH / "tiefenrausch.pb").is_file(), reason="Tiefenrausch model files absent"
)
def test_ctrl_c_in_depth_exits_130_with_one_line(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the depth network needs torch")
    photo, _ = _inputs(tmp_path, 2400, 1800)
    out = tmp_path / "out.npy"
    argv = ["-m", "pipeline", "depth", str(photo), "-o", str(out), "--backend", "tiefenrausch"]
    result = _interrupt(argv + ["--model-dir", str(TIEFENRAUSCH)], tmp_path, 0.3)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "interrupted", result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part"))
