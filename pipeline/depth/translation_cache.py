"""Loaded and translated Tiefenrausch networks, kept for the next call and the next process.

The torch-free backends translate the official Caffe2 files into an ONNX model in memory. Each
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
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..errors import ModelError
from ..io.atomic import atomic_write
from ..runtime.models import sha256_file

M = TypeVar("M")

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
        digest.update(sha256_file(p).encode())
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
