"""Camera trajectories for 3D photos: pure math, no bpy.

Conventions (Blender's):

* The camera at rest sits at the origin looking down -Z with +X right and +Y up; it reproduces
  the photo exactly. The photo's mesh lies in front of it at negative Z.
* ``focus_depth`` is the distance (Blender units, along -Z) of the subject. Points at that depth
  are the parallax pivot: they stay (nearly) still while nearer points move against the camera
  and farther points move with it.
* Amplitudes are a **fraction of the focus distance**: a SWING of 0.04 moves the camera 4 % of
  the subject distance to each side. Lateral amplitudes can also be given as **degrees of
  parallax** (the angle the camera swings around the focus point): ``amplitude_unit="DEGREES"``
  or :func:`parallax_to_amplitude`.
* Output per frame: camera location (x, y, z), rotation as Euler XYZ radians (Blender's default
  rotation mode, R = Rz @ Ry @ Rx), the focal length as a factor of the photo's focal length
  (``lens = base_lens * factor``) and an optional lens shift (see ``pivot`` below).

How the focus point stays put (``pivot``):

* ``"ROTATE"`` (default): the camera turns to keep looking at the focus point, without roll.
  Works with any Blender setup; for the small angles used here (a few degrees) the keystone
  this adds is invisible.
* ``"SHIFT"``: the camera keeps its rest orientation and an off-axis lens shift re-centres the
  focus point; the whole focus *plane* stays exactly fixed (what phone "3D photos" do).
  ``shifts`` are in units of the base focal length; in Blender set
  ``cam.shift_x = shifts[i, 0] * base_lens / sensor_width`` (same for y, with sensor fit AUTO
  and the sensor spanning the photo's longer side).
* ``"NONE"``: pure translation; nothing is re-centred.

Frames and loops: a trajectory of ``frames`` = N samples is rendered as frames 0..N-1.
Non-looping paths run from t = 0 (frame 0) to t = 1 (frame N-1) inclusive. Looping paths are
sampled at t = i/N, so **frame N (t = 1) is not included**: it equals frame 0, and leaving it
out makes a video of N frames loop without a repeated frame. For keyframes with a cyclic
F-curve modifier, ask for ``include_end=True``: the trajectory then holds N + 1 samples, the last
(computed at t = 1, not copied) equal to the first, so the F-curve's period is exactly N frames.

Default amplitudes keep holes within what the LDI can show: the geometry extension grows
50-70 px behind every depth edge for a ~1024 px photo (design.md) and the camera's focal length
is about max(W, H) px. A lateral move t opens a gap of f * t * (1/z_near - 1/z_far) pixels at an
edge, so with the subject as the nearest layer (the worst case) t / z_focus <= 60 / 1024 ~ 0.06;
the defaults below stay under ~50 px over the central 80 % of the frame with far = 30 x near
(tests/unit/test_trajectories.py checks this by projection).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import SettingsError
from .settings import DEFAULT_FOV_DEGREES

PRESETS = ("SWING", "VERTICAL", "CIRCLE", "ZOOM_IN", "DOLLY_ZOOM", "KEN_BURNS", "CUSTOM")
EASINGS = ("LINEAR", "EASE_IN", "EASE_OUT", "EASE_IN_OUT")
PIVOTS = ("ROTATE", "SHIFT", "NONE")
AMPLITUDE_UNITS = ("FRACTION", "DEGREES")

# Fraction of the focus distance. SWING/VERTICAL/CIRCLE/KEN_BURNS: sideways travel (half the
# peak-to-peak swing, the circle's radius); ZOOM_IN: how far the camera moves forward;
# DOLLY_ZOOM: how far behind the rest position the move starts (the lens starts at 1 + a and
# ends at 1, so the frame never widens past the photo). VERTICAL is smaller than SWING because
# a landscape photo has less room vertically.
DEFAULT_AMPLITUDES: dict[str, float] = {
    "SWING": 0.04,
    "VERTICAL": 0.025,
    "CIRCLE": 0.03,
    "ZOOM_IN": 0.10,
    "DOLLY_ZOOM": 0.12,
    "KEN_BURNS": 0.04,
    "CUSTOM": 1.0,  # keyframe locations are scaled by amplitude; 1 = as keyed
}
# Beyond these the path leaves any sensible range (ZOOM_IN would pass the subject).
MAX_AMPLITUDES: dict[str, float] = {
    "SWING": 1.0,
    "VERTICAL": 1.0,
    "CIRCLE": 1.0,
    "ZOOM_IN": 0.9,
    "DOLLY_ZOOM": 4.0,
    "KEN_BURNS": 1.0,
    "CUSTOM": 100.0,
}
LATERAL_PRESETS = ("SWING", "VERTICAL", "CIRCLE", "KEN_BURNS")
# Periodic paths loop by going round; the others loop by going there and back (ping-pong).
PERIODIC_PRESETS = ("SWING", "VERTICAL", "CIRCLE")

# Ken Burns: the end framing is this much tighter than the photo, unless told otherwise.
DEFAULT_KEN_BURNS_ZOOM = 1.2
# Normalised disparity jump that counts as a depth edge (settings.depth_threshold's default).
EDGE_THRESHOLD = 0.04
# Ken Burns candidate directions: sideways angle phi around the view axis, tilted this far from
# straight ahead (60 deg: mostly sideways, some forward travel).
_KB_DIRECTIONS = 16
_KB_TILT = math.radians(60.0)
# Gap budget for Ken Burns as a fraction of the photo's long side (60 px at 1024 px).
KEN_BURNS_MAX_GAP = 0.06


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
    def coerce(cls, value: "Keyframe | Mapping[str, Any] | Sequence[Any]") -> "Keyframe":
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
    ) -> "Trajectory":
        """The same path with one constant extra zoom so the frame never shows past the
        photo's border (for the background at infinity and for the focus plane).

        Moving the camera reveals a sliver beyond the photo's edge on the far side; this
        narrows the lens just enough to keep that sliver out of view for the whole clip.
        """
        extra = border_zoom(self, width, height, fov_degrees)
        return replace(self, focal_factors=self.focal_factors * extra, shifts=self.shifts * extra)


# --- public helpers ---------------------------------------------------------------------------


def parallax_to_amplitude(degrees: float) -> float:
    """Degrees of parallax (camera swing around the focus point) -> fraction of the distance."""
    return math.tan(math.radians(degrees))


def amplitude_to_parallax(amplitude: float) -> float:
    return math.degrees(math.atan(amplitude))


def ease(t: np.ndarray, easing: str) -> np.ndarray:
    """Map normalised time [0, 1] -> [0, 1]; every curve keeps 0 -> 0 and 1 -> 1 (so loops
    stay closed). Sine-based: the in/out ends have zero speed."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if easing == "LINEAR":
        return t
    if easing == "EASE_IN":
        return 1.0 - np.cos(0.5 * np.pi * t)
    if easing == "EASE_OUT":
        return np.sin(0.5 * np.pi * t)
    if easing == "EASE_IN_OUT":
        return 0.5 - 0.5 * np.cos(np.pi * t)
    raise SettingsError(f"easing = {easing!r}: must be one of {', '.join(EASINGS)}.")


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


