"""The result of every preset: :class:`Trajectory`, per-frame camera poses, and
:func:`assemble`, which turns locations, lens factors and look-at targets into one by
applying the pivot setting (turn towards the focus point, shift the lens, or neither)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..settings import DEFAULT_FOV_DEGREES
from .geometry import border_zoom, look_at_euler


@dataclass(frozen=True)
class Trajectory:
    """Per-frame camera poses. F = ``frames`` samples, or ``frames + 1`` when ``includes_end``
    (loops only; the extra sample is t = 1, equal to the first)."""

    locations: np.ndarray  # (F, 3) float64, Blender units
    rotations: np.ndarray  # (F, 3) float64, Euler XYZ radians
    focal_factors: np.ndarray  # (F,) float64: lens = base_lens * factor
    frames: int
    loop: bool
    preset: str = "CUSTOM"
    focus_depth: float = 1.0
    # (F, 2) lens shift in units of the base focal length (pivot="SHIFT"; zeros otherwise).
    shifts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    includes_end: bool = False
    pivot: str = "ROTATE"

    def __post_init__(self) -> None:
        n = len(self.locations)
        if self.shifts.size == 0:  # not given: no lens shift
            object.__setattr__(self, "shifts", np.zeros((n, 2)))
        shapes = (self.locations.shape, self.rotations.shape, self.focal_factors.shape)
        if shapes != ((n, 3), (n, 3), (n,)) or self.shifts.shape != (n, 2):
            raise ValueError(f"Trajectory arrays disagree: {shapes} and {self.shifts.shape}")

    def __len__(self) -> int:
        return int(self.locations.shape[0])

    @property
    def parallax_degrees(self) -> float:
        """Largest angle (degrees) the camera swings around the focus point."""
        lateral = np.hypot(self.locations[:, 0], self.locations[:, 1])
        distance = self.focus_depth + self.locations[:, 2]
        return float(np.degrees(np.max(np.arctan2(lateral, distance))))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists) for the Blender side and for the worker protocol."""
        return {
            "preset": self.preset,
            "frames": self.frames,
            "loop": self.loop,
            "includes_end": self.includes_end,
            "focus_depth": self.focus_depth,
            "pivot": self.pivot,
            "locations": self.locations.tolist(),
            "rotations": self.rotations.tolist(),
            "focal_factors": self.focal_factors.tolist(),
            "shifts": self.shifts.tolist(),
        }

    def cropped_to_photo(
        self, width: int, height: int, fov_degrees: float = DEFAULT_FOV_DEGREES
    ) -> Trajectory:
        """The same path with one constant extra zoom so the frame never shows past the
        photo's border (for the background at infinity and for the focus plane).

        Moving the camera reveals a sliver beyond the photo's edge on the far side; this
        narrows the lens just enough to keep that sliver out of view for the whole clip.
        """
        extra = border_zoom(self, width, height, fov_degrees)
        return replace(self, focal_factors=self.focal_factors * extra, shifts=self.shifts * extra)


def assemble(
    loc: np.ndarray,
    factor: np.ndarray | float,
    target: np.ndarray,
    rotation: np.ndarray | None,
    pivot: str,
    common: dict[str, Any],
) -> Trajectory:
    """Orientation and lens shift from the pivot setting, then the Trajectory. ``rotation``
    given (CUSTOM keyframes with rotations) wins over the pivot; ``common`` holds the
    Trajectory's remaining fields (frames, loop, preset, focus_depth, includes_end)."""
    count = len(loc)
    factor = np.asarray(factor, np.float64) * np.ones(count)
    shifts = np.zeros((count, 2))
    if rotation is None:
        if pivot == "ROTATE":
            rotation = look_at_euler(loc, target)
        else:
            rotation = np.zeros((count, 3))
            if pivot == "SHIFT":
                # Keep the focus target where it was: the principal point moves onto it.
                depth = loc[:, 2] - target[:, 2]
                shifts = factor[:, None] * (target[:, :2] - loc[:, :2]) / depth[:, None]
    return Trajectory(
        locations=loc,
        rotations=rotation,
        focal_factors=factor,
        shifts=shifts,
        pivot=pivot,
        **common,
    )
