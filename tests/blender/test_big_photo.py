"""A photo above the geometry budget, in real Blender: the geometry is built at the working
resolution, the texture keeps the photo's full resolution, and the camera reproduces the
photo as sharply as a full-resolution build does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_import import psnr, render_through_camera

pytestmark = pytest.mark.blender

BUDGET_MP = 0.05  # the 1024x768 sample is built on a 258x193 lattice


def test_photo_above_the_budget_keeps_a_full_resolution_texture(
    empty_scene, tmp_path, sample_photo, sample_depth
) -> None:
    import bpy

    # The sample is smooth; fine detail (a 3-pixel checker, finer than the lattice, coarser
    # than Cycles' pixel filter) shows whether the texture is at full resolution.
    photo = cv2.imread(str(sample_photo)).astype(np.int16)
    y, x = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    photo += np.where((y // 3 + x // 3) % 2 == 0, 25, -25).astype(np.int16)[:, :, None]
    detailed = tmp_path / "detailed.png"
    cv2.imwrite(str(detailed), np.clip(photo, 0, 255).astype(np.uint8))
    renders = {}
    for budget in (BUDGET_MP, 12.6):  # above the budget, and natively for comparison
        bpy.ops.wm.read_homefile(use_empty=True)
        result = bpy.ops.oneshot3d.import_photo(
            filepath=str(detailed),
            depth_filepath=str(sample_depth),
            depth_kind="DEPTH",
            geometry_megapixels=budget,
        )
        assert result == {"FINISHED"}
        if budget == BUDGET_MP:
            _check_budgeted_import(photo.shape[:2])
        renders[budget] = render_through_camera(tmp_path, bpy.context.scene)

    photo = cv2.imread(str(detailed))[:, :, ::-1]
    h, w = photo.shape[:2]
    assert renders[BUDGET_MP].shape == photo.shape
    value, native = psnr(renders[BUDGET_MP], photo), psnr(renders[12.6], photo)
    # What a texture at the working resolution could give at best: the photo resampled down
    # to the lattice and back up. The full-resolution texture must do clearly better, about
    # as well as the native build.
    lattice = cv2.resize(photo, (258, 193), interpolation=cv2.INTER_AREA)
    blurred = psnr(cv2.resize(lattice, (w, h), interpolation=cv2.INTER_LINEAR), photo)
    print(
        f"PSNR {value:.2f} dB, native build {native:.2f} dB, lattice-sized texture {blurred:.2f} dB"
    )
    assert value > blurred + 2.0
    assert value >= native - 0.5


def _check_budgeted_import(shape: tuple[int, ...]) -> None:
    import bpy

    h, w = shape
    mesh_obj = next(o for o in bpy.data.objects if o.type == "MESH")
    image = next(i for i in bpy.data.images if i.packed_file is not None)
    assert image.size[0] >= w and image.size[1] >= h  # photo region at full resolution
    # Geometry at the working size: far fewer vertices than photo pixels.
    assert len(mesh_obj.data.vertices) < 2 * BUDGET_MP * 1e6
    scene = bpy.context.scene
    assert (scene.render.resolution_x, scene.render.resolution_y) == (w, h)
