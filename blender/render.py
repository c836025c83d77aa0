"""Render a 3D photo: stills, H.264 MP4 videos or image sequences, optionally side-by-side
stereo, with settings suited to an unlit photo (few samples, no denoising, persistent data).

Headless renders write to a temporary name and rename into place when complete, so a crash
never leaves a full-size but truncated video behind (the batch runner's resume relies on it).

An animation render is three steps, shared by both ways of running it: ``begin_animation``
(engine, output, stereo, size, temporary names), Blender's own render, ``end_animation``
(rename or encode, restore the scene's size, remove temporaries). The Render operator

* in the UI (invoked from the panel's button) starts Blender's Render Animation job
  (``render.render('INVOKE_DEFAULT', animation=True)``: the render window with its progress,
  Esc cancels) and returns at once; ``RenderWatch``'s handlers note how the job ended and a
  modal timer runs ``end_animation`` in the main thread once the job is gone;
* in background mode and from scripts (EXEC) renders synchronously (``render_animation``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import bpy

from ..pipeline.io.atomic import rename_into_place
from . import compat
from .photo import is_photo

# Blender's engine identifiers per our name, newest first (EEVEE was BLENDER_EEVEE_NEXT in
# 4.2-4.4 and is BLENDER_EEVEE again in 5.0).
ENGINE_IDS = {
    "CYCLES": ("CYCLES",),
    "EEVEE": ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"),
    "WORKBENCH": ("BLENDER_WORKBENCH",),
}


def configure_engine(scene: bpy.types.Scene, engine: str = "CYCLES", samples: int = 16) -> None:
    """Engine settings for an unlit (Emission) photo: the texture is the whole image, so a few
    samples only anti-alias edges and no denoiser is needed."""
    engine = engine.upper()
    if engine not in ENGINE_IDS:
        raise ValueError(f"engine {engine!r}: choose one of {', '.join(ENGINE_IDS)}")
    for ident in ENGINE_IDS[engine]:
        try:
            scene.render.engine = ident  # type: ignore[assignment]
            break
        except TypeError:  # not an engine of this Blender version
            continue
    if engine == "CYCLES":
        cycles = scene.cycles  # type: ignore[attr-defined]  # registered by the Cycles add-on
        cycles.device = "CPU"
        cycles.samples = samples
        cycles.use_denoising = False
        cycles.use_adaptive_sampling = False
        cycles.max_bounces = 0  # emission seen directly: no light paths to follow
    elif engine == "EEVEE":
        eevee = scene.eevee
        eevee.taa_render_samples = samples
    else:
        shading = scene.display.shading
        shading.light = "FLAT"
        shading.color_type = "TEXTURE"
        scene.display.render_aa = "8"
    scene.render.use_persistent_data = True  # keep the mesh between frames of an animation
    scene.render.use_motion_blur = False
    scene.render.film_transparent = False
    # Standard reproduces the photo's pixel values; AgX / Filmic would shift them.
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"


def output_size(scene: bpy.types.Scene, scale_percent: float, even: bool) -> tuple[int, int]:
    """The photo's size (the scene resolution the import set) scaled; H.264 wants even sizes."""
    w = scene.render.resolution_x * scale_percent / 100.0
    h = scene.render.resolution_y * scale_percent / 100.0
    if even:
        return max(2, 2 * round(w / 2)), max(2, 2 * round(h / 2))
    return max(1, round(w)), max(1, round(h))


@contextmanager
def render_size(scene: bpy.types.Scene, size: tuple[int, int]) -> Iterator[None]:
    """Render at ``size`` and restore the scene's resolution (the photo's size) afterwards."""
    r = scene.render
    saved = r.resolution_x, r.resolution_y, r.resolution_percentage
    r.resolution_x, r.resolution_y = size
    r.resolution_percentage = 100
    try:
        yield
    finally:
        r.resolution_x, r.resolution_y, r.resolution_percentage = saved


def configure_output(scene: bpy.types.Scene, file_format: str) -> None:
    """MP4 (H.264 through Blender's FFmpeg, high quality) or PNG images."""
    settings = scene.render.image_settings
    if file_format == "MP4":
        compat.set_media_type(settings, "VIDEO")  # 5.x: before the format
        settings.file_format = "FFMPEG"
        ff = scene.render.ffmpeg
        ff.format = "MPEG4"
        ff.codec = "H264"
        ff.constant_rate_factor = "HIGH"
        ff.ffmpeg_preset = "GOOD"
        ff.gopsize = max(1, min(ff.gopsize, 12))
        ff.audio_codec = "NONE"
        settings.color_mode = "RGB"
    elif file_format == "PNG":
        compat.set_media_type(settings, "IMAGE")
        settings.file_format = "PNG"
        settings.color_mode = "RGB"
        settings.color_depth = "8"
    else:
        raise ValueError(f"file_format {file_format!r}: choose MP4 or PNG")
    scene.render.use_file_extension = True


