"""Keep freed memory in a build process instead of handing it back to the kernel (glibc).

A worker builds one 3D photo and exits. On the way it allocates and frees arrays of a few to
tens of MB, stage after stage. glibc serves every block above its mmap threshold (128 KB at
start) with a fresh mapping and unmaps it on free, so the kernel zeroes and maps every page
again on first touch: a 1 MP build in a fresh process took ~115 k page faults, ~0.3-0.5 s of
system time on the 2-core test machine. Serving blocks up to 32 MB from the heap and never
trimming it halves the faults (blocks are reused from one stage to the next); the process's
peak memory is unchanged (what it keeps is what it already used).

The faults that remain (~57 k, ~0.4 s of system time for a 1 MP build) are the heap's first
growth. ``warm_heap`` takes them off the build's path: while the worker's main thread imports
NumPy, OpenCV and the pipeline (~0.3 s, one core busy), a thread faults in the heap the build
will need and frees it again; the build then finds those pages mapped. One arena for all
threads (``M_ARENA_MAX``) makes that heap the one every thread allocates from, and keeps
thread arenas from holding copies of freed memory (a lower peak as well).

Elsewhere (macOS, Windows, musl) there is nothing to tune.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import PipelineSettings

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for the parameter on 64-bit systems
TRIM_THRESHOLD = 1 << 30
# Heap a build first touches per pixel of its geometry lattice (measured: ~230 MB at 1 MP),
# and the most to warm: what the warm-up thread can fault in while the main thread imports.
HEAP_PER_PIXEL = 230
WARM_CHUNK = 16 << 20  # below MMAP_THRESHOLD: served from the heap, not mapped apart
WARM_MAX = 256 << 20


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for a short-lived build process; True where it applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another libc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all(
        mallopt(parameter, value)
        for parameter, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_ARENA_MAX, 1),
        )
    )


def warm_heap(nbytes: int) -> threading.Thread | None:
    """Fault in about ``nbytes`` (at most WARM_MAX) of heap from a daemon thread, then free
    it: call after ``keep_freed_memory`` and before the heavy imports, which run meanwhile
    (``memset`` through ctypes releases the GIL). Returns the thread, or None where
    ``keep_freed_memory`` does not apply."""
    if not keep_freed_memory():
        return None
    libc = ctypes.CDLL(None)
    malloc, free = libc.malloc, libc.free
    malloc.argtypes, malloc.restype = (ctypes.c_size_t,), ctypes.c_void_p
    free.argtypes, free.restype = (ctypes.c_void_p,), None
    chunks = max(1, min(nbytes, WARM_MAX) // WARM_CHUNK)

    def warm() -> None:
        held = []
        try:
            for _ in range(chunks):
                block = malloc(WARM_CHUNK)
                if not block:
                    break
                held.append(block)
                ctypes.memset(block, 0, WARM_CHUNK)
        finally:
            for block in held:  # all at once: they merge into the heap's top, kept mapped
                free(block)

    thread = threading.Thread(target=warm, name="oneshot3d-warm-heap", daemon=True)
    thread.start()
    return thread


def heap_estimate(settings: PipelineSettings) -> int:
    """Bytes of heap a build of ``settings.filepath`` will first touch: its geometry lattice
    (``lattice.geometry_size``) times HEAP_PER_PIXEL; WARM_MAX when the photo's size cannot
    be read from its header."""
    from ..io.formats import photo_size
    from ..lattice import geometry_size

    size = photo_size(settings.filepath)
    if size is None:
        return WARM_MAX
    width, height = geometry_size(size[0], size[1], settings)
    return width * height * HEAP_PER_PIXEL
