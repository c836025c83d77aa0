"""The layered depth image (LDI): the photo lifted to layer 0, cut at depth edges, and background
geometry grown behind every foreground edge (stages 2-3 of *One Shot 3D Photography*; built by
ldi.lift, grown by ldi.growth, linked by ldi.links).

Data structure (vectorised, image-like - an LDI is locally an image):

* one pixel lattice of shape (H, W): the photo plus a ``margin`` of synthesised pixels on every
  side (the scene extends beyond the frame so a moving camera does not reveal empty borders);
* ``K`` layers over that lattice. Layer 0 holds one sample per lattice position (the photo);
  layer k >= 1 holds the samples grown in the k-th round of geometry extension, each strictly
  behind every sample of the layers before it at the same position (by more than the
  discontinuity threshold). Each position therefore holds 0..K samples, sorted front to back;
* per sample: normalised disparity, colour, flags (ORIGINAL / GROWN / INPAINTED / MARGIN) and
  explicit 4-neighbour links: ``links[k, d, y, x]`` is the layer of the sample at the
  neighbouring position in direction d (R, L, D, U) that this sample is linked to, or -1.
  Links are symmetric: if sample (k, y, x) links right to layer j, sample (j, y, x+1) links
  left to layer k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ORIGINAL = 1  # a pixel of the photo
GROWN = 2  # geometry extension (behind a foreground edge)
INPAINTED = 4  # colour synthesised by the inpainter
MARGIN = 8  # outside the photo's frame (extension of the scene beyond the border)

# Link directions: index into ``LDI.links`` axis 1, with the (dy, dx) step and the opposite.
R, L, D, U = 0, 1, 2, 3
STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0))
OPPOSITE = (L, R, U, D)


@dataclass
class LDI:
    margin: int  # lattice positions beyond the photo on each side
    valid: np.ndarray  # (K, H, W) bool
    disp: np.ndarray  # (K, H, W) float32 normalised disparity (meaningful where valid)
    color: np.ndarray  # (K, H, W, 3) photo dtype; layer k >= 1 is dense after inpainting
    flags: np.ndarray  # (K, H, W) uint8 bit set of ORIGINAL / GROWN / INPAINTED / MARGIN
    links: np.ndarray  # (K, 4, H, W) int8: linked layer at the neighbour per direction, -1
    threshold: float
    # Per grown layer k (index k-1): which earlier layer gives the background context colour
    # for inpainting at each position (-1: not context), (H, W) int8.
    context: list[np.ndarray] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return int(self.valid.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.valid.shape[1]), int(self.valid.shape[2])

    def sample_count(self) -> int:
        return int(self.valid.sum())


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1), end exclusive, of the true pixels of a 2-D mask, or None when there
    are none. From the row and column projections: cheaper than listing the pixels."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