def configure_stereo(
    scene: bpy.types.Scene, camera: bpy.types.Object | None, enabled: bool, interaxial: float
) -> None:
    """Side-by-side stereo: Blender's stereo camera (left/right eyes ``interaxial`` apart,
    off-axis, converging at the photo's focus depth) and a side-by-side output."""
    r = scene.render
    r.use_multiview = enabled
    if not enabled:
        return
    r.views_format = "STEREO_3D"
    settings = r.image_settings
    settings.views_format = "STEREO_3D"
    fmt = settings.stereo_3d_format
    fmt.display_mode = "SIDEBYSIDE"
    fmt.use_sidebyside_crosseyed = False
    fmt.use_squeezed_frame = False
    if camera is None:
        return
    focus = 1.0
    for obj in scene.objects:
        if is_photo(obj) and obj.oneshot3d.camera == camera:  # type: ignore[attr-defined]
            focus = float(obj.oneshot3d.focus_depth) or 1.0  # type: ignore[attr-defined]
    stereo = cast(bpy.types.Camera, camera.data).stereo
    stereo.convergence_mode = "OFFAXIS"  # parallel axes, shifted frusta: no keystone
    stereo.convergence_distance = focus
    # 1/30 of the convergence distance: the stereographers' rule for comfortable depth.
    stereo.interocular_distance = interaxial if interaxial > 0 else focus / 30.0


def _render(scene: bpy.types.Scene, animation: bool) -> None:
    bpy.ops.render.render(animation=animation, write_still=not animation, scene=scene.name)


def render_still(
    scene: bpy.types.Scene,
    path: Path,
    engine: str = "CYCLES",
    samples: int = 16,
    scale_percent: float = 100.0,
    long_side: int | None = None,
    frame: int | None = None,
) -> Path:
    """One PNG of the current (or given) frame; ``long_side`` caps the size."""
    configure_engine(scene, engine, samples)
    if long_side:
        longest = max(scene.render.resolution_x, scene.render.resolution_y)
        scale_percent = min(scale_percent, 100.0 * long_side / longest)
    configure_output(scene, "PNG")
    if frame is not None:
        scene.frame_set(frame)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    scene.render.filepath = str(tmp)
    with render_size(scene, output_size(scene, scale_percent, even=False)):
        _render(scene, animation=False)
    rename_into_place(tmp, path)
    return path


@dataclass
class AnimationJob:
    """What ``begin_animation`` changed and must undo, and where the frames go."""

    scene: bpy.types.Scene
    path: Path
    file_format: str
    saved_size: tuple[int, int, int]  # resolution x, y, percentage: the photo's own size
    part: Path | None = None  # MP4: the temporary name the movie is written to
    frames_dir: Path | None = None  # stereo MP4: side-by-side PNG frames, encoded at the end


def begin_animation(
    scene: bpy.types.Scene,
    path: Path,
    file_format: str = "MP4",
    engine: str = "CYCLES",
    samples: int = 16,
    scale_percent: float = 100.0,
    stereo: bool = False,
    interaxial: float = 0.0,
) -> AnimationJob:
    """Set the scene up to render its frame range to ``path`` (see ``render_animation``)."""
    configure_engine(scene, engine, samples)
    configure_output(scene, file_format)
    configure_stereo(scene, scene.camera, stereo, interaxial)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    r = scene.render
    job = AnimationJob(
        scene, path, file_format, (r.resolution_x, r.resolution_y, r.resolution_percentage)
    )
    r.resolution_x, r.resolution_y = output_size(scene, scale_percent, even=file_format == "MP4")
    r.resolution_percentage = 100
    if file_format == "MP4" and stereo:
        # Blender's movie writer only writes one file per eye; render side-by-side PNG frames
        # and encode those at the end instead.
        job.frames_dir = Path(tempfile.mkdtemp(prefix="oneshot3d_sbs_"))
        configure_output(scene, "PNG")
        configure_stereo(scene, scene.camera, True, interaxial)
        r.filepath = str(job.frames_dir / "f_####")
    elif file_format == "MP4":
        job.part = path.with_name(path.stem + ".part" + path.suffix)
        r.filepath = str(job.part)
    else:
        r.filepath = str(path.with_suffix("")) + "_####"
    return job


def end_animation(job: AnimationJob, completed: bool) -> Path:
    """Finish a render that ``begin_animation`` set up: when ``completed``, move (or encode)
    the video into place; always restore the scene's size, stereo off, temporaries removed."""
    scene = job.scene
    r = scene.render
    try:
        if completed and job.frames_dir is not None:
            r.resolution_x, r.resolution_y, r.resolution_percentage = job.saved_size
            r.use_multiview = False
            encode_images(scene, sorted(job.frames_dir.glob("f_*.png")), job.path)
        elif completed and job.part is not None:
            rename_into_place(job.part, job.path)
    finally:
        r.resolution_x, r.resolution_y, r.resolution_percentage = job.saved_size
        r.use_multiview = False
        if job.part is not None and job.part.exists():
            job.part.unlink()
        if job.frames_dir is not None:
            shutil.rmtree(job.frames_dir, ignore_errors=True)
    return job.path


