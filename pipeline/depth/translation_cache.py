"""Loaded and translated Tiefenrausch networks, kept for the next call and the next process.

The torch-free backends translate the official Caffe2 files into an ONNX model in memory
(``TranslatedNetwork``: how a backend translates and loads, and the loading they share). Each
worker is a fresh process, so the translation (ONNX bytes plus the input's quantisation) is
also kept on disk next to the depth cache, named by the two files' content, and a fresh worker
reads it back instead of parsing and translating again (~0.15 s). Within a process the loaded
model is kept per file pair and reloaded when a file changes (size or mtime).
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from ..errors import ModelError
from ..io.atomic import atomic_write
from ..runtime.models import cached_sha256
from .caffe2_netdef import read_netdef
from .tiefenrausch_graph import (
    INIT_FILE,
    NET_FILE,
    GridNetwork,
    QGraph,
    build_graph,
    model_file_stamps,
    resize_to_photo,
)

if TYPE_CHECKING:
    from ..io.image_io import Photo
    from ..settings import PipelineSettings

M = TypeVar("M")
N = TypeVar("N", bound=GridNetwork)

# ONNX bytes, the input's scale, the input's zero point.
Translation = tuple[bytes | np.ndarray, float, int]

# (net path, init path) -> (file sizes and mtimes, model); one dict per backend module.
ModelCache = dict[tuple[str, str], tuple[list[tuple[int, int]], object]]

_LOCK = threading.Lock()


def cached_model(
    cache: ModelCache,
    paths: tuple[str, str],
    stamps: list[tuple[int, int]],
    load: Callable[[], M],
) -> M:
    """The model kept in ``cache`` for these files, or ``load()`` (kept for next time)."""
    with _LOCK:
        kept = cache.get(paths)
        if kept is not None and kept[0] == stamps:
            return kept[1]  # type: ignore[return-value]  # stored by this function as an M
        model = load()
        cache[paths] = (stamps, model)
        return model


def translation_path(
    name: str, version: int, paths: tuple[str, str], cache_dir: str | os.PathLike[str]
) -> Path:
    """Where backend ``name``'s translation (format ``version``) of these two files is kept."""
    digest = hashlib.sha256(f"v{version}".encode())
    for p in paths:
        digest.update(cached_sha256(p).encode())  # hashed already when verified
    return Path(cache_dir) / f"{name}-{digest.hexdigest()[:24]}.npz"


def load_translated(
    path: Path | None, translate: Callable[[], Translation], make: Callable[[Translation], M]
) -> M:
    """``make`` applied to the translation kept at ``path``, else to ``translate()``, which is
    then kept at ``path`` (no path: nothing is kept). A kept translation that cannot be read or
    that ``make`` rejects (ModelError) is removed and redone."""
    if path is not None:
        kept = _read(path)
        if kept is not None:
            try:
                return make(kept)
            except ModelError:
                path.unlink(missing_ok=True)
    translation = translate()
    model = make(translation)
    if path is not None:
        _keep(path, translation)
    return model


def _read(path: Path) -> Translation | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["onnx"], float(z["input_scale"]), int(z["input_zp"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink(missing_ok=True)  # damaged: translate again
        return None


def _keep(path: Path, translation: Translation) -> None:
    """Atomic write (temporary file + rename); a cache that cannot be written is no error."""
    onnx, scale, zp = translation
    arrays = {
        "onnx": np.frombuffer(onnx, np.uint8),
        "input_scale": np.float64(scale),
        "input_zp": np.int64(zp),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays), mode=None, prefix=path.stem)
    except OSError:
        pass


@dataclass
class TranslatedNetwork(Generic[N]):
    """A torch-free backend's network: ``translate`` writes the parsed official graph as ONNX
    bytes, ``make(onnx, input_scale, input_zp, paths)`` loads them into the runtime. Bump
    ``version`` when ``translate``'s output changes, so that older kept translations are not
    reused."""

    name: str
    version: int
    translate: Callable[[QGraph], bytes]
    make: Callable[[bytes | np.ndarray, float, int, tuple[str, str]], N]
    cache: ModelCache = field(default_factory=dict)

    def load(
        self,
        net_path: str | os.PathLike[str],
        init_path: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> N:
        """The network from the two official files, kept per file pair; with ``cache_dir``
        the translation is kept there for the next worker. ModelError names the file when
        either is missing, corrupt or not Tiefenrausch."""
        paths, stamps = model_file_stamps(net_path, init_path)

        def translate() -> Translation:
            graph = build_graph(read_netdef(paths[0]), read_netdef(paths[1]), *paths)
            return self.translate(graph), graph.input_scale, graph.input_zp

        def load() -> N:
            kept = self.translation_path(paths, cache_dir) if cache_dir else None
            return load_translated(kept, translate, lambda t: self.make(*t, paths))

        return cached_model(self.cache, paths, stamps, load)

    def translation_path(self, paths: tuple[str, str], cache_dir: str | os.PathLike[str]) -> Path:
        """Where the translation of these two files (by content) is kept in ``cache_dir``."""
        return translation_path(self.name, self.version, paths, cache_dir)

    def estimate_native(self, photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
        """Disparity on the network grid, comparable to the official outputs."""
        from ..runtime.models import resolve_model
        from . import cache

        net = resolve_model(NET_FILE, settings.model_dir)
        init = resolve_model(INIT_FILE, settings.model_dir)
        # Next to the cached depth maps (the worker points it at the extension's folder).
        return self.load(net, init, cache.default_depth_cache_dir()).predict(photo.rgb8())

    def estimate(self, photo: "Photo", settings: "PipelineSettings") -> np.ndarray:
        """Disparity resized to the photo, (H, W) float32."""
        return resize_to_photo(self.estimate_native(photo, settings), photo.height, photo.width)
