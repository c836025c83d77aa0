"""Cache of estimated depth, so re-importing a photo with other LDI settings does not rerun
the network.

Key: sha256 of the photo file's bytes (EXIF orientation included, so a rotated copy is a
different photo) + backend name + the settings that change a backend's output (the
``settings.extras`` entries whose names start with ``depth_``, e.g. ``depth_input_size``).
Value: the disparity at the photo's resolution, float32 ``.npy``, written atomically.
Mesh/LDI settings (threshold, scale, ...) are deliberately not part of the key.

"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io.atomic import atomic_write
from ..runtime.models import default_cache_dir
from .registry import backend_for

if TYPE_CHECKING:
    from ..io.image_io import Photo
    from ..settings import PipelineSettings


# Bump when the stored format or a backend's output changes, so old entries are not reused.
CACHE_VERSION = 1
DEFAULT_MAX_BYTES = 1 << 30  # oldest entries are removed beyond this total size


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0  # the backend ran
    stores: int = 0


STATS = CacheStats()
_LOCK = threading.Lock()


def reset_stats() -> None:
    with _LOCK:
        STATS.hits = STATS.misses = STATS.stores = 0


def default_depth_cache_dir() -> Path:
    """Next to the model cache: ``.../oneshot3d/depth`` (the Blender layer passes its own)."""
    return default_cache_dir().parent / "depth"


def photo_digest(photo: "Photo") -> str:
    """sha256 of the photo's file bytes; of its decoded pixels when it has no readable file."""
    digest = hashlib.sha256()
    try:
        with open(photo.path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        return "file:" + digest.hexdigest()
    except (OSError, TypeError):
        digest.update(repr((photo.rgb.shape, str(photo.rgb.dtype))).encode())
        digest.update(np.ascontiguousarray(photo.rgb).tobytes())
        return "pixels:" + digest.hexdigest()


def cache_key(photo: "Photo", settings: "PipelineSettings") -> str:
    params = {k: v for k, v in sorted(settings.extras.items()) if k.startswith("depth_")}
    material = {
        "version": CACHE_VERSION,
        "photo": photo_digest(photo),
        "backend": settings.depth_backend,
        "params": params,
    }
    text = json.dumps(material, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def cached_estimate(
    photo: "Photo",
    settings: "PipelineSettings",
    cache_dir: str | os.PathLike[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Disparity (H, W) float32 at the photo's resolution from ``settings.depth_backend``,
    from the cache when this photo and backend were estimated before.

    The ``FILE`` backend (and any backend that is no network: no torch, no model files) is
    not cached: reading the user's depth file is as fast as reading the cache.
    """
    backend = backend_for(settings.depth_backend)
    shape = (photo.height, photo.width)
    if not backend.needs_torch and not backend.models:
        return _checked(backend.estimate(photo, settings), shape, backend.name)
    folder = Path(cache_dir) if cache_dir else default_depth_cache_dir()
    path = folder / f"{cache_key(photo, settings)}.npy"
    found = _load(path, shape)
    if found is not None:
        with _LOCK:
            STATS.hits += 1
        return found
    with _LOCK:
        STATS.misses += 1
    disparity = _checked(backend.estimate(photo, settings), shape, backend.name)
    if _store(path, disparity):
        with _LOCK:
            STATS.stores += 1
        _prune(folder, max_bytes, keep=path)
    return disparity


def _checked(disparity: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    if disparity.shape != shape:
        raise AssertionError(f"backend {name} returned {disparity.shape}, expected {shape}")
    return disparity.astype(np.float32, copy=False)


def _load(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        _discard(path)  # damaged entry: recompute
        return None
    if data.shape != shape or data.dtype != np.float32 or not np.isfinite(data).all():
        _discard(path)
        return None
    try:
        os.utime(path)  # most recently used: pruned last
    except OSError:
        pass
    return data


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _store(path: Path, disparity: np.ndarray) -> bool:
    """Atomic write (temporary file + rename). A cache that cannot be written is not an
    error: the estimate is still returned."""
    data = np.ascontiguousarray(disparity, dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.save(f, data), mode=None, prefix=path.stem)
        return True
    except OSError:
        return False


def _entries(folder: Path) -> list[tuple[float, int, Path]]:
    out = []
    for p in folder.glob("*.npy"):
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((st.st_mtime, st.st_size, p))
    return sorted(out, key=lambda e: e[0])


def _prune(folder: Path, max_bytes: int, keep: Path) -> None:
    entries = _entries(folder)
    total = sum(size for _, size, _ in entries)
    for _, size, p in entries:
        if total <= max_bytes:
            break
        if p == keep:
            continue
        p.unlink(missing_ok=True)
        total -= size


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached depth map (and stale temporary files); returns how many files."""
    folder = Path(cache_dir) if cache_dir else default_depth_cache_dir()
    removed = 0
    for pattern in ("*.npy", "*.part"):
        for p in folder.glob(pattern):
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def cache_size(cache_dir: str | os.PathLike[str] | None = None) -> tuple[int, int]:
    """(number of entries, total bytes), e.g. for the preferences panel."""
    folder = Path(cache_dir) if cache_dir else default_depth_cache_dir()
    entries = _entries(folder) if folder.is_dir() else []
    return len(entries), sum(size for _, size, _ in entries)
