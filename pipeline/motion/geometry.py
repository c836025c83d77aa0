"""Camera geometry of a path: look-at orientation, Euler matrices, projecting points into
every frame, the zoom that keeps the photo's border out of view, and the holes a camera move
opens at depth edges.

The functions that look at whole paths take any :class:`Poses` (a Trajectory is one) rather
than importing Trajectory: Trajectory itself needs :func:`border_zoom`, and this keeps the
package free of import cycles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..errors import SettingsError
from ..settings import DEFAULT_FOV_DEGREES, PipelineSettings


class Poses(Protocol):
    """Per-frame camera poses as :class:`~.trajectory.Trajectory` holds them."""

    @property
    def locations(self) -> np.ndarray: ...  # (F, 3) Blender units

    @property
    def rotations(self) -> np.ndarray: ...  # (F, 3) Euler XYZ radians

    @property
    def focal_factors(self) -> np.ndarray: ...  # (F,) lens = base_lens * factor

    @property
    def shifts(self) -> np.ndarray: ...  # (F, 2) lens shift, units of the base focal length

    @property
    def focus_depth(self) -> float: ...


def look_at_euler(locations: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Euler XYZ (radians) turning a -Z-looking camera at ``locations`` towards ``targets``
    without roll (its up vector stays in the plane of world +Y and the view direction)."""
    d = np.asarray(targets, np.float64) - np.asarray(locations, np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    # R = Ry(yaw) @ Rx(pitch) maps (0, 0, -1) to (-sin(yaw) cos(p), sin(p), -cos(yaw) cos(p)).
    pitch = np.arcsin(np.clip(d[..., 1], -1.0, 1.0))
    yaw = np.arctan2(-d[..., 0], -d[..., 2])
    return np.stack([pitch, yaw, np.zeros_like(yaw)], axis=-1)


def euler_to_matrix(euler: np.ndarray) -> np.ndarray:
    """(..., 3) Euler XYZ -> (..., 3, 3) rotation matrices, R = Rz @ Ry @ Rx (Blender 'XYZ')."""
    e = np.asarray(euler, np.float64)
    cx, cy, cz = np.cos(e[..., 0]), np.cos(e[..., 1]), np.cos(e[..., 2])
    sx, sy, sz = np.sin(e[..., 0]), np.sin(e[..., 1]), np.sin(e[..., 2])
    r = np.empty(e.shape[:-1] + (3, 3))
    r[..., 0, 0] = cz * cy
    r[..., 0, 1] = cz * sy * sx - sz * cx
    r[..., 0, 2] = cz * sy * cx + sz * sx
    r[..., 1, 0] = sz * cy
    r[..., 1, 1] = sz * sy * sx + cz * cx
    r[..., 1, 2] = sz * sy * cx - cz * sx
    r[..., 2, 0] = -sy
    r[..., 2, 1] = cy * sx
    r[..., 2, 2] = cy * cx
    return r


def project_points(traj: Poses, points: np.ndarray, focal_px: float) -> np.ndarray:
    """Project world points (P, 3) into every frame: (F, P, 2) pixels from the frame's centre,
    x right and y up, including focal factor and lens shift. Points behind a camera give NaN."""
    r = euler_to_matrix(traj.rotations)  # (F, 3, 3)
    rel = np.asarray(points, np.float64)[None, :, :] - traj.locations[:, None, :]
    cam = np.einsum("fji,fpj->fpi", r, rel)  # R^T (X - C)
    depth = -cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = cam[..., :2] / np.where(depth > 1e-12, depth, np.nan)[..., None]
    f = focal_px * traj.focal_factors[:, None, None]
    return f * uv - focal_px * traj.shifts[:, None, :]


def border_zoom(
    traj: Poses, width: int, height: int, fov_degrees: float = DEFAULT_FOV_DEGREES
) -> float:
    """Smallest constant zoom (>= 1) that keeps every frame inside the photo's borders, for
    content at the focus depth and at infinity. Raises SettingsError when no zoom can."""
    if width < 1 or height < 1 or not 1.0 <= fov_degrees <= 170.0:
        raise SettingsError(
            f"border_zoom: bad photo size {width}x{height} or fov {fov_degrees}; "
            "give the photo's pixel size and a field of view between 1 and 170 degrees."
        )
    half_w, half_h = width / 2.0, height / 2.0
    f = max(half_w, half_h) / math.tan(math.radians(fov_degrees) / 2.0)
    s = np.linspace(-1.0, 1.0, 33)
    borders = {  # points on each border of the photo, in pixels from its centre (y up)
        "right": np.stack([np.full_like(s, half_w), s * half_h], -1),
        "left": np.stack([np.full_like(s, -half_w), s * half_h], -1),
        "top": np.stack([s * half_w, np.full_like(s, half_h)], -1),
        "bottom": np.stack([s * half_w, np.full_like(s, -half_h)], -1),
    }
    need = 1.0
    for side, px in borders.items():
        rays = np.concatenate([px / f, -np.ones((len(px), 1))], axis=1)
        for depth in (traj.focus_depth, traj.focus_depth * 1e6):
            uv = project_points(traj, rays * depth, f)  # (F, P, 2)
            axis, sign, half = {
                "right": (0, 1.0, half_w),
                "left": (0, -1.0, half_w),
                "top": (1, 1.0, half_h),
                "bottom": (1, -1.0, half_h),
            }[side]
            # How far in from the frame centre this border now sits (the frame centre being
            # the shifted principal point, which project_points already subtracts).
            inset = sign * uv[..., axis]
            nearest = float(np.nanmin(inset)) if np.isfinite(inset).any() else -1.0
            if nearest <= 0.05 * half:
                raise SettingsError(
                    "The camera moves so far that the photo's border crosses the frame "
                    f"centre ({side} side); lower the amplitude."
                )
            need = max(need, half / nearest)
    return float(need)


def disocclusion_cost(
    disparity: np.ndarray,
    translation: Sequence[float] | np.ndarray,
    focal_px: float,
    near_depth: float = 1.0,
    threshold: float = PipelineSettings.depth_threshold,
) -> tuple[float, float]:
    """Predicted holes for moving the camera by ``translation`` (camera coordinates, Blender
    units) in front of a scene with this disparity map: (total gap area in px, largest gap px).

    A depth edge between neighbours with inverse depths d1, d2 opens a gap of
    ``(d2 - d1) * w`` pixels where ``w = f * t_xy + p * t_z`` is the first-order image motion
    per unit inverse depth at pixel p; only opening edges count (closing ones hide things).
    ``disparity`` is normalised here (max = 1) and scaled so that its maximum sits at
    ``near_depth``. ``threshold`` is the normalised disparity jump that counts as a depth
    edge: the photo's own depth threshold, so that the edges predicted here are the ones the
    mesh was torn along.
    """
    d = np.asarray(disparity, np.float64)
    if d.ndim != 2 or min(d.shape) < 2:
        raise SettingsError(f"disparity has shape {d.shape}; expected a 2D map.")
    d = np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(d.max())
    if peak <= 0.0:
        return 0.0, 0.0
    d = d / peak
    h, w = d.shape
    tx, ty, tz = (float(c) for c in translation)
    inv = d / near_depth  # true inverse depth (1 / Blender units)
    # Pixel centres relative to the principal point, x right and y up.
    xs = np.arange(w) - (w - 1) / 2.0
    ys = (h - 1) / 2.0 - np.arange(h)
    # Horizontal neighbour pairs (left L, right R): a gap opens when R moves right of L.
    jump_x = inv[:, 1:] - inv[:, :-1]
    edge_x = np.abs(d[:, 1:] - d[:, :-1]) > threshold
    wx = focal_px * tx + 0.5 * (xs[1:] + xs[:-1])[None, :] * tz
    gap_x = np.where(edge_x, np.maximum(0.0, -jump_x * wx), 0.0)
    # Vertical pairs (top T, bottom B, rows go down): a gap opens when B drops below T.
    jump_y = inv[1:, :] - inv[:-1, :]
    edge_y = np.abs(d[1:, :] - d[:-1, :]) > threshold
    wy = focal_px * ty + 0.5 * (ys[1:] + ys[:-1])[:, None] * tz
    gap_y = np.where(edge_y, np.maximum(0.0, jump_y * wy), 0.0)
    total = float(gap_x.sum() + gap_y.sum())
    largest = float(max(gap_x.max(initial=0.0), gap_y.max(initial=0.0)))
    return total, largest
