"""The default inpainter of the revealed background: push-pull that carries the nearest
context's colour further than the frame margin's smooth continuation does."""

from __future__ import annotations

import numpy as np

from pipeline.inpaint import CONFIDENCE, get_inpainter, push_pull


def _sky_and_leaves() -> tuple[np.ndarray, np.ndarray]:
    """Known context above row 40: sky on the left, leaves from column 48 on; below it the
    revealed band, unknown (the foreground that hid it is not context)."""
    image = np.zeros((96, 96, 3), np.float32)
    known = np.zeros((96, 96), bool)
    known[:40] = True
    image[:40] = (0.3, 0.5, 0.9)
    image[:40, 48:] = (0.2, 0.4, 0.1)
    return image, known


def test_the_revealed_band_continues_the_nearest_context() -> None:
    image, known = _sky_and_leaves()
    sky = image[0, 0]
    default = get_inpainter("pushpull")(image, known)
    margin = push_pull(image, known, CONFIDENCE)
    # Six pixels into the band, under the sky and 12-24 px from the leaves.
    err_default = np.abs(default[46, 24:36].mean(axis=0) - sky).max()
    err_margin = np.abs(margin[46, 24:36].mean(axis=0) - sky).max()
    assert err_default < 0.6 * err_margin
    assert err_default < 0.05
    # Both keep every known pixel.
    np.testing.assert_array_equal(default[known], image[known])
