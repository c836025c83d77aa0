"""The Render operator's two paths: synchronous (background mode, scripts) and Blender's own
non-blocking Render Animation job (the UI).

The bpy module has no event loop, so the UI's modal wait for the render job cannot run here.
What is tested: ``invoke`` in background mode renders synchronously; ``nonblocking`` says so;
``RenderWatch`` starts Blender's render job with ``INVOKE_DEFAULT`` (which Blender runs to the
end at once in background mode), its handlers see the job complete, and ``finish`` moves the
video into place and restores the scene -- the same steps the modal timer takes in the UI.
"""

from __future__ import annotations

import importlib

import pytest
from helpers import read_video

pytestmark = pytest.mark.blender
SCALE = 100.0 * 160 / 384  # the sample is 384x288: render 160x120
FRAMES = 4


def render_module(installed_extension):
    return importlib.import_module(f"{installed_extension.__name__}.blender.render")


@pytest.fixture
def animated_sample(empty_scene, sample_photo, sample_depth):
    import bpy

    assert bpy.ops.oneshot3d.import_photo(
        filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH"
    ) == {"FINISHED"}
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=FRAMES, loop=False) == {
        "FINISHED"
    }
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, FRAMES
    return scene


def handler_counts():
    import bpy

    return len(bpy.app.handlers.render_complete), len(bpy.app.handlers.render_cancel)


def test_invoke_in_background_renders_synchronously(animated_sample, installed_extension, tmp_path):
    import bpy

    assert bpy.app.background
    assert render_module(installed_extension).nonblocking(bpy.context) is False
    before = handler_counts()
    result = bpy.ops.oneshot3d.render(
        "INVOKE_DEFAULT", filepath=str(tmp_path / "v.mp4"), samples=2, resolution_scale=SCALE
    )
    assert result == {"FINISHED"}  # not RUNNING_MODAL: done when the call returns
    assert len(read_video(tmp_path / "v.mp4")) == FRAMES
    assert handler_counts() == before
    assert not list(tmp_path.glob("*.part*"))


def test_render_watch_runs_blenders_render_job_and_finishes(
    animated_sample, installed_extension, tmp_path
):
    render = render_module(installed_extension)
    scene = animated_sample
    size = scene.render.resolution_x, scene.render.resolution_y
    before = handler_counts()
    job = render.begin_animation(scene, tmp_path / "w.mp4", "MP4", "CYCLES", 2, SCALE)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (160, 120)
    watch = render.RenderWatch(job)
    result = watch.start()
    assert result == {"FINISHED"}  # background mode: Blender's job ran to the end at once
    assert handler_counts() == (before[0] + 1, before[1] + 1)  # notes taken while it runs
    assert watch.outcome == ["complete"] and not watch.running
    completed, path = watch.finish()
    assert completed and path == tmp_path / "w.mp4"
    assert len(read_video(path)) == FRAMES
    assert not list(tmp_path.glob("*.part*"))
    assert handler_counts() == before
    assert (scene.render.resolution_x, scene.render.resolution_y) == size


def test_render_watch_cancelled_leaves_no_video(animated_sample, installed_extension, tmp_path):
    """A job that ended with render_cancel (Esc in the render window): no video under the
    final name, no temporary file, the scene's size restored."""
    render = render_module(installed_extension)
    scene = animated_sample
    size = scene.render.resolution_x, scene.render.resolution_y
    job = render.begin_animation(scene, tmp_path / "c.mp4", "MP4", "WORKBENCH", 1, SCALE)
    watch = render.RenderWatch(job)
    watch.start()
    watch.outcome.append("cancel")  # what the render_cancel handler notes on Esc
    completed, path = watch.finish()
    assert not completed and not path.exists()
    assert not list(tmp_path.iterdir())
    assert (scene.render.resolution_x, scene.render.resolution_y) == size


def test_stereo_through_the_watch_encodes_side_by_side(
    animated_sample, installed_extension, tmp_path
):
    render = render_module(installed_extension)
    job = render.begin_animation(
        animated_sample, tmp_path / "s.mp4", "MP4", "WORKBENCH", 1, SCALE, stereo=True
    )
    frames_dir = job.frames_dir
    watch = render.RenderWatch(job)
    watch.start()
    completed, path = watch.finish()
    frames = read_video(path)
    assert completed and len(frames) == FRAMES
    assert frames[0].shape[1] == 2 * 160  # two eyes side by side
    assert not frames_dir.exists() and not animated_sample.render.use_multiview


def test_operator_and_batch_ranges_are_the_same(installed_extension):
    import bpy

    cli_args = importlib.import_module(f"{installed_extension.__name__}.blender.cli_args")
    op = bpy.ops.oneshot3d.render.get_rna_type().properties
    panel = bpy.types.Scene.bl_rna.properties["oneshot3d_animation"].fixed_type.properties
    for props in (op, panel):
        scale, samples = props["resolution_scale"], props["samples"]
        assert (scale.hard_min, scale.hard_max) == cli_args.RESOLUTION_SCALE_RANGE
        assert (samples.hard_min, samples.hard_max) == cli_args.SAMPLES_RANGE
    frames = bpy.ops.oneshot3d.animate_camera.get_rna_type().properties["frames"]
    assert (frames.hard_min, frames.hard_max) == cli_args.FRAMES_RANGE
    assert panel["frames"].hard_min == cli_args.FRAMES_RANGE[0]
