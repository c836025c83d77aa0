"""The scene beyond the frame continues the background; it never copies the foreground."""

from __future__ import annotations

import numpy as np

from pipeline.ldi.border import extend_frame, pad_reflect


def photo_with_a_subject_at_the_top() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red disc cut by the top border (disparity 1.0) over textured foliage (0.3)."""
    h, w = 120, 160
    rng = np.random.default_rng(7)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 1] = rng.integers(90, 170, (h, w))
    rgb[..., 2] = rng.integers(60, 140, (h, w))
    disp = np.full((h, w), 0.3, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (yy - 5) ** 2 + (xx - 80) ** 2 < 30**2
    rgb[disc] = (230, 30, 20)
    disp[disc] = 1.0
    return disp, rgb, disc


def _reddish(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0].astype(int) > 150) & (rgb[..., 1].astype(int) < 80)


def test_no_pixel_of_the_extension_copies_the_foreground() -> None:
    disp, rgb, _ = photo_with_a_subject_at_the_top()
    m = 20
    out_d, out_rgb = extend_frame(disp, rgb, m, 0.04)
    assert out_d.shape == (120 + 2 * m, 160 + 2 * m) and out_rgb.dtype == np.uint8
    margin = np.ones(out_d.shape, bool)
    margin[m:-m, m:-m] = False
    np.testing.assert_array_equal(out_rgb[m:-m, m:-m], rgb)  # the photo itself is untouched
    np.testing.assert_array_equal(out_d[m:-m, m:-m], disp)
    assert not _reddish(out_rgb[margin]).any()
    assert out_d[margin].max() <= 0.3 + 0.04  # the background's depth, not the subject's
    # The mirror this replaces would have put the subject above the frame.
    assert _reddish(pad_reflect(rgb, m)[:m]).sum() > 100


def test_the_extension_keeps_the_background_colour() -> None:
    disp, rgb, disc = photo_with_a_subject_at_the_top()
    m = 16
    _, out_rgb = extend_frame(disp, rgb, m, 0.04)
    mean_bg = rgb[~disc].reshape(-1, 3).mean(axis=0)
    left = out_rgb[m:-m, :m].reshape(-1, 3).mean(axis=0)
    assert np.abs(left - mean_bg).max() < 25


def photo_with_a_floor_and_a_box() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A blue wall (disparity 0.2) over a tan floor that comes nearer towards the bottom border
    (0.2 -> 0.9, smoothly: no depth step from the wall), and a red box (1.0) standing on the
    floor, cut by the bottom border."""
    h, w = 120, 160
    rgb = np.zeros((h, w, 3), np.uint8)
    disp = np.full((h, w), 0.2, np.float32)
    rgb[:] = (60, 60, 200)
    horizon = 50
    rows = np.arange(h)[:, None]
    floor = np.broadcast_to(rows >= horizon, (h, w))
    disp = np.where(floor, 0.2 + 0.7 * (rows - horizon) / (h - 1 - horizon), disp)
    rgb[floor] = (200, 170, 110)
    box = np.zeros((h, w), bool)
    box[80:, 100:130] = True
    rgb[box] = (230, 30, 20)
    disp[box] = 1.0
    return disp.astype(np.float32), rgb, box


def test_a_floor_running_out_of_the_frame_continues_as_floor() -> None:
    """A receding floor is as much background as the wall it runs into (no step between them),
    however near it comes at the border: the margin below it is floor, not the wall's colour;
    the box in front of it still contributes nothing."""
    disp, rgb, _ = photo_with_a_floor_and_a_box()
    m = 16
    out_d, out_rgb = extend_frame(disp, rgb, m, 0.04)
    # Left margin next to the floor's bottom rows, and the bottom margin left of the box.
    for patch, d_patch in (
        (out_rgb[m + 100 : m + 120, :m], out_d[m + 100 : m + 120, :m]),
        (out_rgb[-m:, m + 10 : m + 80], out_d[-m:, m + 10 : m + 80]),
    ):
        mean = patch.reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - (200, 170, 110)).max() < 30, mean
        # At most the locally farthest surface's depth (+ the threshold), never the floor's
        # nearest rows' (0.9 at the bottom border): the margin is sized for the far slide.
        assert d_patch.max() < 0.75
    margin = np.ones(out_d.shape, bool)
    margin[m:-m, m:-m] = False
    assert not _reddish(out_rgb[margin]).any()
    assert out_d[margin].max() < 0.95


def photo_with_stripes_into_the_top_border() -> tuple[np.ndarray, np.ndarray]:
    """Vertical stripes (period 8 px) running into the top border, a dark line 4 rows inside
    it, and the red disc of ``photo_with_a_subject_at_the_top`` cut by the border."""
    h, w = 120, 160
    xx = np.arange(w)[None, :]
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 1] = np.where((xx // 4) % 2 == 0, 180, 60)
    rgb[..., 2] = 120
    rgb[4] = (0, 0, 0)
    disp = np.full((h, w), 0.3, np.float32)
    yy, xx2 = np.mgrid[0:h, 0:w]
    disc = (yy - 5) ** 2 + (xx2 - 80) ** 2 < 30**2
    rgb[disc] = (230, 30, 20)
    disp[disc] = 1.0
    return disp, rgb


def test_texture_running_into_the_border_continues_past_it_and_fades() -> None:
    disp, rgb = photo_with_stripes_into_the_top_border()
    m = 24
    _, out_rgb = extend_frame(disp, rgb, m, 0.04)
    green = out_rgb[..., 1].astype(float)
    cols = np.r_[m + 4 : m + 36]  # left of the disc, clear of it by more than the erosion
    photo_row = rgb[0, cols - m, 1].astype(float)
    first = green[m - 1, cols]
    # The stripes carry on just past the border, in phase (not a blur of them) ...
    assert np.corrcoef(first, photo_row)[0, 1] > 0.9
    assert first.max() - first.min() > 60
    # ... and fade out with the distance (no streaks to the margin's edge).
    last = green[0, cols]
    assert last.max() - last.min() < 0.5 * (first.max() - first.min())
    # Nothing is mirrored: the dark line 4 rows inside does not reappear 5 rows outside.
    assert green[m - 5, cols].mean() > 80
    # The disc is cut by the border: no red anywhere in the margin.
    margin = np.ones(out_rgb.shape[:2], bool)
    margin[m:-m, m:-m] = False
    assert not _reddish(out_rgb[margin]).any()
