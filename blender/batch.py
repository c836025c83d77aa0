"""The headless batch (``blender -b``: scripts/oneshot3d.py and ``blender --command oneshot3d``)
in bpy: every photo of a folder (or one photo) to a .blend, a preview and
one video per camera preset, with a summary, sharding and resume (planning: pipeline.runtime.batch_plan, summaries: batch_summary).

Before any photo: every global option is checked (blender.cli_args.validate_args), the
photo list is planned (pipeline.runtime.batch_plan.plan_batch: output folder not among the photos, some
photos found) and the depth network's model files are found; any problem ends the command with
one line and exit code 2.

Per photo, in a fresh empty scene: pipeline in the worker process (the import's machinery:
blender.worker_jobs.pipeline_job -- vendored torch, model fetching, depth cache, watchdog)
-> scene objects -> preview still from the rest camera -> first preset keyed -> .blend saved
-> one video per preset. A photo that fails is recorded with its reason and the batch moves
on; the exit code is 1 when any photo failed. Outputs are renamed into place only when
complete, so a re-run after a crash skips exactly the photos whose outputs all exist (unless
--overwrite).
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

from ..pipeline.io.atomic import rename_into_place
from .cli_args import network_backend, pipeline_keywords, validate_args

PREVIEW_LONG_SIDE = 1024


def log(message: str, error: bool = False) -> None:
    print(f"oneshot3d: {message}", file=sys.stderr if error else sys.stdout, flush=True)


class PhotoError(Exception):
    """One photo failed in the worker; ``kind`` is the worker's error class (ImageReadError,
    WorkerStalled, ...), recorded in the summary as ``kind: message``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def plan(args: argparse.Namespace, presets: list[str]) -> list[Any]:
    """This shard's BatchItems (pipeline.runtime.batch_plan.plan_batch, the one planner)."""
    from ..pipeline.runtime.batch_plan import plan_batch

    return plan_batch(
        args.photo,
        args.output,
        presets,
        args.shard,
        args.num_shards,
        overwrite=args.overwrite,
        depth_dir=args.depth_dir or None,
        depth_file=args.depth or None,
    )


def check_models(args: argparse.Namespace, items: list[Any]) -> None:
    """The depth network's model files, once, before any photo (a missing model would fail
    every photo one by one)."""
    from .extension import check_models as check

    backends = {network_backend(args, item.depth) for item in items if not item.done}
    for backend in sorted(b for b in backends if b):
        check(bpy.context, backend, args.model_dir or None)


def save_blend(path: Path) -> None:
    """Save via a temporary name and rename, so a crash never leaves a half-written .blend."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.blend")
    # Compressed (zstd): a 3D photo's .blend shrinks 2.4-2.8x (benchmarks/bench_blend_size.py).
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False, copy=True, compress=True)
    rename_into_place(tmp, path)


def build_mesh(item: Any, args: argparse.Namespace, keywords: dict[str, Any]) -> Any:
    """The photo's MeshData, built by the worker exactly as the import builds it."""
    from ..pipeline.mesh.mesh_data import MeshData
    from ..pipeline.runtime.worker_client import State
    from . import worker_jobs
    from .worker_jobs import offline_hint, pipeline_job, wait_sync

    job = worker_jobs.last_job = pipeline_job(
        bpy.context,
        keywords,
        network_backend=keywords["depth_backend"] != "FILE",
        model_dir=args.model_dir or None,
        device=args.device,
        stall_timeout=args.worker_timeout,
    )
    job.start()
    try:
        wait_sync(job, prefix=f"oneshot3d: {item.name}:")
        if job.state is not State.DONE:
            if job.state is State.FAILED and job.error_kind not in ("", "SettingsError"):
                print(job.details(), file=sys.stderr, flush=True)
            raise PhotoError(job.error_kind or "WorkerError", job.report() + offline_hint(job))
        return MeshData.load(job.result["result"]), dict(job.result.get("timings") or {})
    finally:
        job.release()


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0


def process_photo(
    item: Any,
    args: argparse.Namespace,
    presets: list[str],
    timings: dict[str, float],
    safe: dict[str, float] | None = None,
) -> list[Path]:
    """Every output for one photo; raises on failure (the caller records the reason). The
    photo's safe camera moves (fraction of its focus distance) are put into ``safe``."""
    from ..pipeline.errors import DepthFileError
    from ..pipeline.settings import PipelineSettings
    from . import scene as photo_scene
    from .camera_moves import animate_photo
    from .render import render_animation, render_still

    if args.depth_dir and item.depth is None and not args.backend:
        raise DepthFileError(
            f"No depth map for '{item.photo.name}' in '{args.depth_dir}' (looked for "
            f"{item.photo.stem}, {item.photo.stem}_depth, ... as .npy/.exr/.tif/.png); "
            "add one or pass --backend to estimate depth."
        )
    keywords = pipeline_keywords(args, item.photo, item.depth)
    settings = PipelineSettings.from_keywords(keywords)
    bpy.ops.wm.read_homefile(use_empty=True)
    mesh, worker_timings = build_mesh(item, args, keywords)
    timings.update({k: float(v) for k, v in worker_timings.items()})
    for warning in mesh.warnings:
        log(f"{item.photo}: warning: {warning}")
    with timed(timings, "scene"):
        imported = photo_scene.build_photo_objects(
            bpy.context, mesh, settings, material=args.material.upper(), name=item.name
        )
    if safe is not None and mesh.safe_motion:
        focus = float(imported.mesh_object.oneshot3d.focus_depth) or 1.0  # type: ignore[attr-defined]
        safe.update({k: v / focus for k, v in mesh.safe_motion.items()})
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
            from ..pipeline.motion import DEFAULT_AMPLITUDES

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
    """The whole command (one photo or a folder): 0 when every photo succeeded or was already done, 1 when any photo
    failed (reasons in DIR/summary.json), 2 when the command itself cannot run."""
    from ..pipeline.errors import PipelineError
    from ..pipeline.runtime import batch_summary as batch

    try:
        presets = validate_args(args)
        items = plan(args, presets)
        check_models(args, items)
        summary = batch.Summary(
            args.output,
            args.shard,
            args.num_shards,
            planned=[item.photo for item in items],
            total=items[0].total if items else None,
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
        safe: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            outputs = process_photo(item, args, presets, timings, safe)
        except Exception as e:  # one bad photo must not stop the batch: record and go on
            timings["total"] = time.perf_counter() - t0
            _remove_partials(item.outputs.folder)
            error = f"{getattr(e, 'kind', type(e).__name__)}: {e}"
            summary.record(item.photo, "failed", timings=timings, error=error, **common)
            log(f"{item.photo}: FAILED: {error}", error=True)
            continue
        timings["total"] = time.perf_counter() - t0
        summary.record(item.photo, "ok", outputs, timings=timings, safe_motion=safe, **common)
        log(f"{item.photo}: ok in {timings['total']:.1f} s -> {item.outputs.folder}")
    counts = {s: sum(r.status == s for r in summary.results.values()) for s in batch.STATUSES}
    log(
        f"done in {time.perf_counter() - t_batch:.1f} s: {counts['ok']} ok, "
        f"{counts['skipped']} skipped, {counts['failed']} failed; summary in {summary.path}"
    )
    return summary.exit_code()
