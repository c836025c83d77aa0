"""The depth backends' registry: where each backend's module lives (imported on demand, so a
missing module only affects its backend), and the backends those modules register (name,
label, licence, model files, the estimate function)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SettingsError

if TYPE_CHECKING:
    from ..io.image_io import Photo
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
    # Import name of a package it needs besides the extension's own (e.g. onnxruntime), "" if none.
    needs_package: str = ""
    # Names of model files (pipeline.runtime.models catalogue) this backend loads.
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


# backend name -> (module that registers it, relative to this package or absolute; name of
# its function (photo, settings) -> disparity on the backend's own output grid).
BACKEND_MODULES: dict[str, tuple[str, str]] = {
    "tiefenrausch": (".tiefenrausch", "estimate_native"),
    "tiefenrausch-exact": (".tiefenrausch", "estimate_native_exact"),
    "tiefenrausch-onnx": (".tiefenrausch_onnx", "estimate_native"),
    "tiefenrausch-opencv": (".tiefenrausch_opencv", "estimate_native"),
    "depth-anything-v2-small": (".depth_anything_v2", "estimate_native"),
    "depth-anything-v2-base": (".depth_anything_v2", "estimate_native"),
    "depth-anything-v2-large": (".depth_anything_v2", "estimate_native"),
}


NativeFn = Callable[["Photo", "PipelineSettings"], np.ndarray]


def import_backend_module(name: str) -> ModuleType:
    """Import (and so register) the module of backend ``name``. SettingsError when unknown or
    when its module cannot be imported (the message says why)."""
    if name not in BACKEND_MODULES:
        known = ", ".join(sorted(set(BACKEND_MODULES) | set(BACKENDS)))
        raise SettingsError(f"Unknown depth backend {name!r}; choose one of: {known}")
    module = BACKEND_MODULES[name][0]
    try:
        return importlib.import_module(module, __package__ if module.startswith(".") else None)
    except ImportError as e:
        raise SettingsError(
            f"The depth backend {name!r} is not available in this installation ({e})."
        ) from None


def native_estimator(name: str) -> NativeFn:
    """Backend ``name``'s function (photo, settings) -> disparity on its own output grid (for
    Tiefenrausch the official script's grid)."""
    module = import_backend_module(name)
    function = getattr(module, BACKEND_MODULES[name][1], None)
    if function is None:
        raise SettingsError(f"The depth backend {name!r} has no native-resolution output.")
    return function  # type: ignore[no-any-return]


def backend_for(name: str) -> DepthBackend:
    """The registered backend ``name``, importing its module first when needed."""
    if name not in BACKENDS and name in BACKEND_MODULES:
        import_backend_module(name)
    if name not in BACKENDS:
        known = ", ".join(sorted(set(BACKEND_MODULES) | set(BACKENDS)))
        raise SettingsError(f"Unknown depth backend {name!r}; choose one of: {known}")
    return BACKENDS[name]
