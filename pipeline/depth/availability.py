"""Which depth backends work in this installation, what each still needs, and which network a
photo without a depth map gets by default.

The default follows what is installed: Depth Anything V2 Small when PyTorch is (the best
depth), otherwise Tiefenrausch run by ONNX Runtime, which the extension zip carries,
and where the zip has no ONNX Runtime for the platform (Intel macOS), Tiefenrausch run by the
bundled OpenCV. Nothing here imports torch or ONNX Runtime: whether either is installed is a
path lookup.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..runtime.models import get_info, locate_model
from .registry import backend_for

TORCH_DEFAULT = "depth-anything-v2-small"
TORCHLESS_DEFAULT = "tiefenrausch-onnx"
TORCHLESS_FALLBACK = "tiefenrausch-opencv"  # where no ONNX Runtime wheel exists

# What the preferences say a missing package needs, by import name.
PACKAGE_HINTS = {
    "onnxruntime": (
        "ONNX Runtime (in the extension zip for Linux, Windows and Apple-silicon macOS; "
        "reinstall the zip for this platform)"
    ),
}


def installed(package: str, extra_paths: Sequence[str | os.PathLike[str]] = ()) -> bool:
    """True when ``import package`` would find it on ``extra_paths`` (e.g. the vendored
    environment the worker gets) or on this interpreter's ``sys.path`` — found, not imported."""
    if package in sys.modules:
        return True
    paths = [os.fspath(p) for p in extra_paths] + [p for p in sys.path if p]
    return importlib.machinery.PathFinder.find_spec(package, paths) is not None


def torch_installed(extra_paths: Sequence[str | os.PathLike[str]] = ()) -> bool:
    return installed("torch", extra_paths)


def default_network(torch: bool, onnxruntime: bool | None = None) -> str:
    """The depth network for a photo without a depth map (``onnxruntime``: whether ONNX
    Runtime is installed; looked up when not given)."""
    if torch:
        return TORCH_DEFAULT
    if onnxruntime is None:
        onnxruntime = installed("onnxruntime")
    return TORCHLESS_DEFAULT if onnxruntime else TORCHLESS_FALLBACK


@dataclass(frozen=True)
class BackendStatus:
    name: str
    label: str
    needs_torch: bool  # PyTorch is needed and not installed
    missing: tuple[str, ...]  # model files not found, as "file (size)"
    downloadable: bool  # every missing file is hash-pinned: fetched on first use when online
    needs_package: str = ""  # a package it needs that is not installed (import name)

    @property
    def ready(self) -> bool:
        return not self.needs_torch and not self.needs_package and not self.missing

    def usable(self, online: bool) -> bool:
        """Runs now, or once its files download (which needs online access)."""
        runs = not self.needs_torch and not self.needs_package
        return runs and (not self.missing or (online and self.downloadable))

    def summary(self, online: bool) -> str:
        """One line for the preferences: ready, or what it still needs."""
        if self.ready:
            return f"{self.label}: ready"
        needs = ["PyTorch (Install Dependencies below)"] if self.needs_torch else []
        if self.needs_package:
            needs.append(PACKAGE_HINTS.get(self.needs_package, self.needs_package))
        if self.missing:
            files = ", ".join(self.missing)
            if not self.downloadable:
                needs.append(f"{files} in the model folder (not downloaded automatically)")
            elif online:
                needs.append(f"{files}, downloaded on first use")
            else:
                needs.append(f"{files}: allow online access or put them in the model folder")
        return f"{self.label}: needs " + "; ".join(needs)


def backend_status(
    name: str,
    torch: bool,
    model_dir: str = "",
    cache_dir: str | os.PathLike[str] | None = None,
) -> BackendStatus:
    """What backend ``name`` still needs here: PyTorch, another package, and model files not
    found (by size, without hashing; see ``models.locate_model``)."""
    backend = backend_for(name)
    missing = [get_info(m) for m in backend.models if locate_model(m, model_dir, cache_dir) is None]
    return BackendStatus(
        name=name,
        label=backend.label,
        needs_torch=backend.needs_torch and not torch,
        missing=tuple(f"{i.filename} ({i.size_text})" for i in missing),
        downloadable=all(i.pinned for i in missing),
        needs_package=backend.needs_package
        if backend.needs_package and not installed(backend.needs_package)
        else "",
    )
