"""Silhouette skirts carry each outline to where the photo's colours put it: the pixel border
past the foreground's last pixel centre, and on into the background's first pixel as far as
that pixel shows the foreground's colour (an antialiased outline)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.io.intrinsics import Intrinsics
from pipeline.ldi.lift import build_ldi
from pipeline.ldi.preprocess import preprocess
from pipeline.mesh import atlas as atlas_mod
from pipeline.mesh import skirts as skirts_mod

THRESHOLD = 0.04
WALL = np.array([0, 60, 200], np.float64)
RED = np.array([255, 0, 0], np.float64)
H, W = 64, 80
INTRINSICS = Intrinsics(W, H, 100.0, W / 2.0, H / 2.0)


def outline_x(red_share_left: float, red_share_right: float) -> tuple[float, float]:
    """A wall (disparity 0.25) and a red square (1.0) over columns 28..55, whose wall
    neighbours (columns 27 and 56) show the given share of the square's red. Returns the image
    x of the skirts' outer vertices along the square's left and right outlines."""
    disp = np.full((H, W), 0.25, np.float32)
    disp[20:44, 28:56] = 1.0
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = WALL.astype(np.uint8)
    rgb[20:44, 28:56] = RED.astype(np.uint8)
    for column, share in ((27, red_share_left), (56, red_share_right)):
        rgb[20:44, column] = np.round(share * RED + (1.0 - share) * WALL).astype(np.uint8)
    pre = preprocess(disp, rgb.astype(np.float32) / 255.0, THRESHOLD, 5, 1, 0)
    ldi = build_ldi(pre.disp, pre.cuts, rgb, THRESHOLD, 10, 2, 12, 0)
    skirts = skirts_mod.silhouette_skirts(
        ldi, lambda d: 1.0 / d, INTRINSICS, atlas_mod.layout((H, W), 0), base=0
    )
    assert skirts is not None
    vertices = skirts[0].astype(np.float64)
    x = vertices[:, 0] / -vertices[:, 2] * INTRINSICS.fx + INTRINSICS.cx
    y = INTRINSICS.cy - vertices[:, 1] / -vertices[:, 2] * INTRINSICS.fx
    rows = (y > 22) & (y < 42)  # along the vertical outlines, away from the corners
    left = x[rows & (x < 30)]
    right = x[rows & (x > 50)]
    assert left.size and right.size
    return float(left.min()), float(right.max())


def test_a_clean_outline_ends_at_the_pixel_border() -> None:
    left, right = outline_x(0.0, 0.0)
    assert left == pytest.approx(28.0, abs=1e-3)
    assert right == pytest.approx(56.0, abs=1e-3)


def test_an_antialiased_outline_reaches_into_the_background_pixel() -> None:
    # The wall pixels next to the square are 30 % (left) and 10 % (right) red: the outline
    # crosses them that far (a skirt stopped at the border would leave a line of wall colour).
    left, right = outline_x(0.3, 0.1)
    assert left == pytest.approx(28.0 - 0.3, abs=0.01)
    assert right == pytest.approx(56.0 + 0.1, abs=0.01)


def test_the_skirt_stays_short_of_the_background_sample() -> None:
    # A background pixel almost all red (a cut a pixel into the background): the strip stops
    # before that pixel's own centre, where the background's surface starts.
    left, _ = outline_x(0.9, 0.0)
    assert left == pytest.approx(28.0 - skirts_mod.MAX_COVERAGE, abs=0.01)


def test_the_share_a_skirt_draws_is_taken_out_of_the_background_pixel() -> None:
    """The wall pixels beside the square keep their colour less the red share the skirts now
    draw, so a camera that moves and shows them beside the revealed wall shows wall colour,
    not a line of the square's red; pixels away from the outline keep the photo's colour."""
    disp = np.full((H, W), 0.25, np.float32)
    disp[20:44, 28:56] = 1.0
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = WALL.astype(np.uint8)
    rgb[20:44, 28:56] = RED.astype(np.uint8)
    rgb[20:44, 27] = np.round(0.3 * RED + 0.7 * WALL).astype(np.uint8)
    pre = preprocess(disp, rgb.astype(np.float32) / 255.0, THRESHOLD, 5, 1, 0)
    ldi = build_ldi(pre.disp, pre.cuts, rgb, THRESHOLD, 10, 2, 12, 0)
    skirts = skirts_mod.silhouette_skirts(
        ldi, lambda d: 1.0 / d, INTRINSICS, atlas_mod.layout((H, W), 0), base=0
    )
    assert skirts is not None
    photo = skirts[3].apply(ldi.color[0])
    assert photo is not ldi.color[0]
    # Column 27, along the outline away from the corners: back to the wall's colour.
    np.testing.assert_allclose(photo[22:42, 27].astype(float), np.tile(WALL, (20, 1)), atol=2)
    assert np.abs(ldi.color[0][22:42, 27].astype(float) - WALL).max() > 50  # it was mixed
    # Everything else is the photo's own colour.
    changed = np.any(photo != ldi.color[0], axis=-1)
    assert not changed[:, :26].any() and not changed[:, 29:].any()
