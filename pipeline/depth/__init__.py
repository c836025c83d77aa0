"""Depth backends: a registry of ways to get a disparity map for a photo.

``estimate(photo, settings)`` returns disparity (larger = nearer) at the photo's resolution.
Backends that need torch import it lazily, so importing this package stays cheap;
``tiefenrausch-onnx`` and ``tiefenrausch-opencv`` need no torch at all (ONNX Runtime, which the
extension zip carries, or OpenCV's DNN module runs the network).
"""

from .registry import BACKENDS, DepthBackend, estimate, get_backend, register

__all__ = ["BACKENDS", "DepthBackend", "estimate", "get_backend", "register"]

# Importing the modules registers their backends; none of them imports torch until it runs.
from . import (  # noqa: E402,F401
    depth_anything_v2,
    file_backend,
    tiefenrausch,
    tiefenrausch_onnx,
    tiefenrausch_opencv,
)
