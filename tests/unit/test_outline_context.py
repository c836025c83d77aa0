"""The background pixel right at an outline is inpainting context when its colour is mostly the
background's (its foreground share taken out), never when it is mostly the foreground's."""

from __future__ import annotations

import numpy as np

from pipeline.inpaint import get_inpainter, inpaint_ldi
from pipeline.ldi.layers import LDI
from pipeline.ldi.lift import build_ldi
from pipeline.ldi.preprocess import preprocess

THRESHOLD = 0.04
WALL = np.array([0, 60, 200], np.float64)
RED = np.array([255, 0, 0], np.float64)


def wall_and_square(outline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A wall (disparity 0.25) and a red square (1.0); the wall's column right left of the
    square (the outline pixels on the background's side) has colour ``outline``."""
    h, w = 64, 80
    disp = np.full((h, w), 0.25, np.float32)
    disp[20:44, 28:56] = 1.0
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = WALL.astype(np.uint8)
    rgb[20:44, 28:56] = RED.astype(np.uint8)
    rgb[20:44, 27] = np.round(outline).astype(np.uint8)
    return disp, rgb


def inpainted(disp: np.ndarray, rgb: np.ndarray) -> LDI:
    pre = preprocess(disp, rgb.astype(np.float32) / 255.0, THRESHOLD, 5, 1, 0)
    ldi = build_ldi(pre.disp, pre.cuts, rgb, THRESHOLD, 10, 2, 12, 0)
    inpaint_ldi(ldi, get_inpainter("pushpull"))
    return ldi


def test_a_clean_outline_pixel_is_the_nearest_context() -> None:
    # A greener wall column at the outline: the hidden wall next to it takes its colour.
    ldi = inpainted(*wall_and_square(np.array([0, 160, 200])))
    assert ldi.valid[1][22:42, 28].all()
    next_to_it = ldi.color[1][22:42, 28].astype(float)
    assert next_to_it[:, 1].mean() > 110, next_to_it[:, 1].mean()


def test_the_foreground_share_of_an_outline_pixel_is_taken_out() -> None:
    # 20 % red (antialiasing): context, but no red reaches the hidden wall.
    ldi = inpainted(*wall_and_square(0.2 * RED + 0.8 * WALL))
    colours = ldi.color[1][ldi.valid[1]].astype(int)
    assert colours.shape[0] > 100
    assert colours[:, 0].max() <= 3, colours[:, 0].max()
    assert np.abs(colours[:, 1:] - WALL[1:]).max() <= 3


def test_an_outline_pixel_mostly_foreground_is_not_context() -> None:
    # Mostly red with a light halo (a cut a pixel into the background, a sharpened edge): left
    # out, as before; taken in, even unmixed, it would tint the hidden wall.
    ldi = inpainted(*wall_and_square(0.6 * RED + 0.4 * np.array([255.0, 255.0, 255.0])))
    colours = ldi.color[1][ldi.valid[1]].astype(int)
    assert colours[:, 0].max() <= 3, colours[:, 0].max()
    assert np.abs(colours[:, 1:] - WALL[1:]).max() <= 3
