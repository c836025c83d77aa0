"""Headless jobs: import a photo into a saved .blend and render a preview (``blender -b``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import bpy

from .cli_args import import_keywords

PREVIEW_LONG_SIDE = 1024


def configure_cycles(scene: bpy.types.Scene, samples: int) -> None:
    """Settings suited to an unlit 3D photo: CPU, few samples, no denoising."""
    scene.render.engine = "CYCLES"  # type: ignore[assignment]  # stubs list built-in engines only
    cycles = scene.cycles  # type: ignore[attr-defined]  # Cycles registers its settings at runtime
    cycles.device = "CPU"
    cycles.samples = samples
    cycles.use_denoising = False
    cycles.use_adaptive_sampling = False
    scene.render.use_persistent_data = True
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"


def render_still(
    scene: bpy.types.Scene, path: Path, samples: int, long_side: int | None = None
) -> Path:
    configure_cycles(scene, samples)
    render = scene.render
    if long_side:
        longest = max(render.resolution_x, render.resolution_y)
        render.resolution_percentage = max(1, min(100, round(100 * long_side / longest)))
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGB"
    render.filepath = str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.render.render(write_still=True)
    return path


def save_blend(path: Path) -> None:
    """Save via a temporary name and rename, so a crash never leaves a half-written .blend."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False, copy=True, compress=False)
    os.replace(tmp, path)


def import_one(photo: Path, args: argparse.Namespace) -> bpy.types.Scene:
    """Import ``photo`` into a new empty scene; the operator's error report is raised as
    RuntimeError."""
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
    photo = Path(args.photo)
    out_dir = Path(args.output) / photo.stem
    try:
        scene = import_one(photo, args)
    except RuntimeError as e:
        print(f"oneshot3d: {e}", file=sys.stderr)
        return 1
    blend = out_dir / f"{photo.stem}.blend"
    save_blend(blend)
    print(f"oneshot3d: wrote {blend}")
    if not args.no_preview:
        png = render_still(
            scene, out_dir / f"{photo.stem}_preview.png", args.samples, PREVIEW_LONG_SIDE
        )
        print(f"oneshot3d: wrote {png}")
    return 0
