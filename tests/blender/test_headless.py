"""scripts/oneshot3d.py as a real subprocess with the bpy module: .blend + preview render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.blender
ROOT = Path(__file__).resolve().parents[2]


def run_script(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # A fresh Blender user folder: the script must work from the checkout, uninstalled.
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "oneshot3d.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_headless_import_writes_blend_and_preview(
    tmp_path: Path, sample_photo: Path, sample_depth: Path
) -> None:
    out = tmp_path / "out"
    result = run_script(
        str(sample_photo),
        "--depth",
        str(sample_depth),
        "--depth-kind",
        "depth",
        "--output",
        str(out),
        "--samples",
        "4",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    blend = out / "sample" / "sample.blend"
    preview = out / "sample" / "sample_preview.png"
    assert blend.stat().st_size > 100_000  # holds the packed texture
    assert not list(out.rglob("*.part*"))
    image = cv2.imread(str(preview))
    photo = cv2.imread(str(sample_photo))
    assert image.shape == photo.shape
    mse = np.mean((image.astype(float) - photo.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 25  # 4 samples: noisier than the 30 dB test at 16


def test_headless_bad_photo_fails_clearly(tmp_path: Path, sample_depth: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    result = run_script(
        str(bad), "--depth", str(sample_depth), "--output", str(tmp_path / "o"), tmp_path=tmp_path
    )
    # 1 = a photo failed (2 would be a bad command line); a crash at exit (signal 11 on bpy
    # 4.2-4.5 while classes stay registered) would show as -11 here.
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "bad.jpg" in result.stderr + result.stdout
    assert not (tmp_path / "o" / "bad" / "bad.blend").exists()
