"""The CUSTOM preset's user keyframes: reading them (:class:`Keyframe`) and interpolating
a smooth path through them, open or closed into a loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SettingsError


@dataclass(frozen=True)
class Keyframe:
    """A user keyframe for the CUSTOM preset.

    ``frame`` counts from the start of the clip (0 .. frames-1); ``location`` is in units of
    the focus distance (so (0.05, 0, 0) is 5 % of the subject distance to the right) and is
    scaled by ``amplitude``; ``rotation`` (Euler XYZ radians) is optional: when every keyframe
    leaves it out, the camera follows ``pivot``.
    """

    frame: float
    location: tuple[float, float, float]
    rotation: tuple[float, float, float] | None = None
    focal_factor: float = 1.0

    @classmethod
    def coerce(cls, value: Keyframe | Mapping[str, Any] | Sequence[Any]) -> Keyframe:
        """Accept a Keyframe, a dict with the same field names, or (frame, location[, rot])."""
        if isinstance(value, Keyframe):
            return value
        try:
            if isinstance(value, Mapping):
                kf = cls(
                    float(value["frame"]),
                    _vec3(value["location"]),
                    None if value.get("rotation") is None else _vec3(value["rotation"]),
                    float(value.get("focal_factor", 1.0)),
                )
            else:
                items = list(value)
                kf = cls(
                    float(items[0]),
                    _vec3(items[1]),
                    None if len(items) < 3 or items[2] is None else _vec3(items[2]),
                    float(items[3]) if len(items) > 3 else 1.0,
                )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise SettingsError(
                f"keyframes: cannot read {value!r} as a keyframe ({e}); give "
                "{'frame': F, 'location': (x, y, z), 'rotation': (rx, ry, rz) or None, "
                "'focal_factor': k}."
            ) from None
        return kf


def _vec3(v: Any) -> tuple[float, float, float]:
    x, y, z = (float(c) for c in v)
    return (x, y, z)


def interpolate_keyframes(
    kfs: list[Keyframe], frame_pos: np.ndarray, frames: int, loop: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(locations (F, 3), rotations (F, 3) or None, focal factors (F,)) at the (fractional)
    frames ``frame_pos``; locations are in keyframe units (not yet scaled by amplitude)."""
    if len(kfs) < 2:
        raise SettingsError("keyframes: give at least two keyframes for the CUSTOM preset.")
    kfs = sorted(kfs, key=lambda k: k.frame)
    times = np.array([k.frame for k in kfs])
    if np.any(np.diff(times) <= 0):
        raise SettingsError("keyframes: two keyframes share a frame; give each its own frame.")
    if times[0] < 0 or times[-1] > frames - 1:
        raise SettingsError(
            f"keyframes: frames must lie in 0..{frames - 1} (got {times[0]:g}..{times[-1]:g})."
        )
    has_rot = [k.rotation is not None for k in kfs]
    if any(has_rot) and not all(has_rot):
        raise SettingsError(
            "keyframes: give a rotation on every keyframe or on none (then the camera "
            "follows the pivot setting)."
        )
    factors = np.array([k.focal_factor for k in kfs])
    if not np.all(np.isfinite(factors)) or np.any(factors < 0.05) or np.any(factors > 20):
        raise SettingsError("keyframes: focal_factor must be between 0.05 and 20.")
    locs = np.array([k.location for k in kfs], np.float64)
    if not np.all(np.isfinite(locs)):
        raise SettingsError("keyframes: locations must be finite numbers.")
    # Channels: location (3), log focal factor (1: zoom speed feels uniform), rotation (3).
    # Rotations interpolate as plain numbers, as Blender's Euler F-curves do (no unwrapping:
    # keying 0 then 350 degrees turns the long way, in Blender and here alike).
    values = np.concatenate([locs, np.log(factors)[:, None]], axis=1)
    if all(has_rot):
        rots = np.array([k.rotation for k in kfs], np.float64)
        if not np.all(np.isfinite(rots)):
            raise SettingsError("keyframes: rotations must be finite numbers (radians).")
        values = np.concatenate([values, rots], axis=1)
    if loop:
        # Periodic: repeat two keyframes on either side one period (N frames) away, so the
        # tangents at the seam see the other side of the loop and the path closes smoothly.
        times = np.concatenate([times[-2:] - frames, times, times[:2] + frames])
        values = np.concatenate([values[-2:], values, values[:2]])
    out = _hermite(times, values, frame_pos)
    rot = out[:, 4:] if all(has_rot) else None
    return out[:, :3], rot, np.exp(out[:, 3])


def _hermite(times: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation with Catmull-Rom tangents (finite differences over
    non-uniform spacing); outside the keys the first/last value is held."""
    n = len(times)
    tangents = np.empty_like(values)
    tangents[1:-1] = (values[2:] - values[:-2]) / (times[2:] - times[:-2])[:, None]
    tangents[0] = (values[1] - values[0]) / (times[1] - times[0])
    tangents[-1] = (values[-1] - values[-2]) / (times[-1] - times[-2])
    x = np.clip(x, times[0], times[-1])
    i = np.clip(np.searchsorted(times, x, side="right") - 1, 0, n - 2)
    t0, t1 = times[i], times[i + 1]
    dt = (t1 - t0)[:, None]
    s = ((x - t0) / (t1 - t0))[:, None]
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    return (
        h00 * values[i] + h10 * dt * tangents[i] + h01 * values[i + 1] + h11 * dt * tangents[i + 1]
    )
