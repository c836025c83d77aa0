"""Camera motion for 3D photos: pure math, no bpy.

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
the defaults (vocabulary.DEFAULT_AMPLITUDES) stay under ~50 px over the central 80 % of the frame with far = 30 x near
(tests/unit/test_trajectories.py checks this by projection).

Modules, one job each (importers outside the package use this package's names, never a
module's, so the cut can change):

* ``vocabulary``: preset / easing / pivot ids with their UI labels, default amplitudes.
* ``arguments``: validating and converting make_trajectory's arguments (parallax degrees).
* ``geometry``: look-at, Euler matrices, projection, border zoom, disocclusion cost.
* ``trajectory``: the Trajectory result and how poses and the pivot become one.
* ``keyframes``: the CUSTOM preset's Keyframe and its spline.
* ``ken_burns``: the KEN_BURNS planner and its poses.
* ``presets``: make_trajectory, the entry point, and easing.
* ``subject``: the subject's depth and the dolly zoom's limit, from the photo's mesh.
"""

from __future__ import annotations

from .arguments import amplitude_to_parallax, parallax_to_amplitude
from .geometry import (
    Poses,
    border_zoom,
    disocclusion_cost,
    euler_to_matrix,
    look_at_euler,
    project_points,
)
from .ken_burns import DEFAULT_KEN_BURNS_ZOOM, KEN_BURNS_MAX_GAP, KenBurnsPlan, plan_ken_burns
from .keyframes import Keyframe
from .presets import ease, make_trajectory
from .subject import dolly_zoom_limit, splat_disparity, subject_depth
from .trajectory import Trajectory
from .vocabulary import (
    AMPLITUDE_UNITS,
    AUTO_EASING,
    DEFAULT_AMPLITUDES,
    EASING_ITEMS,
    EASINGS,
    LATERAL_PRESETS,
    MAX_AMPLITUDES,
    PERIODIC_PRESETS,
    PIVOT_ITEMS,
    PIVOTS,
    PRESET_ITEMS,
    PRESETS,
    EnumItems,
)

__all__ = [
    "AMPLITUDE_UNITS",
    "AUTO_EASING",
    "DEFAULT_AMPLITUDES",
    "DEFAULT_KEN_BURNS_ZOOM",
    "EASINGS",
    "EASING_ITEMS",
    "KEN_BURNS_MAX_GAP",
    "LATERAL_PRESETS",
    "MAX_AMPLITUDES",
    "PERIODIC_PRESETS",
    "PIVOTS",
    "PIVOT_ITEMS",
    "PRESETS",
    "PRESET_ITEMS",
    "EnumItems",
    "KenBurnsPlan",
    "Keyframe",
    "Poses",
    "Trajectory",
    "amplitude_to_parallax",
    "border_zoom",
    "disocclusion_cost",
    "dolly_zoom_limit",
    "ease",
    "euler_to_matrix",
    "look_at_euler",
    "make_trajectory",
    "parallax_to_amplitude",
    "plan_ken_burns",
    "project_points",
    "splat_disparity",
    "subject_depth",
]
