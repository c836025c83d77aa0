"""Normalised disparity, scene depth and depth discontinuities."""

from __future__ import annotations

from collections.abc import Callable

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
    if depth.kind == "DEPTH":  # exact: the stored distances, scaled
        return (depth.values * np.float32(depth_scale)).astype(np.float32, copy=False)
    z_of = depth_function(depth.kind, 1.0, depth_scale, far_ratio)
    return z_of(normalise(depth.values)).astype(np.float32, copy=False)


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


def depth_function(
    kind: str, raw_disparity_max: float, depth_scale: float, far_ratio: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Normalised disparity -> camera-axis distance, the one conversion: ``scene_depth`` uses it for
    the photo's own pixels, the LDI mesh for grown samples too."""
    if kind == "DEPTH":
        a = np.float32(depth_scale / raw_disparity_max)
        return lambda d: a / np.maximum(d, np.float32(1e-12))
    floor = np.float32(1.0 / far_ratio)
    scale = np.float32(depth_scale)
    return lambda d: scale / np.maximum(d, floor)
