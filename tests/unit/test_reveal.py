"""Growth sized by the camera move, and the safe-motion estimate, on scenes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.build import build_mesh
from pipeline.io.depth_file import DepthMap
from pipeline.io.image_io import Photo
from pipeline.ldi.lift import build_ldi
from pipeline.ldi.preprocess import preprocess
from pipeline.ldi.reveal import (
    CORNER_RADIUS,
    DESIGN_MOVE,
    covered_fraction,
    move_extent,
    safe_motion,
)
from pipeline.settings import PipelineSettings

FG, BG = 1.0, 0.25


def two_planes(h: int = 120, w: int = 160, margin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A square at disparity 1.0 (x 60..100, y 40..80) in front of a wall at 0.25."""
    disp = np.full((h, w), BG, np.float32)
    disp[40:80, 60:100] = FG
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 2] = 200
    rgb[40:80, 60:100] = (255, 0, 0)
    return disp, rgb


def _ldi(steps: float, margin: int):
    disp, rgb = two_planes()
    m = margin
    disp_p = np.pad(disp, m, mode="edge")
    rgb_p = np.pad(rgb, ((m, m), (m, m), (0, 0)), mode="edge")
    pre = preprocess(disp_p, rgb_p.astype(np.float32) / 255.0, 0.04, 5, 1, 0)
    return build_ldi(pre.disp, pre.cuts, rgb_p, 0.04, steps, 1, 12.0, m)


def test_safe_motion_of_a_fixed_growth_is_the_gap_it_covers() -> None:
    """The square's background grows 10 px behind every side; the camera may move until an
    edge opens by 11 px (10 grown + the pixel the silhouette closes): a = 11 d_f / (f jump)."""
    f, d_focus = 100.0, 0.5
    safe = safe_motion(_ldi(steps=10.0, margin=20), f, d_focus, floor=0.0, quantile=0.0)
    expected = 11.0 * d_focus / (f * (FG - BG))
    for name, value in safe.to_dict().items():
        assert value == pytest.approx(expected, rel=0.02), name
    # Bounded by the frame margin too: the wall slides f * a * BG / d_focus px.
    wide = _ldi(steps=40.0, margin=3)
    border = 3 * d_focus / (f * BG)
    assert border < expected
    assert safe_motion(wide, f, d_focus, 0.0, quantile=0.0).lateral() == pytest.approx(border)


def test_growth_covers_the_largest_default_camera_move() -> None:
    """Through the whole LDI path: every edge grows as far as the design move opens it, so the
    safe move the mesh reports is at least that move, in every direction."""
    disp, rgb = two_planes(240, 320)
    photo = Photo("p.png", rgb, None, None, 1)
    settings = PipelineSettings(depth_kind="DISPARITY", extension=0.01, depth_scale=2.0)
    mesh = build_mesh(photo, DepthMap("DISPARITY", disp), settings)
    assert set(mesh.safe_motion) == {"right", "left", "up", "down"}
    # Blender units: the move as a fraction of the focus distance times that distance.
    focus = 2.0 / float(np.median(disp))
    for name, value in mesh.safe_motion.items():
        assert value / focus >= DESIGN_MOVE, name


def test_a_camera_path_is_covered_up_to_its_safe_fraction() -> None:
    swing = np.array([[0.05, 0, 0], [-0.05, 0, 0]])
    assert move_extent(swing) == {"right": 0.05, "left": 0.05, "up": 0.0, "down": 0.0}
    zoom = np.array([[0, 0, 0], [0, 0, -0.1]])
    assert move_extent(zoom)["up"] == pytest.approx(CORNER_RADIUS * 0.1)
    safe = {"right": 0.1, "left": 0.025, "up": 1.0, "down": 1.0}
    assert covered_fraction(safe, swing) == pytest.approx(0.5)  # the left side limits it
    assert covered_fraction(safe, np.zeros((3, 3))) == float("inf")
