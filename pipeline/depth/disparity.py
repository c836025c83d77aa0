"""Normalised disparity, scene depth and depth discontinuities."""

from __future__ import annotations

import numpy as np

from ..io.depth_file import DepthMap


def normalise(disparity: np.ndarray) -> np.ndarray:
    """Disparity divided by its maximum: 1 at the nearest point, scale-free.

    Thresholds on this are independent of the map's units (a depth map in metres and the same
    map in millimetres give the same cuts)."""
    top = float(np.max(disparity))
    if not top > 0:
        return np.zeros_like(disparity, dtype=np.float32)
    return (disparity * np.float32(1.0 / top)).astype(np.float32, copy=False)


def scene_depth(depth: DepthMap, depth_scale: float, far_ratio: float) -> np.ndarray:
    """Distance along the camera axis in Blender units.

    A DEPTH map keeps its true shape: one global scale, never a shift. A DISPARITY map (known
    only up to scale) puts its nearest point at ``depth_scale`` and clamps far points at
    ``far_ratio`` times that distance."""
    if depth.kind == "DEPTH":
        return (depth.values * np.float32(depth_scale)).astype(np.float32, copy=False)
    d = np.maximum(normalise(depth.values), np.float32(1.0 / far_ratio))
    return (np.float32(depth_scale) / d).astype(np.float32)


def discontinuities(disp: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut masks between 4-neighbours: ``right[y, x]`` cuts (y, x)-(y, x+1), shape (H, W-1);
    ``down[y, x]`` cuts (y, x)-(y+1, x), shape (H-1, W). ``disp`` is normalised disparity."""
    right = np.abs(disp[:, 1:] - disp[:, :-1]) > threshold
    down = np.abs(disp[1:, :] - disp[:-1, :]) > threshold
    return right, down


def edge_map(disp: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels on either side of a discontinuity, (H, W) bool."""
    right, down = discontinuities(disp, threshold)
    edges = np.zeros(disp.shape, bool)
    edges[:, 1:] |= right
    edges[:, :-1] |= right
    edges[1:, :] |= down
    edges[:-1, :] |= down
    return edges
