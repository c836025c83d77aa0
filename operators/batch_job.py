"""The headless batch in bpy: every photo of a folder (or one photo) to a .blend, a preview and
one video per camera preset, with a summary, sharding and resume (planning: pipeline.batch).

Per photo, in a fresh empty scene: pipeline (read, depth, LDI mesh) -> scene objects -> preview
still from the rest camera -> first preset keyed -> .blend saved -> one video per preset. A
photo that fails is recorded with its reason and the batch moves on; the exit code is 1 when
any photo failed. Outputs are renamed into place only when complete, so a re-run after a crash
skips exactly the photos whose outputs all exist (unless --overwrite).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bpy

from .cli_args import pipeline_keywords, presets_of

PREVIEW_LONG_SIDE = 1024


def log(message: str, error: bool = False) -> None:
    print(f"oneshot3d: {message}", file=sys.stderr if error else sys.stdout, flush=True)


def plan(args: argparse.Namespace, presets: list[str]) -> list[Any]:
    """This shard's BatchItems, with names, outputs, resume state and paired depth maps (the
    pieces of pipeline.batch; a run without presets is done when its .blend exists)."""
    from ..pipeline import batch
    from ..pipeline.errors import SettingsError

    source = Path(args.photo)
    if args.depth and source.is_dir():
        raise SettingsError(
            f"--depth names one depth file but '{source}' is a folder; use --depth-dir for folders."
        )
    depth_dir = args.depth_dir or None
    exclude = [args.output]
    if depth_dir is not None and not _contains(Path(depth_dir), source):
        exclude.append(depth_dir)  # a separate depth folder never holds photos
    photos = batch.discover_photos(source, exclude=exclude)
    if not photos:
        log(f"no photos found in '{source}'", error=True)
    root = source if source.is_dir() else source.parent
    names = batch.output_names(photos, root)
    all_items = [
        batch.BatchItem(i, p, names[p], batch.output_paths(args.output, p, presets, names[p]))
        for i, p in enumerate(photos)
    ]
    items = batch.shard(all_items, args.shard, args.num_shards)
    for item in items:
        item.done = not args.overwrite and batch.is_done(item.outputs)
        if args.depth:
            item.depth = Path(args.depth)
        elif depth_dir is not None:
            item.depth = batch.depth_for(item.photo, depth_dir, root)
    return items


def _contains(folder: Path, path: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (depth maps kept beside the photos)."""
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0


def process_photo(
    item: Any, args: argparse.Namespace, presets: list[str], timings: dict[str, float]
) -> list[Path]:
    """Every output for one photo; raises on failure (the caller records the reason)."""
    from ..pipeline.build import build_photo
    from ..pipeline.errors import DepthFileError
    from ..pipeline.settings import PipelineSettings
    from . import scene_build
    from .animate_camera import animate_photo
    from .headless import save_blend
    from .render import render_animation, render_still

    if args.depth_dir and item.depth is None and not args.backend:
        raise DepthFileError(
            f"No depth map for '{item.photo.name}' in '{args.depth_dir}' (looked for "
            f"{item.photo.stem}, {item.photo.stem}_depth, ... as .npy/.exr/.tif/.png); "
            "add one or pass --backend to estimate depth."
        )
    settings = PipelineSettings.from_keywords(pipeline_keywords(args, item.photo, item.depth))
    bpy.ops.wm.read_homefile(use_empty=True)
    mesh = build_photo(settings)
    timings.update({k: float(v) for k, v in (mesh.timings or {}).items()})
    for warning in mesh.warnings:
        log(f"{item.photo}: warning: {warning}")
    with timed(timings, "scene"):
        imported = scene_build.build_photo_objects(
            bpy.context, mesh, settings, material=args.material.upper(), name=item.name
        )
    scene = bpy.context.scene
    assert scene is not None
    outputs: list[Path] = []
    folder = item.outputs.folder
    folder.mkdir(parents=True, exist_ok=True)
    if not args.no_preview:
        with timed(timings, "preview"):
            outputs.append(
                render_still(
                    scene,
                    folder / f"{item.name}_preview.png",
                    args.engine,
                    args.samples,
                    args.resolution_scale,
                    long_side=PREVIEW_LONG_SIDE,
                )
            )

    def animate(preset: str) -> None:
        default = None
        if args.amplitude_scale != 1.0:
            from ..pipeline.trajectories import DEFAULT_AMPLITUDES

            default = DEFAULT_AMPLITUDES[preset] * args.amplitude_scale
        animate_photo(
            bpy.context, imported.mesh_object, preset, args.frames, default, not args.no_loop
        )

    if presets:
        with timed(timings, "animate"):
            animate(presets[0])
    with timed(timings, "save"):
        save_blend(item.outputs.blend)
    outputs.append(item.outputs.blend)
    for preset in presets:
        if preset != presets[0]:
            with timed(timings, "animate"):
                animate(preset)
        with timed(timings, f"render_{preset.lower()}"):
            render_animation(
                scene,
                item.outputs.videos[preset],
                "MP4",
                args.engine,
                args.samples,
                args.resolution_scale,
                args.stereo,
                args.interaxial,
            )
        outputs.append(item.outputs.videos[preset])
        log(f"wrote {item.outputs.videos[preset]}")
    return outputs