def project_points(traj: Trajectory, points: np.ndarray, focal_px: float) -> np.ndarray:
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
    traj: Trajectory, width: int, height: int, fov_degrees: float = DEFAULT_FOV_DEGREES
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
    threshold: float = EDGE_THRESHOLD,
) -> tuple[float, float]:
    """Predicted holes for moving the camera by ``translation`` (camera coordinates, Blender
    units) in front of a scene with this disparity map: (total gap area in px, largest gap px).

    A depth edge between neighbours with inverse depths d1, d2 opens a gap of
    ``(d2 - d1) * w`` pixels where ``w = f * t_xy + p * t_z`` is the first-order image motion
    per unit inverse depth at pixel p; only opening edges count (closing ones hide things).
    ``disparity`` is normalised here (max = 1) and scaled so that its maximum sits at
    ``near_depth``.
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


@dataclass(frozen=True)
class KenBurnsPlan:
    """What the automatic Ken Burns framing chose (returned for logging and tests)."""

    direction: tuple[float, float, float]  # unit travel direction, camera coordinates
    translation: tuple[float, float, float]  # end position (Blender units)
    centre: tuple[float, float]  # end framing centre, NDC of the photo (x right, y up)
    zoom: float  # end focal factor
    cost: float  # predicted total gap area (px) at the end pose
    largest_gap_px: float


def plan_ken_burns(
    disparity: np.ndarray | None,
    amplitude: float = DEFAULT_AMPLITUDES["KEN_BURNS"],
    focus_depth: float = 1.0,
    near_depth: float | None = None,
    zoom: float = DEFAULT_KEN_BURNS_ZOOM,
    fov_degrees: float = DEFAULT_FOV_DEGREES,
    max_gap: float = KEN_BURNS_MAX_GAP,
) -> KenBurnsPlan:
    """Choose the Ken Burns end framing from a disparity map (or a neutral one without).

    * Travel direction: of 16 directions around the view axis (each 60 deg off straight ahead,
      so mostly sideways with some dolly-in), the one whose predicted disocclusion area
      (:func:`disocclusion_cost`) is smallest: the camera moves towards the side where
      foreground edges hide the least background. Ties (e.g. no map) go to the first, rightward.
    * Amplitude: shrunk, if needed, until the largest predicted gap is at most ``max_gap`` of
      the photo's long side (the LDI's geometry extension).
    * Framing: the end view is ``zoom`` times tighter, centred on the disparity-weighted
      centroid of the nearest 20 % of pixels (the salient subject), clamped so the crop stays
      inside the photo even after the sideways travel.
    """
    near = focus_depth if near_depth is None else near_depth
    direction = _ken_burns_direction(0.0)
    cost, largest = 0.0, 0.0
    centre = np.zeros(2)
    aspect_w, aspect_h = 1.5, 1.0  # only used without a map: a neutral 3:2 frame
    if disparity is not None:
        disparity = np.asarray(disparity, np.float64)
        if disparity.ndim != 2 or min(disparity.shape) < 2:
            raise SettingsError(
                f"disparity has shape {disparity.shape}; Ken Burns needs a 2D disparity map."
            )
        small = _downsample(disparity, 256)
        h, w = small.shape
        aspect_w, aspect_h = float(w), float(h)
        f = 0.5 * max(w, h) / math.tan(math.radians(fov_degrees) / 2.0)
        step = amplitude * focus_depth
        best: tuple[float, float, np.ndarray] | None = None
        for k in range(_KB_DIRECTIONS):
            cand = _ken_burns_direction(2.0 * math.pi * k / _KB_DIRECTIONS)
            c_total, c_max = disocclusion_cost(small, cand * step, f, near)
            if best is None or c_total < best[0] - 1e-9:
                best = (c_total, c_max, cand)
        assert best is not None
        cost, largest, direction = best
        budget = max_gap * max(w, h)
        if largest > budget:  # gaps grow linearly with the travel: scale it down to fit
            amplitude *= budget / largest
            cost, largest = disocclusion_cost(small, direction * amplitude * focus_depth, f, near)
        centre = _salient_centre(small)
    translation = direction * amplitude * focus_depth
    # Keep the end crop inside the photo: half-size 1/zoom around the centre, plus the
    # sliver the sideways travel reveals at infinity (f * t / z_focus px, in NDC units).
    half_w = aspect_w / max(aspect_w, aspect_h)  # NDC half-extent per axis, in focal units
    half_h = aspect_h / max(aspect_w, aspect_h)
    tan_half = math.tan(math.radians(fov_degrees) / 2.0)
    reveal = np.abs(translation[:2]) / focus_depth / (np.array([half_w, half_h]) * tan_half)
    limit = np.maximum(0.0, 1.0 - 1.0 / zoom - reveal)
    centre = np.clip(centre, -limit, limit)
    return KenBurnsPlan(
        tuple(float(c) for c in direction),  # type: ignore[arg-type]
        tuple(float(c) for c in translation),  # type: ignore[arg-type]
        (float(centre[0]), float(centre[1])),
        float(zoom),
        float(cost),
        float(largest),
    )


def _ken_burns_direction(phi: float) -> np.ndarray:
    s = math.sin(_KB_TILT)
    return np.array([math.cos(phi) * s, math.sin(phi) * s, -math.cos(_KB_TILT)])


def _downsample(d: np.ndarray, max_side: int) -> np.ndarray:
    """Block-mean downsample so the long side is <= max_side (cost estimates need no more)."""
    h, w = d.shape
    k = max(1, math.ceil(max(h, w) / max_side))
    if k == 1:
        return d
    h2, w2 = (h // k) * k, (w // k) * k
    return d[:h2, :w2].reshape(h2 // k, k, w2 // k, k).mean(axis=(1, 3))


def _salient_centre(d: np.ndarray) -> np.ndarray:
    """Disparity-weighted centroid of the nearest 20 % of pixels, in NDC (x right, y up)."""
    d = np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0)
    cut = np.quantile(d, 0.8)
    weight = np.where(d >= cut, d, 0.0)
    total = weight.sum()
    if total <= 0:
        return np.zeros(2)
    h, w = d.shape
    ndc_x = (np.arange(w) + 0.5) / w * 2.0 - 1.0
    ndc_y = 1.0 - (np.arange(h) + 0.5) / h * 2.0
    return np.array(
        [(weight.sum(axis=0) * ndc_x).sum() / total, (weight.sum(axis=1) * ndc_y).sum() / total]
    )


# --- subject and dolly-zoom limits (issue 15) -------------------------------------------------

# Subject search: pixels are weighted by a Gaussian around the image centre (sigma = this
# fraction of each side), and the subject is the nearest disparity level holding at least
# SUBJECT_MIN_SHARE of that weight (a level = disparities within SUBJECT_BAND of each other).
SUBJECT_SIGMA = 0.3
SUBJECT_MIN_SHARE = 0.12
SUBJECT_BAND = 0.08
# The dolly zoom's limit looks at the outermost scene point in this many bins along each side.
BORDER_BINS = 48


def splat_disparity(
    points: np.ndarray, width: int, height: int, tan_half: float, grid: int = 96
) -> np.ndarray:
    """Camera-space points (P, 3; the rest camera at the origin looking down -Z) -> a small
    image of the nearest disparity (1 / distance) per cell, 0 where nothing lands. ``tan_half``
    is the tangent of half the field of view across the longer side."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    pts = pts[pts[:, 2] < 0]
    gw = grid if width >= height else max(2, round(grid * width / height))
    gh = grid if height > width else max(2, round(grid * height / width))
    disp = np.zeros((gh, gw), np.float64)
    if len(pts) == 0:
        return disp
    f = 0.5 * max(gw, gh) / tan_half
    depth = -pts[:, 2]
    u = np.floor(gw / 2.0 + f * pts[:, 0] / depth).astype(np.int64)
    v = np.floor(gh / 2.0 - f * pts[:, 1] / depth).astype(np.int64)
    ok = (u >= 0) & (u < gw) & (v >= 0) & (v < gh)
    np.maximum.at(disp, (v[ok], u[ok]), 1.0 / depth[ok])
    return disp


