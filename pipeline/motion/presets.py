"""The preset camera paths: :func:`make_trajectory`, the one entry that samples a preset over
time (with easing) and returns its :class:`~.trajectory.Trajectory`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SettingsError
from ..settings import DEFAULT_FOV_DEGREES, RANGES, PipelineSettings
from .arguments import check_choice, check_positive, check_range, resolve_amplitude
from .ken_burns import DEFAULT_KEN_BURNS_ZOOM, ken_burns_trajectory, plan_ken_burns
from .keyframes import Keyframe, interpolate_keyframes
from .trajectory import Trajectory, assemble
from .vocabulary import AMPLITUDE_UNITS, EASINGS, PERIODIC_PRESETS, PIVOTS, PRESETS


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
    depth_threshold: float = PipelineSettings.depth_threshold,
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
    never sees past the scene). ``depth_threshold`` (KEN_BURNS only) is the disparity jump that
    counts as a depth edge when predicting holes: pass the photo's own
    ``PipelineSettings.depth_threshold``.

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
    preset = check_choice("preset", preset, PRESETS)
    pivot = check_choice("pivot", pivot, PIVOTS)
    amplitude_unit = check_choice("amplitude_unit", amplitude_unit, AMPLITUDE_UNITS)
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)):
        raise SettingsError(f"frames = {frames!r}: must be a whole number of frames (>= 2).")
    frames = int(frames)
    if not 2 <= frames <= 1_000_000:
        raise SettingsError(f"frames = {frames}: must be between 2 and 1000000.")
    check_positive("focus_depth", focus_depth, "Blender units, the subject's distance")
    if easing is None:
        # Periodic loops are sinusoids already (smooth everywhere); CUSTOM keeps the user's
        # timing; everything else starts and stops, so it eases.
        plain = preset == "CUSTOM" or (loop and preset in PERIODIC_PRESETS)
        easing = "LINEAR" if plain else "EASE_IN_OUT"
    easing = check_choice("easing", easing, EASINGS)
    amp = resolve_amplitude(preset, amplitude, amplitude_unit)
    if max_amplitude is not None:
        amp = min(amp, max(float(max_amplitude), 0.0))
    if near_depth is not None:
        check_positive("near_depth", near_depth, "Blender units, the nearest point's distance")
    check_range("ken_burns_zoom", ken_burns_zoom, 1.0, 4.0)
    check_range("fov_degrees", fov_degrees, 1.0, 170.0)
    check_range("depth_threshold", depth_threshold, *RANGES["depth_threshold"])
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
        loc, rotation, factor = interpolate_keyframes(kfs, frame_pos, frames, loop)
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
            plan = plan_ken_burns(
                disparity,
                amp,
                z_f,
                near_depth,
                ken_burns_zoom,
                fov_degrees,
                depth_threshold=depth_threshold,
            )
            loc = u[:, None] * np.asarray(plan.translation)[None, :]
            factor = plan.zoom**u  # geometric: a constant perceived zoom speed
            return ken_burns_trajectory(
                plan, u, loc, factor, z_f, disparity, fov_degrees, pivot, common
            )

    target = np.tile([0.0, 0.0, -z_f], (count, 1))
    return assemble(loc, factor, target, rotation, pivot, common)
