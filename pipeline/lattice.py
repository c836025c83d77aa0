"""The geometry lattice's size for a photo: the one rule that the build and the worker's heap
warm-up (which runs before NumPy and OpenCV are imported) share. Standard library only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .io.formats import MIN_PHOTO_SIDE

if TYPE_CHECKING:
    from .settings import PipelineSettings

# A network's depth never takes the lattice below this many megapixels (about 4x the
# samples of Tiefenrausch's 384 px grid): at 640 px real photos showed more mirrored folds
# and specks at outlines with half their pixels, at 1 MP none (see README, "Big photos").
NETWORK_MIN_MEGAPIXELS = 0.5


def working_size(width: int, height: int, megapixels: float) -> tuple[int, int]:
    """(width, height) of the geometry lattice: the photo's own size when it has at most
    ``megapixels``, else the largest size of the same aspect ratio within that budget (but
    never a short side below MIN_PHOTO_SIDE: an extreme panorama may exceed the budget)."""
    budget = megapixels * 1e6
    if width * height <= budget:
        return width, height
    scale = math.sqrt(budget / (width * height))
    scale = min(max(scale, MIN_PHOTO_SIDE / min(width, height)), 1.0)
    return max(int(width * scale), 1), max(int(height * scale), 1)


def geometry_size(width: int, height: int, settings: PipelineSettings) -> tuple[int, int]:
    """(width, height) of the geometry lattice for a photo of this size: ``working_size``
    within ``settings.geometry_megapixels``, and, when the depth comes from a network, within
    ``settings.network_geometry_share`` of the photo's pixels but not below
    NETWORK_MIN_MEGAPIXELS."""
    megapixels = settings.geometry_megapixels
    if settings.depth_backend != "FILE":
        share = settings.network_geometry_share * width * height / 1e6
        megapixels = min(megapixels, max(share, NETWORK_MIN_MEGAPIXELS))
    return working_size(width, height, megapixels)
