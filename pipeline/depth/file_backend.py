"""User depth maps as a backend: a depth map from any tool or a phone's portrait mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import SettingsError
from ..io.depth_file import read_depth_file
from .registry import DepthBackend, register

if TYPE_CHECKING:
    from ..io.image_io import Photo
    from ..settings import PipelineSettings


def estimate(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    if not settings.depth_filepath:
        raise SettingsError("The FILE depth backend needs a depth map file (depth_filepath).")
    depth = read_depth_file(
        settings.depth_filepath,
        settings.depth_kind,
        (photo.width, photo.height),
        settings.far_ratio,
    )
    return depth.disparity()


register(
    DepthBackend(
        name="FILE",
        label="Depth from file",
        licence="(your file)",
        input_size="any; resized to the photo",
        needs_torch=False,
        estimate=estimate,
        description="Read depth or disparity from .npy, PNG, TIFF or EXR",
    )
)
