"""Lifting the photo to a layered depth image: layer 0, grown layers, their links (the LDI
stage's entry function)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .growth import grow_layers
from .layers import GROWN, INPAINTED, LDI, MARGIN, ORIGINAL
from .links import compute_links
from .preprocess import Cuts


def build_ldi(
    disp: np.ndarray,
    cuts: Cuts,
    color: np.ndarray,
    threshold: float,
    steps: float,
    max_layers: int,
    context_band: float,
    margin: int,
    valid0: np.ndarray | None = None,
    reveal: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    with_links: bool = True,
) -> LDI:
    """Lift a (margin-padded) photo and its preprocessed disparity into an LDI and grow the
    occluded geometry. ``disp``, ``cuts``, ``color`` and ``valid0`` are on the padded lattice;
    ``margin`` tells which positions are outside the photo. Colours of grown layers are left
    for ``inpaint.inpaint_ldi``. Without ``with_links`` the links are left unset (all -1) for
    the caller to fill with ``compute_links`` (e.g. while another thread inpaints)."""
    h, w = disp.shape
    masks, disps, contexts = grow_layers(
        disp, cuts, threshold, steps, max_layers, context_band, valid0, reveal
    )
    k_layers = 1 + len(masks)
    valid = np.zeros((k_layers, h, w), bool)
    valid[0] = True if valid0 is None else valid0
    disparity = np.zeros((k_layers, h, w), np.float32)
    disparity[0] = disp
    flags = np.zeros((k_layers, h, w), np.uint8)
    flags[0] = ORIGINAL
    if margin > 0:
        inside = np.zeros((h, w), bool)
        inside[margin : h - margin, margin : w - margin] = True
        flags[0][~inside] = MARGIN | INPAINTED
    for k, (m, d) in enumerate(zip(masks, disps, strict=False), start=1):
        valid[k] = m
        disparity[k] = d
        flags[k][m] = GROWN | INPAINTED
    colors = np.zeros((k_layers, h, w, 3), color.dtype)
    colors[0] = color
    if with_links:
        links = compute_links(valid, disparity, cuts, threshold)
    else:
        links = np.full((k_layers, 4, h, w), -1, np.int8)
    return LDI(margin, valid, disparity, colors, flags, links, threshold, contexts)