def render_animation(
    scene: bpy.types.Scene,
    path: Path,
    file_format: str = "MP4",
    engine: str = "CYCLES",
    samples: int = 16,
    scale_percent: float = 100.0,
    stereo: bool = False,
    interaxial: float = 0.0,
) -> Path:
    """Render the scene's frame range synchronously (background mode, scripts, the batch).
    MP4: ``path`` is the video, written to a temporary name and renamed when complete. PNG:
    ``path`` is the prefix (``name_####.png`` files)."""
    job = begin_animation(
        scene, path, file_format, engine, samples, scale_percent, stereo, interaxial
    )
    try:
        _render(scene, animation=True)
    except BaseException:
        end_animation(job, completed=False)
        raise
    return end_animation(job, completed=True)


class RenderWatch:
    """Blender's own Render Animation job (non-blocking) for an ``AnimationJob``: handlers
    note whether the job completed or was cancelled (they run in the render thread, so they
    only take notes); ``finish`` runs ``end_animation`` from the main thread."""

    def __init__(self, job: AnimationJob) -> None:
        self.job = job
        self.outcome: list[str] = []
        self._handlers: list[tuple[list[Callable[..., None]], Callable[..., None]]] = []

    def start(self) -> set[str]:
        """Start the render job; Blender's result: RUNNING_MODAL (the job runs, poll
        ``running``), FINISHED (it ran to the end at once: background mode) or CANCELLED."""
        for handlers, note in (
            (bpy.app.handlers.render_complete, "complete"),
            (bpy.app.handlers.render_cancel, "cancel"),
        ):

            def handler(*_args: Any, note: str = note) -> None:
                self.outcome.append(note)

            handlers.append(handler)
            self._handlers.append((handlers, handler))
        try:
            result = bpy.ops.render.render(
                "INVOKE_DEFAULT", animation=True, scene=self.job.scene.name
            )
        except RuntimeError:
            self._remove_handlers()
            raise
        return set(result)

    @property
    def running(self) -> bool:
        return bool(bpy.app.is_job_running("RENDER"))

    @property
    def completed(self) -> bool:
        return "complete" in self.outcome and "cancel" not in self.outcome

    def finish(self) -> tuple[bool, Path]:
        """(completed, path) once the job is gone; the scene is restored either way."""
        self._remove_handlers()
        completed = self.completed
        return completed, end_animation(self.job, completed)

    def _remove_handlers(self) -> None:
        for handlers, handler in self._handlers:
            if handler in handlers:
                handlers.remove(handler)
        self._handlers.clear()


def nonblocking(context: bpy.types.Context) -> bool:
    """Whether an invoked Render runs as Blender's Render Animation job (the UI) rather than
    synchronously (background mode: no event loop would ever finish it)."""
    return not bpy.app.background and context.window is not None


def encode_images(scene: bpy.types.Scene, frames: list[Path], path: Path) -> Path:
    """Encode PNG ``frames`` as an H.264 MP4 at ``scene``'s frame rate, through a temporary
    scene whose sequencer holds them (Blender's own FFmpeg; no external tools)."""
    if not frames:
        raise RuntimeError(f"no frames were rendered for {path}")
    import bpy

    first = bpy.data.images.load(str(frames[0]), check_existing=False)
    width, height = int(first.size[0]), int(first.size[1])  # type: ignore[index]
    bpy.data.images.remove(first)
    tmp_scene = bpy.data.scenes.new("oneshot3d encode")
    try:
        editor = tmp_scene.sequence_editor_create()
        strips = compat.sequencer_strips(editor)
        strip = strips.new_image(name="frames", filepath=str(frames[0]), channel=1, frame_start=1)
        for frame in frames[1:]:
            strip.elements.append(frame.name)
        strip.colorspace_settings.name = "sRGB"
        tmp_scene.frame_start, tmp_scene.frame_end = 1, len(frames)
        r = tmp_scene.render
        r.fps, r.fps_base = scene.render.fps, scene.render.fps_base
        r.resolution_x, r.resolution_y, r.resolution_percentage = width, height, 100
        r.use_sequencer = True
        tmp_scene.view_settings.view_transform = "Standard"
        tmp_scene.view_settings.look = "None"
        configure_output(tmp_scene, "MP4")
        tmp = path.with_name(path.stem + ".part" + path.suffix)
        r.filepath = str(tmp)
        _render(tmp_scene, animation=True)
        rename_into_place(tmp, path)
    finally:
        bpy.data.scenes.remove(tmp_scene)
    return path
