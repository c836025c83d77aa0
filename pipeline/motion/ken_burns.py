"""The KEN_BURNS preset: choosing the end framing from the photo's disparity (travel
direction with the fewest disocclusions, a gap budget, the salient near region) and turning
that plan into poses that never show past the photo's border."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SettingsError
from ..settings import DEFAULT_FOV_DEGREES, PipelineSettings
from .geometry import border_zoom, disocclusion_cost
from .trajectory import Trajectory, assemble
from .vocabulary import DEFAULT_AMPLITUDES

# Ken Burns: the end framing is this much tighter than the photo, unless told otherwise.
DEFAULT_KEN_BURNS_ZOOM = 1.2
# Ken Burns candidate directions: sideways angle phi around the view axis, tilted this far from
# straight ahead (60 deg: mostly sideways, some forward travel).
_KB_DIRECTIONS = 16
_KB_TILT = math.radians(60.0)
# Gap budget for Ken Burns as a fraction of the photo's long side (60 px at 1024 px).
KEN_BURNS_MAX_GAP = 0.06


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
    depth_threshold: float = PipelineSettings.depth_threshold,
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

    ``depth_threshold`` is the normalised disparity jump that counts as a depth edge: pass the
    photo's own ``PipelineSettings.depth_threshold``, so the predicted gaps open at the edges
    its mesh was actually torn along.
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
            c_total, c_max = disocclusion_cost(small, cand * step, f, near, depth_threshold)
            if best is None or c_total < best[0] - 1e-9:
                best = (c_total, c_max, cand)
        assert best is not None
        cost, largest, direction = best
        budget = max_gap * max(w, h)
        if largest > budget:  # gaps grow linearly with the travel: scale it down to fit
            amplitude *= budget / largest
            cost, largest = disocclusion_cost(
                small, direction * amplitude * focus_depth, f, near, depth_threshold
            )
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


def ken_burns_trajectory(
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
        return assemble(loc, factor, target, None, pivot, common)

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
