"""The worker process's environment: Blender's interpreter with the pipeline package, the
vendored environment (torch, installed on request) and Blender's own paths on PYTHONPATH."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

# The folder that contains the ``pipeline`` package: on PYTHONPATH the worker imports it as
# the top-level package ``pipeline`` (it uses relative imports only).
PIPELINE_PARENT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parents[1].name  # "pipeline"


def worker_pythonpath(
    vendor_dir: str | os.PathLike[str] | None = None,
    parent_path: Sequence[str] | None = None,
    pipeline_parent: str | os.PathLike[str] = PIPELINE_PARENT,
) -> list[str]:
    """PYTHONPATH of the child: the extension folder (``pipeline`` importable), the vendored
    environment (torch), then the parent's own ``sys.path`` (Blender's stdlib, numpy, the
    extension's bundled OpenCV wheel). Empty entries and duplicates are dropped."""
    entries = [str(pipeline_parent)]
    if vendor_dir:
        entries.append(str(vendor_dir))
    entries += [p for p in (sys.path if parent_path is None else parent_path) if p]
    seen: set[str] = set()
    out = []
    for e in entries:
        if e not in seen and e != ".":
            seen.add(e)
            out.append(e)
    return out


def worker_env(pythonpath: Sequence[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"  # like Blender: the user's site-packages could shadow numpy
    env.pop("PYTHONHOME", None)
    env.update(extra or {})
    return env
