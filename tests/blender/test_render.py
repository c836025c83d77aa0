"""Short renders of the sample (tiny size, 4 Cycles samples): MP4 via Blender's FFmpeg, stills,
image sequences and side-by-side stereo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import read_video

pytestmark = pytest.mark.blender
SCALE = 100.0 * 160 / 384  # the sample is 384x288: render 160x120
FRAMES = 6


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.fixture
def animated_sample(empty_scene, sample_photo, sample_depth):
    import bpy

    assert bpy.ops.oneshot3d.import_photo(
        filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH"
    ) == {"FINISHED"}
    assert bpy.ops.oneshot3d.animate_camera(preset="SWING", frames=FRAMES, loop=False) == {
        "FINISHED"
    }
    return bpy.context.scene


def test_mp4_has_parallax_and_first_frame_matches_still(animated_sample, tmp_path):
    import bpy

    render = bpy.context.scene.render
    assert bpy.ops.oneshot3d.render(
        filepath=str(tmp_path / "swing.mp4"), samples=4, resolution_scale=SCALE
    ) == {"FINISHED"}
    video = tmp_path / "swing.mp4"
    assert not list(tmp_path.glob("*.part*"))
    frames = read_video(video)
    assert len(frames) == FRAMES
    assert frames[0].shape == (120, 160, 3)
    # The scene keeps the photo's own resolution for later renders.
    assert (render.resolution_x, render.resolution_y) == (384, 288)
    # Parallax: every frame differs from its neighbour, the ends the most.
    steps = [np.abs(frames[i + 1] - frames[i]).mean() for i in range(FRAMES - 1)]
    assert min(steps) > 0.5
    assert np.abs(frames[-1] - frames[0]).mean() > max(steps)

    from bl_ext.user_default.oneshot3d.blender.render import render_still

    still = render_still(
        animated_sample, tmp_path / "first.png", samples=4, scale_percent=SCALE, frame=1
    )
    image = cv2.imread(str(still)).astype(np.float64)
    assert image.shape == frames[0].shape
    assert psnr(image, frames[0]) > 30  # only H.264 and the sampling noise apart
    assert psnr(image, frames[0]) > psnr(image, frames[-1]) + 3


def test_png_sequence(animated_sample, tmp_path):
    from bl_ext.user_default.oneshot3d.blender.render import render_animation

    animated_sample.frame_end = 3
    render_animation(animated_sample, tmp_path / "seq", "PNG", samples=2, scale_percent=25)
    files = sorted(tmp_path.glob("seq_*.png"))
    assert [p.name for p in files] == ["seq_0001.png", "seq_0002.png", "seq_0003.png"]
    assert cv2.imread(str(files[0])).shape == (72, 96, 3)


def test_side_by_side_stereo(animated_sample, tmp_path):
    import bpy

    animated_sample.frame_end = 2
    assert bpy.ops.oneshot3d.render(
        filepath=str(tmp_path / "sbs.mp4"), samples=4, resolution_scale=SCALE, stereo=True
    ) == {"FINISHED"}
    frames = read_video(tmp_path / "sbs.mp4")
    assert len(frames) == 2
    assert frames[0].shape == (120, 320, 3)  # two full-width eyes
    left, right = frames[0][:, :160], frames[0][:, 160:]
    assert np.abs(left - right).mean() > 0.5  # the eyes see different parallax
    assert psnr(left, right) > 15  # ... of the same picture
    assert not animated_sample.render.use_multiview  # switched off again afterwards
