"""Threads for independent array work.

numpy's and OpenCV's inner loops release the GIL, so independent pieces of array work (chunks
of a filter, the colour and the geometry of an LDI) run side by side on a machine with more
than one core. Results never depend on the number of threads: every piece writes its own
outputs, and pieces are merged in a fixed order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# More threads than this gain little for memory-bound numpy work and cost memory.
MAX_WORKERS = 4


def workers() -> int:
    """Threads to use: the CPUs this process may run on, at most MAX_WORKERS."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, n))


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, in threads when there is more than one item and CPU."""
    items = list(items)
    n = min(workers(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, items))
