"""The scene beyond the frame continues the background; it never copies the foreground."""

from __future__ import annotations

import numpy as np

from pipeline.border import extend_frame
from pipeline.ldi import pad_reflect


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
