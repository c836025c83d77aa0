"""Downloading catalogue models (pipeline.runtime.models): streamed into a temporary file that
gets the final name only after its size and sha256 match the catalogue, with progress and
cancel through a callback. Only the standard library is imported here."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CancelledError, ModelError
from ..io.atomic import atomic_write
from .models import (
    ModelInfo,
    ProgressFn,
    default_cache_dir,
    get_info,
    remember_verified,
    resolve_model,
    verify_file,
)


def download_model(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    url: str | None = None,
    timeout: float = 30.0,
    chunk_size: int = 1 << 18,
) -> Path:
    """Download catalogue model ``name`` into ``cache_dir`` and return its path.

    The data goes to a temporary file in ``cache_dir`` that is renamed to the final name only
    after size and sha256 match the catalogue; on any failure or cancellation the temporary
    file is removed, so no untrusted file is ever left under the final name. ``url``
    overrides the source (mirrors, tests); the catalogue hash still decides. ``progress`` is
    called as ``progress(done_bytes, total_bytes)``; returning False or raising cancels
    (CancelledError, or the callback's own exception). Network errors raise ModelError.
    """
    info = get_info(name)
    if not info.pinned:
        raise ModelError(
            f"{info.label} has no pinned sha256 in the catalogue, so it is not downloaded "
            f"automatically. {info.note} Source: {info.url}"
        )
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    final = folder / info.filename
    if verify_file(final, info):
        if progress is not None:
            progress(info.size or 0, info.size or 0)
        return final
    source = url or info.url
    if not source.startswith(("https://", "http://", "file:")):
        raise ModelError(f"Refusing to download {info.filename} from {source!r}: not a URL.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"Cannot create the model folder '{folder}': {e.strerror}.") from None

    assert info.size is not None
    size = info.size

    def fetch(out: BinaryIO) -> None:
        """Stream the download into ``out``; raising (a bad size or hash, a network error, a
        cancel) makes atomic_write drop the file, so nothing unverified gets the final name."""
        # Here, not at the top: every worker imports this module to check its model files,
        # and urllib (with http, email and ssl) costs a fresh worker ~35 ms it rarely needs.
        import urllib.error
        import urllib.request

        digest = hashlib.sha256()
        done = 0
        request = urllib.request.Request(source, headers={"User-Agent": "oneshot3d"})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ModelError(_network_message(info, source, e)) from None
        with response:
            total = _content_length(response) or size
            if progress is not None and progress(0, total) is False:
                raise CancelledError(f"Download of {info.filename} cancelled.")
            while True:
                try:
                    block = response.read(chunk_size)
                except (OSError, ValueError) as e:  # incl. IncompleteRead, timeouts
                    raise ModelError(_network_message(info, source, e)) from None
                if not block:
                    break
                done += len(block)
                if done > size:
                    # Never stream more than the pinned size onto disk.
                    raise ModelError(
                        f"Download of {info.filename} from {source} is larger than the "
                        f"expected {size} bytes; it is not the official file."
                    )
                digest.update(block)
                out.write(block)
                if progress is not None and progress(done, total) is False:
                    raise CancelledError(f"Download of {info.filename} cancelled.")
        if done != size:
            raise ModelError(
                f"Download of {info.filename} from {source} stopped after {done} of "
                f"{size} bytes (interrupted?). Try again."
            )
        if digest.hexdigest() != info.sha256:
            raise ModelError(
                f"Download of {info.filename} from {source} is corrupted or not the official "
                f"file (sha256 {digest.hexdigest()}, expected {info.sha256}). Try again or "
                f"download it yourself into the model folder."
            )

    atomic_write(final, fetch)
    remember_verified(final, info)  # just hashed while downloading: no need to read it again
    return final


def ensure_model(
    name: str,
    model_dir: str = "",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    allow_download: bool = False,
) -> Path:
    """``resolve_model``, and when that finds nothing and ``allow_download`` is set (the caller
    has checked ``bpy.app.online_access``), ``download_model`` into the cache folder."""
    try:
        return resolve_model(name, model_dir, cache_dir)
    except ModelError:
        if not allow_download or not get_info(name).pinned:
            raise
    return download_model(name, cache_dir, progress)


def _content_length(response: Any) -> int:
    try:
        return int(response.headers.get("Content-Length") or 0)
    except (TypeError, ValueError):
        return 0


def _network_message(info: ModelInfo, source: str, error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return (
        f"Cannot download {info.filename} from {source}: {reason}. Check the internet "
        f"connection, or download the file on another machine and put it in the model folder."
    )
