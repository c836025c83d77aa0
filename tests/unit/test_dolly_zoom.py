"""Dolly zoom keeps the subject's size and never sees past the scene (issue 15.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.motion import (
    dolly_zoom_limit,
    make_trajectory,
    project_points,
    splat_disparity,
    subject_depth,
)

W, H = 160, 120
F_PX = float(max(W, H))  # the default 53-degree lens
TAN = (0.5 * W / F_PX, 0.5 * H / F_PX)
MARGIN = 0.06  # frame margin of the extended scene, fraction of the long side


def scene_points(depth_of) -> tuple[np.ndarray, np.ndarray]:
    """One point per pixel of the photo extended by the margin: (points, pixel grid)."""
    m = int(round(MARGIN * max(W, H)))
    y, x = np.mgrid[-m : H + m, -m : W + m].astype(np.float64) + 0.5
    z = depth_of(x, y)
    rays = np.stack([(x - W / 2) / F_PX, (H / 2 - y) / F_PX, -np.ones_like(x)], -1)
    return (rays * z[..., None]).reshape(-1, 3), z


def two_planes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A subject card at distance 2 (a third of the width, half the height, off centre) in
    front of a wall at distance 6: a portrait-like photo where the median depth is the wall."""
    subject = (x > 60) & (x < 115) & (y > 30) & (y < 95)
    return np.where(subject, 2.0, 6.0)


def subject_width(traj, depth: float = 2.0) -> np.ndarray:
    """Projected width (px) of the subject card in every frame."""
    left = [(60 - W / 2) / F_PX * depth, 0.0, -depth]
    right = [(115 - W / 2) / F_PX * depth, 0.0, -depth]
    uv = project_points(traj, np.array([left, right]), F_PX)
    return uv[:, 1, 0] - uv[:, 0, 0]


def test_default_focus_is_the_subject_not_the_median() -> None:
    points, z = scene_points(two_planes)
    assert np.median(z) == 6.0  # what the old default focus was
    disp = splat_disparity(points, W, H, 0.5)
    assert subject_depth(disp) == pytest.approx(2.0, rel=0.01)
    # An empty image has no subject.
    assert subject_depth(np.zeros((4, 6))) is None


def test_dolly_zoom_keeps_the_subject_size_within_2_percent() -> None:
    points, _ = scene_points(two_planes)
    focus = subject_depth(splat_disparity(points, W, H, 0.5))
    assert focus is not None
    limit = dolly_zoom_limit(points, focus, TAN)
    for loop in (False, True):
        traj = make_trajectory("DOLLY_ZOOM", 48, None, loop, focus, max_amplitude=limit)
        assert np.ptp(traj.locations[:, 2]) > 0.1 * focus  # the camera really moves
        widths = subject_width(traj)
        assert widths.max() / widths.min() - 1.0 <= 0.02, widths
        # The wall behind changes size: that is the effect.
        wall = subject_width(traj, 6.0)
        assert wall.max() / wall.min() - 1.0 > 0.05
    # The old default (the median depth, the wall) lets the subject grow by far more.
    median_traj = make_trajectory("DOLLY_ZOOM", 48, None, False, 6.0)
    widths = subject_width(median_traj)
    assert widths.max() / widths.min() - 1.0 > 0.1


def _sees_past(traj, points: np.ndarray) -> bool:
    """Whether any frame's border lies beyond the scene's outermost points on some side."""
    uv = project_points(traj, points, F_PX)  # (F, P, 2) px from the frame centre
    half = np.array([W / 2, H / 2])
    for axis in (0, 1):
        for sign in (1.0, -1.0):
            reach = np.nanmax(sign * uv[..., axis], axis=1)  # outermost point per frame
            if (reach < half[axis] - 1e-6).any():
                return True
    return False


def test_amplitude_is_limited_so_no_frame_sees_past_the_scene() -> None:
    # A floor near the camera along the bottom edge (distance 0.8) under a subject at 2.
    def with_floor(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(y > 100, 0.8, two_planes(x, y))

    points, _ = scene_points(with_floor)
    focus = 2.0
    limit = dolly_zoom_limit(points, focus, TAN)
    assert 0.0 < limit < 0.5
    wild = make_trajectory("DOLLY_ZOOM", 24, 0.5, False, focus)
    assert _sees_past(wild, points)
    capped = make_trajectory("DOLLY_ZOOM", 24, 0.5, False, focus, max_amplitude=limit)
    assert capped.locations[0, 2] == pytest.approx(limit * focus)
    assert not _sees_past(capped, points)
    # Only the near floor limits it: without it the same amplitude is allowed.
    points2, _ = scene_points(two_planes)
    assert dolly_zoom_limit(points2, focus, TAN) == math.inf
