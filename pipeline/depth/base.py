"""The depth backend interface and registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SettingsError

if TYPE_CHECKING:
    from ..image_io import Photo
    from ..settings import PipelineSettings

# (photo, settings) -> disparity (H, W) float32 at the photo's resolution, larger = nearer.
EstimateFn = Callable[["Photo", "PipelineSettings"], np.ndarray]


@dataclass(frozen=True)
class DepthBackend:
    name: str  # registry key, as used by settings.depth_backend and the command line
    label: str  # shown in Blender's UI
    licence: str
    input_size: str  # human-readable, e.g. "long side 384, multiple of 32"
    needs_torch: bool
    estimate: EstimateFn
    # Names of model files (pipeline.models catalogue) this backend loads.
    models: tuple[str, ...] = ()
    description: str = ""


BACKENDS: dict[str, DepthBackend] = {}


def register(backend: DepthBackend) -> DepthBackend:
    BACKENDS[backend.name] = backend
    return backend


def get_backend(name: str) -> DepthBackend:
    try:
        return BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise SettingsError(f"Unknown depth backend {name!r}; choose one of: {known}") from None


def estimate(photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
    """Disparity for ``photo`` from the backend that ``settings.depth_backend`` names."""
    disparity = get_backend(settings.depth_backend).estimate(photo, settings)
    h, w = photo.rgb.shape[:2]
    if disparity.shape != (h, w):
        raise AssertionError(f"backend returned {disparity.shape}, expected {(h, w)}")
    return disparity.astype(np.float32, copy=False)
