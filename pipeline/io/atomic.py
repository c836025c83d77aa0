"""The project's one way to write a file atomically: into a temporary file beside it, then
renamed over it, so a reader (Blender, another shard, the next run's resume check) sees the
old file or the new one, never half of one, and an interrupted or failed write (Ctrl-C, a
full disk, a download that does not match its hash) leaves no temporary file behind.

>>> atomic_write(path, png_bytes)                        # bytes
>>> atomic_write(path, lambda f: np.save(f, array))      # or a writer given the open file
>>> write_json_atomic(path, summary)                     # JSON, flushed to disk first

The temporary file lives in the target's own folder: a rename is atomic only within one file
system.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

# What to put in the file: its bytes, or a function that writes them to the open binary file
# (for data made while writing: a download, np.save, chunks too big to join in memory).
Content = bytes | bytearray | memoryview | Callable[[BinaryIO], object]

# Windows refuses to replace a file that another process has open (a reader of the summary,
# a virus scanner); that passes within moments, so the rename is retried that many times.
# Elsewhere a PermissionError from rename is final, and retrying would only delay it.
_REPLACE_ATTEMPTS = 20 if sys.platform == "win32" else 1


def atomic_write(
    path: str | os.PathLike[str],
    content: Content,
    *,
    mode: int | None = 0o666,
    fsync: bool = False,
    prefix: str | None = None,
    suffix: str = ".part",
) -> None:
    """Write ``content`` to ``path`` through a temporary file in the same folder + rename.

    ``mode``: the new file's permissions before the umask, as ``open()`` would create it
    (0o666 & ~umask, e.g. 0644): the temporary file starts private (0600), and outputs on a
    farm's shared folder must be readable by the other machines' users. None keeps it private.
    ``fsync``: flush the data to disk before the rename, so that after a power cut the file is
    old or new rather than empty (costs a disk flush; for small state files like summaries).
    ``prefix`` / ``suffix``: the temporary file's name, ``<prefix><random><suffix>``; the
    default prefix is ``"<name>."``. Keep ``.part`` where cleanup code looks for it.

    The folder must exist. Any exception (the writer's own, OSError, KeyboardInterrupt)
    removes the temporary file, leaves ``path`` as it was, and propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{path.name}." if prefix is None else prefix, suffix=suffix
    )
    try:
        if mode is not None and hasattr(os, "fchmod"):  # POSIX; Windows has no such modes
            os.fchmod(fd, mode & ~_umask())
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        rename_into_place(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def rename_into_place(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace(src, dst)`` (a file, or a folder onto a missing name), retried briefly on
    Windows while another process still holds ``dst`` open."""
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == _REPLACE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON so readers only ever see the old or the new file.

    Flushed to disk before the rename (a summary is the run's record), and named as a hidden
    ``.<name>.<random>.tmp`` so that a folder listing mid-write shows no stray file."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    path = Path(path)
    atomic_write(path, text.encode("utf-8"), fsync=True, prefix=f".{path.name}.", suffix=".tmp")


def _umask() -> int:
    # There is no call that only reads the umask; set and restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