def subject_depth(disparity: np.ndarray) -> float | None:
    """Distance of the subject: the nearest disparity level that holds a large share of the
    centre-weighted image (a portrait's person, not the wall behind it, nor a sliver of floor
    at the bottom edge). ``disparity`` is 1 / distance (0 = empty). None if it is empty."""
    d = np.nan_to_num(np.asarray(disparity, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    h, w = d.shape
    gy = np.exp(-0.5 * (((np.arange(h) + 0.5) / h - 0.5) / SUBJECT_SIGMA) ** 2)
    gx = np.exp(-0.5 * (((np.arange(w) + 0.5) / w - 0.5) / SUBJECT_SIGMA) ** 2)
    weight = (gy[:, None] * gx[None, :])[d > 0]
    values = d[d > 0]
    if values.size == 0:
        return None
    # Levels in log-disparity, so "within 8 %" means the same near and far.
    logd = np.log(values)
    order = np.argsort(-logd)  # nearest first
    logd, weight = logd[order], weight[order]
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    # Weight of the band [logd_i - band, logd_i] for every pixel i taken as the band's top.
    ends = np.searchsorted(-logd, -(logd - SUBJECT_BAND), side="right")
    share = (cum[ends] - cum[np.arange(len(logd))]) / cum[-1]
    big = np.flatnonzero(share >= SUBJECT_MIN_SHARE)
    i = int(big[0]) if big.size else int(np.argmax(share))
    band = slice(i, int(ends[i]))
    # The weighted median of the band: the level's own distance.
    wcum = np.cumsum(weight[band])
    level = logd[band][int(np.searchsorted(wcum, 0.5 * wcum[-1]))]
    return float(np.exp(-level))


def dolly_zoom_limit(
    points: np.ndarray, focus_depth: float, tan_half: tuple[float, float]
) -> float:
    """Largest DOLLY_ZOOM amplitude (fraction of ``focus_depth``) whose start pose still sees
    only the scene (``points``: the mesh's camera-space vertices, frame margin included).

    Moving back by b with the lens narrowed by (z_f + b) / z_f keeps the focus plane's framing
    but widens the view of anything nearer: the frame's edge ray meets distance z at tangent
    t z_f (z + b) / (z z_f + z b), so an outermost scene point at distance z and outward
    tangent T stays outside the frame while b <= z z_f (T - t) / (t z_f - T z) (when
    T z < t z_f; t = the frame's half-angle tangent). The outermost point is taken in each
    of BORDER_BINS bins along every side; the smallest bound wins."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    pts = pts[pts[:, 2] < 0]
    if len(pts) == 0:
        return math.inf
    z = -pts[:, 2]
    z_f = float(focus_depth)
    limit = math.inf
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        t, t_along = tan_half[axis], tan_half[1 - axis]
        outward = sign * pts[:, axis] / z
        along = pts[:, 1 - axis] / z
        inside = np.abs(along) < t_along
        bins = np.floor((along[inside] / t_along + 1.0) * 0.5 * BORDER_BINS).astype(np.int64)
        out, depth = outward[inside], z[inside]
        order = np.lexsort((out, bins))  # by bin, then outward: each bin's last is outermost
        last = np.flatnonzero(np.diff(np.append(bins[order], BORDER_BINS + 1)) != 0)
        tangent, near = out[order][last], depth[order][last]
        if (tangent <= t).any():
            return 0.0  # the scene does not even fill the rest frame there
        tight = tangent * near < t * z_f
        if tight.any():
            bound = near * z_f * (tangent - t) / (t * z_f - tangent * near)
            limit = min(limit, float(bound[tight].min()))
    return limit / z_f


# --- the main entry -------------------------------------------------------------------------


def make_trajectory(
    preset: str,
    frames: int,
    amplitude: float | None = None,
    loop: bool = True,
    focus_depth: float = 1.0,
    easing: str | None = None,
    keyframes: Iterable[Keyframe | Mapping[str, Any] | Sequence[Any]] | None = None,
    *,
    pivot: str = "ROTATE",
    amplitude_unit: str = "FRACTION",
    include_end: bool = False,
    disparity: np.ndarray | None = None,
    near_depth: float | None = None,
    ken_burns_zoom: float = DEFAULT_KEN_BURNS_ZOOM,
    fov_degrees: float = DEFAULT_FOV_DEGREES,
    max_amplitude: float | None = None,
) -> Trajectory:
    """Build a camera path.

    ``amplitude`` None = the preset's default (:data:`DEFAULT_AMPLITUDES`), else a fraction of
    ``focus_depth`` (or degrees of parallax with ``amplitude_unit="DEGREES"``, lateral presets
    only). ``easing`` None = LINEAR for looping SWING/VERTICAL/CIRCLE (constant-speed
    sinusoids) and CUSTOM (the user's timing), EASE_IN_OUT for everything else. In loops
    easing warps time within each cycle (ping-pong paths ease at both turning points).
    ``disparity`` (optional, any size, larger = nearer) and ``near_depth`` (distance of the
    nearest point, default ``focus_depth``) drive KEN_BURNS; other presets ignore them.
    ``max_amplitude`` caps the amplitude (e.g. :func:`dolly_zoom_limit`, so that a dolly zoom
    never sees past the scene).

    Per preset (A = amplitude x focus_depth):

    * SWING / VERTICAL: x (or y) = A sin(2 pi t) looping, -A -> +A otherwise.
    * CIRCLE: (x, y) = A (sin, cos)(2 pi t), one turn (closed either way).
    * ZOOM_IN: dolly forward by A; looping = forward and back.
    * DOLLY_ZOOM: start A behind the rest position with the lens at (z_f + A) / z_f, move in to
      the rest position while the lens widens back to 1: the subject keeps its size, the
      background shrinks. The frame is never wider than the photo. Looping = there and back.
    * KEN_BURNS: from the photo's own framing to the end framing of :func:`plan_ken_burns`
      (travel, zoom and re-centring); looping = there and back.
    * CUSTOM: cubic (Catmull-Rom style) interpolation through ``keyframes``; looping closes
      the spline from the last keyframe back to the first one N frames later.
    """
    preset = _check_choice("preset", preset, PRESETS)
    pivot = _check_choice("pivot", pivot, PIVOTS)
    amplitude_unit = _check_choice("amplitude_unit", amplitude_unit, AMPLITUDE_UNITS)
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)):
        raise SettingsError(f"frames = {frames!r}: must be a whole number of frames (>= 2).")
    frames = int(frames)
    if not 2 <= frames <= 1_000_000:
        raise SettingsError(f"frames = {frames}: must be between 2 and 1000000.")
    _check_positive("focus_depth", focus_depth, "Blender units, the subject's distance")
    if easing is None:
        # Periodic loops are sinusoids already (smooth everywhere); CUSTOM keeps the user's
        # timing; everything else starts and stops, so it eases.
        plain = preset == "CUSTOM" or (loop and preset in PERIODIC_PRESETS)
        easing = "LINEAR" if plain else "EASE_IN_OUT"
    easing = _check_choice("easing", easing, EASINGS)
    amp = _resolve_amplitude(preset, amplitude, amplitude_unit)
    if max_amplitude is not None:
        amp = min(amp, max(float(max_amplitude), 0.0))
    if near_depth is not None:
        _check_positive("near_depth", near_depth, "Blender units, the nearest point's distance")
    _check_range("ken_burns_zoom", ken_burns_zoom, 1.0, 4.0)
    _check_range("fov_degrees", fov_degrees, 1.0, 170.0)
    loop = bool(loop)
    include_end = bool(include_end) and loop  # non-loops already end on t = 1

    count = frames + 1 if include_end else frames
    if loop:
        t = np.arange(count, dtype=np.float64) / frames
    else:
        t = np.linspace(0.0, 1.0, frames)

    z_f = float(focus_depth)
    a = amp * z_f
    loc = np.zeros((count, 3))
    factor = np.ones(count)
    rotation: np.ndarray | None = None
    common: dict[str, Any] = {
        "frames": frames,
        "loop": loop,
        "preset": preset,
        "focus_depth": z_f,
        "includes_end": include_end,
    }

    if preset == "CUSTOM":
        if keyframes is not None and not isinstance(keyframes, (list, tuple)):
            keyframes = list(keyframes)
        if not keyframes:
            raise SettingsError(
                "keyframes: the CUSTOM preset needs at least two keyframes "
                "(frame, location[, rotation, focal_factor])."
            )
        kfs = [Keyframe.coerce(k) for k in keyframes]
        frame_pos = ease(t, easing) * (frames if loop else frames - 1)
        loc, rotation, factor = _interpolate_keyframes(kfs, frame_pos, frames, loop)
        loc = loc * a
    elif keyframes:
        raise SettingsError(f"keyframes are only used by the CUSTOM preset, not {preset}.")
    elif preset in PERIODIC_PRESETS:
        phase = 2.0 * np.pi * ease(t, easing)
        if preset == "CIRCLE":
            loc[:, 0] = a * np.sin(phase)
            loc[:, 1] = a * np.cos(phase)
        else:
            axis = 0 if preset == "SWING" else 1
            if loop:
                loc[:, axis] = a * np.sin(phase)
            else:
                loc[:, axis] = a * (2.0 * ease(t, easing) - 1.0)
    else:
        # Ping-pong presets: u runs 0 -> 1 (-> 0 when looping) from start pose to end pose.
        u = ease(1.0 - np.abs(1.0 - 2.0 * t) if loop else t, easing)
        if preset == "ZOOM_IN":
            loc[:, 2] = -a * u
        elif preset == "DOLLY_ZOOM":
            back = a * (1.0 - u)  # camera distance behind the rest position
            loc[:, 2] = back
            # Projected size ~ lens / distance: keep lens / (z_f + back) = base / z_f.
            factor = (z_f + back) / z_f
        else:  # KEN_BURNS
            plan = plan_ken_burns(disparity, amp, z_f, near_depth, ken_burns_zoom, fov_degrees)
            loc = u[:, None] * np.asarray(plan.translation)[None, :]
            factor = plan.zoom**u  # geometric: a constant perceived zoom speed
            return _ken_burns_trajectory(
                plan, u, loc, factor, z_f, disparity, fov_degrees, pivot, common
            )

    target = np.tile([0.0, 0.0, -z_f], (count, 1))
    return _assemble(loc, factor, target, rotation, pivot, common)


def _assemble(
    loc: np.ndarray,
    factor: np.ndarray | float,
    target: np.ndarray,
    rotation: np.ndarray | None,
    pivot: str,
    common: dict[str, Any],
) -> Trajectory:
    """Orientation and lens shift from the pivot setting, then the Trajectory."""
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


def _ken_burns_trajectory(
    plan: KenBurnsPlan,
    u: np.ndarray,
    loc: np.ndarray,
    factor: np.ndarray,
    z_f: float,
    disparity: np.ndarray | None,
    fov: float,
    pivot: str,
    common: dict[str, Any],
) -> Trajectory:
    """Ken Burns poses; the re-centring is pulled back towards the middle when a turned
    camera's keystone would show past the photo's border (a shifted lens never does)."""
    h, w = np.asarray(disparity).shape[:2] if disparity is not None else (2, 3)

    def build(scale: float) -> Trajectory:
        target = _framing_target(plan, u * scale, z_f, w, h, fov)
        return _assemble(loc, factor, target, None, pivot, common)

    def need(traj: Trajectory) -> float:
        try:
            return border_zoom(traj, w, h, fov)
        except SettingsError:
            return math.inf

    traj = build(1.0)
    if plan.centre == (0.0, 0.0) or need(traj) <= 1.0 + 1e-3:
        return traj
    lo, hi = 0.0, 1.0  # bisect the largest re-centring that still fits
    for _ in range(16):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if need(build(mid)) <= 1.0 + 1e-3 else (lo, mid)
    return build(lo)


def _framing_target(
    plan: KenBurnsPlan, u: np.ndarray, z_f: float, w: int, h: int, fov: float
) -> np.ndarray:
    """Look-at points for Ken Burns: the focus-depth point on the ray through the framing
    centre, moving from the photo's centre (u = 0) to the plan's centre (u = 1)."""
    tan_half = math.tan(math.radians(fov) / 2.0)
    half_w = w / max(w, h) * tan_half  # tangent of the half-angle across each axis
    half_h = h / max(w, h) * tan_half
    cx, cy = plan.centre
    return np.stack([u * cx * half_w * z_f, u * cy * half_h * z_f, np.full_like(u, -z_f)], axis=-1)


def _interpolate_keyframes(
    kfs: list[Keyframe], frame_pos: np.ndarray, frames: int, loop: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
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


# --- validation helpers ---------------------------------------------------------------------


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.upper() not in choices:
        raise SettingsError(f"{name} = {value!r}: must be one of {', '.join(choices)}.")
    return value.upper()


def _check_positive(name: str, value: Any, unit: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SettingsError(f"{name} = {value!r}: must be a positive number ({unit}).")


def _check_range(name: str, value: Any, lo: float, hi: float) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float, np.floating, np.integer))
        and math.isfinite(value)
        and lo <= value <= hi
    )
    if not ok:
        raise SettingsError(f"{name} = {value!r}: must be a number from {lo:g} to {hi:g}.")


def _resolve_amplitude(preset: str, amplitude: float | None, unit: str) -> float:
    if amplitude is None:
        return DEFAULT_AMPLITUDES[preset]
    if (
        isinstance(amplitude, bool)
        or not isinstance(amplitude, (int, float, np.floating, np.integer))
        or not math.isfinite(amplitude)
    ):
        raise SettingsError(f"amplitude = {amplitude!r}: must be a number.")
    if unit == "DEGREES":
        if preset not in LATERAL_PRESETS:
            raise SettingsError(
                f"amplitude_unit = DEGREES only applies to sideways presets "
                f"({', '.join(LATERAL_PRESETS)}); give {preset} as a fraction of the distance."
            )
        if not 0.0 < amplitude < 45.0:
            raise SettingsError(
                f"amplitude = {amplitude!r} degrees of parallax: must be between 0 and 45."
            )
        amplitude = parallax_to_amplitude(float(amplitude))
    hi = MAX_AMPLITUDES[preset]
    if not 0.0 < amplitude <= hi:
        raise SettingsError(
            f"amplitude = {amplitude!r}: for {preset} must be above 0 and at most {hi:g} "
            f"(a fraction of the focus distance; the default is {DEFAULT_AMPLITUDES[preset]:g})."
        )
    return float(amplitude)
