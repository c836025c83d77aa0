"""Trajectory math: closed loops, amplitudes, dolly zoom size, look-at, hole budget, Ken Burns."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import SettingsError
from pipeline.motion import (
    DEFAULT_AMPLITUDES,
    EASINGS,
    PRESETS,
    Keyframe,
    amplitude_to_parallax,
    border_zoom,
    disocclusion_cost,
    euler_to_matrix,
    look_at_euler,
    make_trajectory,
    parallax_to_amplitude,
    plan_ken_burns,
    project_points,
)

KEYS = [
    Keyframe(0, (0.0, 0.0, 0.0)),
    Keyframe(10, (0.05, 0.02, 0.0), None, 1.1),
    Keyframe(25, (-0.03, 0.0, -0.1), None, 0.9),
]


def _make(preset: str, frames: int = 48, **kw):
    if preset == "CUSTOM":
        # The same keys spread over the clip (keyframe frames may be fractional).
        scale = (frames - 1) / 30.0
        kw.setdefault("keyframes", [replace(k, frame=k.frame * scale) for k in KEYS])
    return make_trajectory(preset, frames, **kw)


# --- an independent pinhole projection (not the module's) -----------------------------------


def _rot(e):
    """Euler XYZ -> matrix, written out as Rz @ Ry @ Rx from elementary rotations."""
    x, y, z = e
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _project(traj, i, points, f):
    """Pixels (x right, y up) of world points in frame i, with focal factor and lens shift."""
    r = _rot(traj.rotations[i])
    cam = (np.asarray(points, float) - traj.locations[i]) @ r  # rows: R^T (X - C)
    uv = cam[:, :2] / -cam[:, 2:3]
    return f * traj.focal_factors[i] * uv - f * traj.shifts[i]


# --- loops -----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("pivot", ["ROTATE", "SHIFT", "NONE"])
def test_loops_close(preset, pivot):
    traj = _make(preset, 48, loop=True, include_end=True, focus_depth=2.5, pivot=pivot)
    assert len(traj) == 49 and traj.includes_end
    for arr in (traj.locations, traj.rotations, traj.focal_factors, traj.shifts):
        np.testing.assert_allclose(arr[-1], arr[0], atol=1e-12)
    # Without include_end: N samples, the same first N poses (frame N is left out).
    plain = _make(preset, 48, loop=True, focus_depth=2.5, pivot=pivot)
    assert len(plain) == 48 and not plain.includes_end
    np.testing.assert_allclose(plain.locations, traj.locations[:-1], atol=1e-12)
    # The path really moves (a closed loop that stays still would pass the check above).
    assert np.ptp(traj.locations, axis=0).max() > 1e-3


@settings(max_examples=60, deadline=None)
@given(
    preset=st.sampled_from(PRESETS),
    frames=st.integers(2, 400),
    scale=st.floats(0.05, 3.0),
    focus=st.floats(0.05, 200.0),
    easing=st.sampled_from(EASINGS),
)
def test_loops_close_property(preset, frames, scale, focus, easing):
    amp = DEFAULT_AMPLITUDES[preset] * scale if preset != "CUSTOM" else 1.0
    traj = _make(
        preset, frames, amplitude=amp, loop=True, include_end=True, focus_depth=focus, easing=easing
    )
    tol = 1e-9 * max(1.0, focus)
    np.testing.assert_allclose(traj.locations[-1], traj.locations[0], atol=tol)
    np.testing.assert_allclose(traj.rotations[-1], traj.rotations[0], atol=1e-9)
    np.testing.assert_allclose(traj.focal_factors[-1], traj.focal_factors[0], rtol=1e-9)
    assert np.all(np.isfinite(traj.locations)) and np.all(traj.focal_factors > 0)


def test_loop_speed_is_continuous_across_the_seam():
    # A LINEAR swing must not jerk at the loop point: the step before the seam equals the
    # step after it (a cyclic F-curve then repeats without a kink).
    traj = make_trajectory("SWING", 60, loop=True, include_end=True)
    x = traj.locations[:, 0]
    assert x[1] - x[0] == pytest.approx(x[-1] - x[-2], rel=1e-6)


def test_non_loop_swing_runs_side_to_side():
    a, z_f = 0.05, 3.0
    traj = make_trajectory("SWING", 31, amplitude=a, loop=False, focus_depth=z_f)
    assert len(traj) == 31
    assert traj.locations[0, 0] == pytest.approx(-a * z_f)
    assert traj.locations[-1, 0] == pytest.approx(a * z_f)
    assert np.all(np.diff(traj.locations[:, 0]) >= 0)
    # EASE_IN_OUT by default for a one-way move: it starts and ends slowly.
    steps = np.diff(traj.locations[:, 0])
    assert steps[0] < 0.2 * steps[len(steps) // 2]


# --- amplitudes ------------------------------------------------------------------------------


@pytest.mark.parametrize("z_f", [0.5, 4.0])
def test_amplitudes_respected(z_f):
    a = 0.07
    swing = make_trajectory("SWING", 64, amplitude=a, focus_depth=z_f)
    assert np.abs(swing.locations[:, 0]).max() == pytest.approx(a * z_f, rel=1e-9)
    assert np.abs(swing.locations[:, 1:]).max() == 0.0
    vert = make_trajectory("VERTICAL", 64, amplitude=a, focus_depth=z_f)
    assert np.abs(vert.locations[:, 1]).max() == pytest.approx(a * z_f, rel=1e-9)
    assert np.abs(vert.locations[:, [0, 2]]).max() == 0.0
    circle = make_trajectory("CIRCLE", 50, amplitude=a, focus_depth=z_f)
    np.testing.assert_allclose(np.hypot(*circle.locations[:, :2].T), a * z_f, rtol=1e-12)
    zoom = make_trajectory("ZOOM_IN", 50, amplitude=a, focus_depth=z_f)
    assert zoom.locations[:, 2].min() == pytest.approx(-a * z_f)
    assert zoom.locations[:, 2].max() == pytest.approx(0.0)
    dolly = make_trajectory("DOLLY_ZOOM", 50, amplitude=a, focus_depth=z_f, loop=False)
    assert dolly.locations[0, 2] == pytest.approx(a * z_f)
    assert dolly.locations[-1, 2] == pytest.approx(0.0)  # ends on the photo's own view
    assert dolly.focal_factors.min() >= 1.0 - 1e-12  # never wider than the photo
    kb = make_trajectory("KEN_BURNS", 50, amplitude=a, focus_depth=z_f, loop=False)
    assert np.linalg.norm(kb.locations[-1]) == pytest.approx(a * z_f)


def test_default_amplitude_used_when_none():
    traj = make_trajectory("SWING", 40, focus_depth=2.0)
    assert np.abs(traj.locations[:, 0]).max() == pytest.approx(DEFAULT_AMPLITUDES["SWING"] * 2.0)


def test_amplitude_in_degrees_of_parallax():
    assert parallax_to_amplitude(amplitude_to_parallax(0.04)) == pytest.approx(0.04)
    traj = make_trajectory("SWING", 40, amplitude=3.0, amplitude_unit="DEGREES", focus_depth=5)
    assert traj.parallax_degrees == pytest.approx(3.0, rel=1e-9)
    with pytest.raises(SettingsError, match="DEGREES"):
        make_trajectory("ZOOM_IN", 40, amplitude=3.0, amplitude_unit="DEGREES")


# --- projection: dolly zoom, focus point, hole budget ---------------------------------------


@pytest.mark.parametrize("amplitude", [0.12, 0.5, 2.0])
def test_dolly_zoom_keeps_subject_size(amplitude):
    z_f, f = 3.0, 1000.0
    traj = make_trajectory("DOLLY_ZOOM", 40, amplitude=amplitude, focus_depth=z_f, loop=True)
    subject = np.array([[-0.4, -0.3, -z_f], [0.4, 0.3, -z_f]])  # a box at the focus depth
    background = subject * np.array([1, 1, 10.0])  # the same box 10x farther away
    sizes, bg_sizes = [], []
    for i in range(len(traj)):
        p = _project(traj, i, subject, f)
        q = _project(traj, i, background, f)
        sizes.append(np.linalg.norm(p[1] - p[0]))
        bg_sizes.append(np.linalg.norm(q[1] - q[0]))
    sizes, bg_sizes = np.array(sizes), np.array(bg_sizes)
    assert np.abs(sizes / sizes[0] - 1).max() < 0.01
    # ...while the background really changes size (it is a dolly zoom, not a still).
    assert bg_sizes.max() / bg_sizes.min() > 1 + 0.5 * amplitude / (1 + amplitude)


@pytest.mark.parametrize("preset", ["SWING", "VERTICAL", "CIRCLE", "ZOOM_IN", "DOLLY_ZOOM"])
@pytest.mark.parametrize("pivot", ["ROTATE", "SHIFT"])
def test_focus_point_stays_centred(preset, pivot):
    z_f = 2.0
    traj = make_trajectory(preset, 36, amplitude=0.1, focus_depth=z_f, pivot=pivot)
    for i in range(len(traj)):
        uv = _project(traj, i, [[0.0, 0.0, -z_f]], 1000.0)
        np.testing.assert_allclose(uv, 0.0, atol=1e-6)


def test_shift_pivot_fixes_the_whole_focus_plane():
    z_f, f = 2.0, 1000.0
    traj = make_trajectory("CIRCLE", 24, amplitude=0.1, focus_depth=z_f, pivot="SHIFT")
    plane = np.array([[0.5, 0.2, -z_f], [-0.6, -0.4, -z_f], [0.1, 0.7, -z_f]])
    rest = plane[:, :2] / z_f * f
    for i in range(len(traj)):
        np.testing.assert_allclose(_project(traj, i, plane, f), rest, atol=1e-6)
    assert np.all(traj.rotations == 0.0) and np.abs(traj.shifts).max() > 0.0


def test_pivot_none_translates_only():
    traj = make_trajectory("SWING", 24, pivot="NONE")
    assert np.all(traj.rotations == 0.0) and np.all(traj.shifts == 0.0)


def test_module_projection_matches_independent_one():
    traj = make_trajectory("CIRCLE", 12, amplitude=0.2, focus_depth=1.5, pivot="ROTATE")
    pts = np.array([[0.3, -0.2, -1.0], [-1.0, 0.5, -4.0]])
    ours = project_points(traj, pts, 800.0)
    for i in range(len(traj)):
        np.testing.assert_allclose(ours[i], _project(traj, i, pts, 800.0), atol=1e-9)


@pytest.mark.parametrize("preset", ["SWING", "VERTICAL", "CIRCLE", "ZOOM_IN", "DOLLY_ZOOM"])
def test_default_amplitudes_stay_within_ldi_extension(preset):
    # A 1024x683 photo, focal = long side (53 deg), subject = nearest layer at the focus
    # depth, background 30x farther: the gap between them at every pixel of the central 80 %
    # must stay below the ~60 px the LDI grows behind depth edges.
    w, h, f, z_f = 1024, 683, 1024.0, 2.0
    xs, ys = np.meshgrid(np.linspace(-0.4, 0.4, 9) * w, np.linspace(-0.4, 0.4, 9) * h)
    rays = np.stack([xs.ravel() / f, ys.ravel() / f, -np.ones(xs.size)], axis=1)
    traj = make_trajectory(preset, 40, focus_depth=z_f, loop=True)
    worst = 0.0
    for i in range(len(traj)):
        gap = _project(traj, i, rays * z_f, f) - _project(traj, i, rays * 30 * z_f, f)
        worst = max(worst, float(np.linalg.norm(gap, axis=1).max()))
    assert 5.0 < worst <= 60.0, worst


def test_border_crop_keeps_frame_inside_photo():
    traj = make_trajectory("SWING", 40, amplitude=0.05, focus_depth=2.0)
    extra = border_zoom(traj, 1024, 683)
    assert 1.02 < extra < 1.3
    cropped = traj.cropped_to_photo(1024, 683)
    np.testing.assert_allclose(cropped.focal_factors, traj.focal_factors * extra)
    assert border_zoom(cropped, 1024, 683) == pytest.approx(1.0, abs=1e-9)
    # The rest pose of a zoom-in never shows past the border: no crop needed.
    assert border_zoom(make_trajectory("ZOOM_IN", 20), 1024, 683) == pytest.approx(1.0)


def test_border_zoom_refuses_huge_moves():
    traj = make_trajectory("SWING", 20, amplitude=1.0, focus_depth=1.0)
    with pytest.raises(SettingsError, match="amplitude"):
        border_zoom(traj, 100, 100)


def test_look_at_is_roll_free():
    locs = np.array([[0.3, 0.2, 0.1], [-0.5, 0.4, -0.2]])
    target = np.array([[0.0, 0.0, -2.0], [0.1, -0.2, -3.0]])
    e = look_at_euler(locs, target)
    r = euler_to_matrix(e)
    for i in range(2):
        d = (target[i] - locs[i]) / np.linalg.norm(target[i] - locs[i])
        np.testing.assert_allclose(r[i] @ [0, 0, -1], d, atol=1e-12)
        assert abs((r[i] @ [1, 0, 0])[1]) < 1e-12  # camera x stays horizontal: no roll
        np.testing.assert_allclose(r[i], _rot(e[i]), atol=1e-12)


# --- Ken Burns -------------------------------------------------------------------------------


def _left_subject(h=120, w=180):
    # A near subject entering from the bottom-left corner (a person in the foreground): its
    # only depth edges are its right side (column 70) and its top (row 30).
    disp = np.full((h, w), 0.2)
    disp[30:, :70] = 1.0
    return disp


def test_disocclusion_cost_of_a_step_edge():
    disp = np.ones((4, 10))
    disp[:, 5:] = 0.5  # near on the left (z = 1), far on the right (z = 2)
    f, t = 500.0, 0.01
    total, largest = disocclusion_cost(disp, (t, 0, 0), f, near_depth=1.0)
    assert largest == pytest.approx(f * t * (1 / 1 - 1 / 2))  # the textbook parallax gap
    assert total == pytest.approx(4 * largest)
    assert disocclusion_cost(disp, (-t, 0, 0), f, near_depth=1.0) == (0.0, 0.0)  # covering


def test_ken_burns_moves_away_from_disocclusions():
    disp = _left_subject()
    plan = plan_ken_burns(disp, amplitude=0.04, focus_depth=2.0)
    # Moving right would open a gap at the subject's right edge and moving up one at its
    # top; moving left and down slides the subject over the background instead.
    assert plan.direction[0] < -0.3 and plan.direction[1] < 0.05
    assert plan.direction[2] < 0  # and some dolly-in
    f = 0.5 * 180 / math.tan(math.radians(53.13010235415598) / 2)
    opposite = np.array(plan.translation) * np.array([-1, -1, 1])
    assert plan.cost < disocclusion_cost(disp, opposite, f, 2.0)[0]
    # The end framing is centred towards the subject on the left, inside the photo.
    assert -1.0 < plan.centre[0] < -0.05
    assert plan.largest_gap_px <= 0.06 * 180 + 1e-9


def test_ken_burns_shrinks_travel_to_the_gap_budget():
    disp = np.full((100, 150), 0.02)
    disp[30:70, 50:100] = 1.0  # a near box in the middle: every sideways move opens a gap
    plan = plan_ken_burns(disp, amplitude=0.9, focus_depth=1.0)
    assert plan.largest_gap_px > 1.0
    assert np.linalg.norm(plan.translation) < 0.9
    assert plan.largest_gap_px <= 0.06 * 150 + 1e-6


def test_ken_burns_trajectory_frames_inside_photo_and_ends_on_plan():
    disp = _left_subject()
    traj = make_trajectory("KEN_BURNS", 30, loop=False, focus_depth=2.0, disparity=disp)
    plan = plan_ken_burns(disp, focus_depth=2.0)
    np.testing.assert_allclose(traj.locations[-1], plan.translation)
    assert traj.focal_factors[0] == pytest.approx(1.0)
    assert traj.focal_factors[-1] == pytest.approx(plan.zoom)
    np.testing.assert_allclose(traj.locations[0], 0.0, atol=1e-15)  # starts on the photo
    assert border_zoom(traj, 180, 120) < 1.01  # the zoom hides the borders by itself


def test_ken_burns_without_map_is_neutral():
    plan = plan_ken_burns(None, amplitude=0.04, focus_depth=1.0)
    assert plan.centre == (0.0, 0.0) and plan.cost == 0.0
    traj = make_trajectory("KEN_BURNS", 20, loop=True, include_end=True)
    np.testing.assert_allclose(traj.locations[-1], traj.locations[0], atol=1e-15)


# --- custom keyframes ------------------------------------------------------------------------


def test_custom_passes_through_keyframes():
    traj = make_trajectory("CUSTOM", 30, loop=False, keyframes=KEYS, focus_depth=2.0)
    for k in KEYS:
        i = int(k.frame)
        np.testing.assert_allclose(traj.locations[i], np.array(k.location) * 2.0, atol=1e-12)
        assert traj.focal_factors[i] == pytest.approx(k.focal_factor)
    # Held after the last keyframe.
    np.testing.assert_allclose(traj.locations[-1], np.array(KEYS[-1].location) * 2.0)


def test_custom_rotations_and_dict_keyframes():
    keys = [
        {"frame": 0, "location": (0, 0, 0), "rotation": (0, 0, 0)},
        {"frame": 10, "location": (0.1, 0, 0), "rotation": (0, 0.2, 0)},
    ]
    traj = make_trajectory("CUSTOM", 20, loop=True, keyframes=keys, include_end=True)
    assert traj.rotations[10, 1] == pytest.approx(0.2)
    np.testing.assert_allclose(traj.rotations[-1], traj.rotations[0], atol=1e-12)
    assert np.all(traj.rotations[:, 1] >= -1e-9)  # interpolates between, no overshoot sign flip


def test_to_dict_is_json():
    traj = make_trajectory("CIRCLE", 8, pivot="SHIFT")
    data = json.loads(json.dumps(traj.to_dict()))
    assert data["frames"] == 8 and len(data["locations"]) == 8 and len(data["shifts"]) == 8
    assert data["pivot"] == "SHIFT"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"preset": "SPIRAL"}, "preset"),
        ({"frames": 1}, "frames"),
        ({"frames": 2.5}, "frames"),
        ({"frames": True}, "frames"),
        ({"amplitude": -0.1}, "amplitude"),
        ({"amplitude": float("nan")}, "amplitude"),
        ({"amplitude": 5.0}, "amplitude"),
        ({"focus_depth": 0.0}, "focus_depth"),
        ({"focus_depth": float("inf")}, "focus_depth"),
        ({"easing": "BOUNCE"}, "easing"),
        ({"pivot": "ORBIT"}, "pivot"),
        ({"keyframes": KEYS}, "keyframes"),
        ({"preset": "ZOOM_IN", "amplitude": 0.95}, "amplitude"),
        ({"preset": "CUSTOM"}, "keyframes"),
        ({"preset": "CUSTOM", "keyframes": KEYS[:1]}, "keyframes"),
        ({"preset": "CUSTOM", "keyframes": [KEYS[0], KEYS[0]]}, "keyframes"),
        ({"preset": "CUSTOM", "keyframes": [KEYS[0], Keyframe(99, (0, 0, 0))]}, "0..47"),
        (
            {"preset": "CUSTOM", "keyframes": [KEYS[0], Keyframe(5, (0, 0, 0), (0, 0, 0))]},
            "rotation",
        ),
        ({"preset": "CUSTOM", "keyframes": [{"frame": 0}, KEYS[1]]}, "keyframe"),
        ({"ken_burns_zoom": 0.5}, "ken_burns_zoom"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    args = {"preset": "SWING", "frames": 48}
    args.update(kwargs)
    with pytest.raises(SettingsError, match=match):
        make_trajectory(**args)


def test_bad_disparity_and_array_shapes_raise():
    with pytest.raises(SettingsError, match="disparity"):
        make_trajectory("KEN_BURNS", 10, disparity=np.ones(5))
    traj = make_trajectory("SWING", 10)
    with pytest.raises(ValueError, match="disagree"):
        replace(traj, focal_factors=np.ones(3))


def test_lowercase_names_accepted():
    traj = make_trajectory("swing", 10, easing="ease_in_out", pivot="shift")
    assert traj.preset == "SWING" and traj.pivot == "SHIFT"
