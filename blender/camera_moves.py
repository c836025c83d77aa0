"""A 3D photo's camera moves: the trajectory for a preset on this photo (its focus, Ken
Burns' salient region, the dolly zoom's limit, its safe amplitude), keyed on its camera."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import bpy

from .keyframes import REST_LENS, apply_trajectory
from .photo import photo_safe_motion, photo_vertices

if TYPE_CHECKING:
    import numpy as np

    from ..pipeline.motion import Trajectory


KEN_BURNS_GRID = 96  # long side of the disparity image Ken Burns plans on


def disparity_image(photo: bpy.types.Object, camera: bpy.types.Object) -> np.ndarray | None:
    """A small disparity image of the photo's front layer, seen from the rest camera (for the
    Ken Burns planner, which looks for the salient near region)."""
    from ..pipeline.motion import splat_disparity

    scene = bpy.context.scene
    cam_data = cast(bpy.types.Camera, camera.data)
    disp = splat_disparity(
        photo_vertices(photo, front_only=True),
        scene.render.resolution_x,
        scene.render.resolution_y,
        math.tan(cam_data.angle / 2.0),
        KEN_BURNS_GRID,
    )
    return disp if disp.max() > 0 else None


def dolly_limit(photo: bpy.types.Object, focus: float, fov: float) -> float:
    """The largest dolly-zoom amplitude whose frames stay inside the (extended) scene."""
    from ..pipeline.motion import dolly_zoom_limit

    scene = bpy.context.scene
    w, h = scene.render.resolution_x, scene.render.resolution_y
    tan_long = math.tan(math.radians(fov) / 2.0)
    tan_half = (tan_long * w / max(w, h), tan_long * h / max(w, h))
    return dolly_zoom_limit(photo_vertices(photo, front_only=False), focus, tan_half)


def safe_amplitude(photo: bpy.types.Object, traj: "Trajectory", amplitude: float) -> float | None:
    """The largest amplitude of this path that shows no holes on this photo (same unit as
    ``amplitude``), None when the photo does not know its safe moves."""
    from ..pipeline.ldi.reveal import covered_fraction

    safe = photo_safe_motion(photo)
    if safe is None:
        return None
    return amplitude * covered_fraction(safe, traj.locations)


def build_trajectory(
    photo: bpy.types.Object,
    preset: str,
    frames: int,
    amplitude: float | None = None,
    loop: bool = True,
    focus_depth: float | None = None,
    easing: str | None = None,
    pivot: str = "ROTATE",
    crop_to_photo: bool = True,
    keyframes: list[Any] | None = None,
) -> "Trajectory":
    """The trajectory for ``photo``'s camera; raises pipeline SettingsError on bad settings."""
    from ..pipeline.motion import make_trajectory

    camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
    cam_data = cast(bpy.types.Camera, camera.data)
    base_lens = float(camera.get(REST_LENS, cam_data.lens))
    # Field of view across the long side at the rest lens (sensor fit AUTO).
    fov = math.degrees(2.0 * math.atan(cam_data.sensor_width / (2.0 * base_lens)))
    focus = float(focus_depth or photo.oneshot3d.focus_depth or 1.0)  # type: ignore[attr-defined]
    disparity = disparity_image(photo, camera) if preset == "KEN_BURNS" else None
    near = 1.0 / float(disparity.max()) if disparity is not None else None
    limit = dolly_limit(photo, focus, fov) if preset == "DOLLY_ZOOM" else None
    traj = make_trajectory(
        preset,
        frames,
        amplitude,
        loop,
        focus,
        easing,
        keyframes if preset == "CUSTOM" else None,
        pivot=pivot,
        include_end=loop,
        disparity=disparity,
        near_depth=near,
        fov_degrees=fov,
        max_amplitude=limit,
        depth_threshold=float(photo.oneshot3d.depth_threshold),  # type: ignore[attr-defined]
    )
    if crop_to_photo:
        scene = bpy.context.scene
        traj = traj.cropped_to_photo(scene.render.resolution_x, scene.render.resolution_y, fov)
    return traj


def animate_photo(
    context: bpy.types.Context,
    photo: bpy.types.Object,
    preset: str,
    frames: int,
    amplitude: float | None = None,
    loop: bool = True,
    **kwargs: Any,
) -> "Trajectory":
    """Build the trajectory, key the photo's camera, make it the scene camera and set the
    scene's frame range to the clip (frame N of a loop is left out: it equals the first)."""
    traj = build_trajectory(photo, preset, frames, amplitude, loop, **kwargs)
    if amplitude is None and preset not in ("CUSTOM", "KEN_BURNS"):
        # The preset's default amplitude, but never past what this photo can show without
        # holes (a photo whose nearest surface is far nearer than its median would otherwise
        # swing its foreground across the frame).
        from ..pipeline.motion import DEFAULT_AMPLITUDES

        default = DEFAULT_AMPLITUDES[preset]
        limit = safe_amplitude(photo, traj, default)
        if limit is not None and limit < default:
            traj = build_trajectory(photo, preset, frames, limit, loop, **kwargs)
    camera = photo.oneshot3d.camera  # type: ignore[attr-defined]
    scene = context.scene
    apply_trajectory(camera, traj, scene.frame_start)
    scene.camera = camera
    scene.frame_end = scene.frame_start + frames - 1
    scene.frame_set(scene.frame_start)
    return traj
