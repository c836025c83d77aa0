"""Headless jobs (``blender -b``): import one photo or a folder of photos into saved .blend
files, with a preview render and camera-move videos (see operators.batch_job)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import bpy

from .cli_args import import_keywords

PREVIEW_LONG_SIDE = 1024


def configure_cycles(scene: bpy.types.Scene, samples: int) -> None:
    """Settings suited to an unlit 3D photo: CPU, few samples, no denoising."""
    from .render import configure_engine

    configure_engine(scene, "CYCLES", samples)


def render_still(
    scene: bpy.types.Scene, path: Path, samples: int, long_side: int | None = None
) -> Path:
    from . import render

    return render.render_still(scene, path, "CYCLES", samples, long_side=long_side)


def save_blend(path: Path) -> None:
    """Save via a temporary name and rename, so a crash never leaves a half-written .blend."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.blend")
    # Compressed (zstd): a 3D photo's .blend shrinks 2.4-2.8x (benchmarks/bench_blend_size.py).
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False, copy=True, compress=True)
    os.replace(tmp, path)


def import_one(photo: Path, args: argparse.Namespace) -> bpy.types.Scene:
    """Import ``photo`` with the import operator into a new empty scene; the operator's error
    report is raised as RuntimeError."""
    bpy.ops.wm.read_homefile(use_empty=True)
    result = bpy.ops.oneshot3d.import_photo(  # type: ignore[attr-defined]
        filepath=str(photo.resolve()), **import_keywords(args)
    )
    if "FINISHED" not in result:
        raise RuntimeError(f"import of {photo} failed")
    scene = bpy.context.scene
    assert scene is not None
    return scene


def run(args: argparse.Namespace) -> int:
    """One photo or a folder: DIR/<name>/<name>.blend (+ preview, + one video per preset)
    and DIR/summary.json. Exit code 0 = all ok, 1 = some photo failed, 2 = bad command."""
    from .batch_job import run_batch

    return run_batch(args)
