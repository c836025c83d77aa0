"""Pinhole camera intrinsics and their conversion to Blender's lens / sensor model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..settings import DEFAULT_FOV_DEGREES

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float  # focal length in pixels (square pixels: fy == fx)
    cx: float  # principal point in pixels, measured from the top-left image corner
    cy: float

    @property
    def fov_degrees(self) -> float:
        """Field of view across the longer image side."""
        return math.degrees(2.0 * math.atan(0.5 * max(self.width, self.height) / self.fx))

    @classmethod
    def from_fov(cls, width: int, height: int, fov_degrees: float) -> "Intrinsics":
        fx = 0.5 * max(width, height) / math.tan(math.radians(fov_degrees) / 2.0)
        return cls(width, height, fx, width / 2.0, height / 2.0)

    @classmethod
    def from_35mm(cls, width: int, height: int, focal_35mm: float) -> "Intrinsics":
        # The 35 mm equivalent focal length refers to the diagonal of a 36x24 mm frame.
        fx = focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
        return cls(width, height, fx, width / 2.0, height / 2.0)

    @classmethod
    def choose(cls, width: int, height: int, fov: float, focal_35mm: float | None) -> "Intrinsics":
        """User's FOV if given (non-zero), else EXIF's 35 mm focal length, else the default."""
        if fov > 0:
            return cls.from_fov(width, height, fov)
        if focal_35mm:
            return cls.from_35mm(width, height, focal_35mm)
        return cls.from_fov(width, height, DEFAULT_FOV_DEGREES)

    def scaled(self, width: int, height: int) -> "Intrinsics":
        s = max(width, height) / max(self.width, self.height)
        return Intrinsics(
            width, height, self.fx * s, self.cx * width / self.width, self.cy * height / self.height
        )

    def blender_lens(self, sensor_mm: float = 36.0) -> float:
        """Lens (mm) for a camera whose sensor_mm spans the longer image side."""
        return self.fx * sensor_mm / max(self.width, self.height)

    def as_tuple(self) -> tuple[float, ...]:
        return (self.width, self.height, self.fx, self.cx, self.cy)

    @classmethod
    def from_tuple(cls, t: tuple[float, ...]) -> "Intrinsics":
        return cls(int(t[0]), int(t[1]), float(t[2]), float(t[3]), float(t[4]))


def unproject(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Image positions (pixels, y down) and camera-axis distances -> Blender camera-frame
    points (+X right, +Y up, the camera looks down -Z)."""
    inv_f = np.float32(1.0 / intrinsics.fx)
    out = np.empty(z.shape + (3,), np.float32)
    out[..., 0] = (xs - np.float32(intrinsics.cx)) * inv_f * z
    out[..., 1] = (np.float32(intrinsics.cy) - ys) * inv_f * z
    out[..., 2] = -z
    return out