def _remove_partials(folder: Path) -> None:
    """Temporary files of an interrupted photo (renders and saves go via '.part' names)."""
    if folder.is_dir():
        for p in folder.glob("*.part*"):
            try:
                p.unlink()
            except OSError:
                pass


def run_batch(args: argparse.Namespace) -> int:
    """The whole command: 0 when every photo succeeded or was already done, 1 when any photo
    failed (reasons in DIR/summary.json), 2 when the command itself cannot run."""
    from ..pipeline import batch
    from ..pipeline.errors import PipelineError

    try:
        presets = batch.normalise_presets(presets_of(args))
        if args.frames < 2:
            raise batch.SettingsError(f"--frames = {args.frames}: must be at least 2.")
        items = plan(args, presets)
        summary = batch.Summary(
            args.output,
            args.shard,
            args.num_shards,
            meta={
                "source": os.fspath(Path(args.photo).resolve()),
                "presets": presets,
                "frames": args.frames,
                "engine": args.engine,
                "samples": args.samples,
                "resolution_scale": args.resolution_scale,
                "blender": bpy.app.version_string,
            },
        )
    except (PipelineError, OSError) as e:
        log(str(e), error=True)
        return 2
    log(f"{len(items)} photo(s) in shard {args.shard} of {args.num_shards}")
    summary.write()  # even a shard with nothing to do reports in
    t_batch = time.perf_counter()
    for item in items:
        common = {"name": item.name, "index": item.index}
        if item.done:
            summary.record(item.photo, "skipped", item.outputs.all(), **common)
            log(f"{item.photo}: already done, skipped (--overwrite redoes it)")
            continue
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            outputs = process_photo(item, args, presets, timings)
        except Exception as e:  # one bad photo must not stop the batch: record and go on
            timings["total"] = time.perf_counter() - t0
            _remove_partials(item.outputs.folder)
            summary.record(item.photo, "failed", timings=timings, error=e, **common)
            log(f"{item.photo}: FAILED: {type(e).__name__}: {e}", error=True)
            continue
        timings["total"] = time.perf_counter() - t0
        summary.record(item.photo, "ok", outputs, timings=timings, **common)
        log(f"{item.photo}: ok in {timings['total']:.1f} s -> {item.outputs.folder}")
    counts = {s: sum(r.status == s for r in summary.results.values()) for s in batch.STATUSES}
    log(
        f"done in {time.perf_counter() - t_batch:.1f} s: {counts['ok']} ok, "
        f"{counts['skipped']} skipped, {counts['failed']} failed; summary in {summary.path}"
    )
    return summary.exit_code()
