"""The import operator in real Blender: objects, mesh, material, camera, render, save/reload."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.blender


def import_sample(sample_photo: Path, sample_depth: Path, **kw):
    import bpy

    args = dict(filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH")
    args.update(kw)
    assert bpy.ops.oneshot3d.import_photo(**args) == {"FINISHED"}
    return bpy.context.scene.camera


def photo_objects(collection_name: str):
    import bpy

    col = bpy.data.collections[collection_name]
    mesh_obj = next(o for o in col.objects if o.type == "MESH")
    cam_obj = next(o for o in col.objects if o.type == "CAMERA")
    return col, mesh_obj, cam_obj


def test_import_builds_mesh_material_camera(empty_scene, sample_photo, sample_depth):
    import bpy

    import_sample(sample_photo, sample_depth)
    col, mesh_obj, cam_obj = photo_objects("sample")
    assert col.name in bpy.context.scene.collection.children
    me = mesh_obj.data
    depth = np.load(sample_depth)
    h, w = depth.shape
    # Triangles, and triangle pairs stored as quads (test_saved_scene checks they render as
    # the pipeline's triangles).
    sizes = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", sizes)
    assert len(me.polygons) > 0 and set(np.unique(sizes)) == {3, 4}
    assert len(me.uv_layers) == 1
    assert {"layer", "inpainted"} <= set(me.attributes.keys())
    # Every vertex lies in front of the camera at a depth the depth map contains; the
    # backdrop (layer -1, pipeline.mesh.backdrop) lies a few per cent behind the farthest.
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    z = -co.reshape(-1, 3)[:, 2]
    layer = np.empty(len(me.vertices), np.int32)
    me.attributes["layer"].data.foreach_get("value", layer)
    ldi, behind = z[layer >= 0], z[layer < 0]
    assert ldi.min() >= depth.min() * 0.999 and ldi.max() <= depth.max() * 1.001
    assert behind.size and behind.min() > depth.min() and behind.max() <= depth.max() * 1.05
    # Camera at the origin in rest orientation, and the render matches the photo's size.
    assert tuple(cam_obj.location) == (0.0, 0.0, 0.0)
    assert tuple(cam_obj.rotation_euler) == (0.0, 0.0, 0.0)
    scene = bpy.context.scene
    assert scene.camera == cam_obj
    assert (scene.render.resolution_x, scene.render.resolution_y) == (w, h)
    # Default FOV (no EXIF): focal length = long side in pixels -> 53.13 degrees.
    assert math.isclose(
        math.degrees(cam_obj.data.angle), 2 * math.degrees(math.atan(0.5)), rel_tol=1e-4
    )
    # Material: an image texture showing the photo, packed into the .blend.
    mat = me.materials[0]
    tex = next(n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE")
    assert tex.image.packed_file is not None
    # The texture holds at least the photo (an LDI atlas adds charts and margins).
    assert tex.image.size[0] >= w and tex.image.size[1] >= h
    assert any(n.type == "EMISSION" for n in mat.node_tree.nodes)
    assert mesh_obj.oneshot3d.is_photo and mesh_obj.oneshot3d.camera == cam_obj


def test_principled_material(empty_scene, sample_photo, sample_depth):
    import_sample(sample_photo, sample_depth, material="PRINCIPLED")
    _, mesh_obj, _ = photo_objects("sample")
    nodes = mesh_obj.data.materials[0].node_tree.nodes
    assert any(n.type == "BSDF_PRINCIPLED" for n in nodes)


def test_import_twice_is_independent(empty_scene, sample_photo, sample_depth):
    import bpy

    import_sample(sample_photo, sample_depth)
    import_sample(sample_photo, sample_depth, depth_threshold=0.5)
    cols = [c for c in bpy.data.collections if c.name.startswith("sample")]
    assert len(cols) == 2
    meshes = {next(o for o in c.objects if o.type == "MESH").data.name for c in cols}
    cams = {next(o for o in c.objects if o.type == "CAMERA").name for c in cols}
    assert len(meshes) == 2 and len(cams) == 2
    a, b = (next(o for o in c.objects if o.type == "MESH").data for c in cols)
    assert a.materials[0] != b.materials[0]
    images = [m.materials[0].node_tree.nodes["Image Texture"].image for m in (a, b)]
    assert images[0] != images[1]
    assert {c.name for c in cols} == {"sample", "sample.001"}


def test_torn_at_discontinuities(empty_scene, sample_photo, sample_depth):
    """The mesh is torn, not stretched: no triangle spans a big depth jump."""
    import_sample(sample_photo, sample_depth, depth_threshold=0.04, mesh_mode="TORN")
    _, mesh_obj, _ = photo_objects("sample")
    me = mesh_obj.data
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    me.calc_loop_triangles()
    idx = np.empty(len(me.loop_triangles) * 3, np.int32)
    me.loop_triangles.foreach_get("vertices", idx)
    disp = 1.0 / -co.reshape(-1, 3)[:, 2]
    disp /= disp.max()
    tri = disp[idx.reshape(-1, 3)]
    assert (tri.max(axis=1) - tri.min(axis=1)).max() <= 0.04 + 1e-5


def test_bad_input_leaves_nothing(empty_scene, tmp_path, sample_photo):
    import bpy

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    before = (
        len(bpy.data.objects),
        len(bpy.data.meshes),
        len(bpy.data.images),
        len(bpy.data.materials),
    )
    with pytest.raises(RuntimeError, match="broken.png"):
        bpy.ops.oneshot3d.import_photo(
            filepath=str(bad), depth_filepath=str(bad), depth_kind="DEPTH"
        )
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.oneshot3d.import_photo(
            filepath=str(sample_photo), depth_filepath=str(tmp_path / "nope.npy")
        )
    after = (
        len(bpy.data.objects),
        len(bpy.data.meshes),
        len(bpy.data.images),
        len(bpy.data.materials),
    )
    assert before == after


def render_through_camera(tmp_path: Path, scene) -> np.ndarray:
    import bpy
    import cv2

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(tmp_path / "render.png")
    bpy.ops.render.render(write_still=True)
    return cv2.imread(str(tmp_path / "render.png"))[:, :, ::-1]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / max(mse, 1e-12))


def test_render_through_camera_reproduces_photo(empty_scene, tmp_path, sample_photo, sample_depth):
    import bpy
    import cv2

    import_sample(sample_photo, sample_depth)
    rendered = render_through_camera(tmp_path, bpy.context.scene)
    photo = cv2.imread(str(sample_photo))[:, :, ::-1]
    assert rendered.shape == photo.shape
    value = psnr(rendered, photo)
    print(f"PSNR through the imported camera: {value:.2f} dB")
    assert value >= 30.0


def horizontal_shift(
    still: np.ndarray, moved: np.ndarray, cx: int, cy: int, half: int = 16, reach: int = 60
) -> int:
    """Where a patch of ``still`` centred at (cx, cy) went in ``moved``, searched along its row
    within ``reach`` pixels (the brick wall repeats itself further away)."""
    import cv2

    patch = still[cy - half : cy + half, cx - half : cx + half]
    lo = max(0, cx - half - reach)
    strip = moved[cy - half : cy + half, lo : cx + half + reach]
    scores = cv2.matchTemplate(strip, patch, cv2.TM_SQDIFF)
    return int(np.argmin(scores[0])) + lo - (cx - half)


def test_camera_move_shows_parallax(empty_scene, tmp_path, sample_photo, sample_depth):
    """Moving the camera sideways shifts near things more than far things, by f * dx / z."""
    import bpy
    import cv2

    import_sample(sample_photo, sample_depth)
    scene = bpy.context.scene
    still = render_through_camera(tmp_path, scene).astype(np.float32)
    dx = 0.3
    scene.camera.location.x = dx
    moved = render_through_camera(tmp_path, scene).astype(np.float32)
    depth = np.load(sample_depth)
    h, w = depth.shape
    focal = max(w, h) / (2 * math.tan(scene.camera.data.angle / 2))
    # The nearest broad surface (largest 41x41 window of small depth) and the far wall.
    box = cv2.blur(depth, (41, 41))
    box[:24, :] = box[-24:, :] = box[:, :80] = box[:, -80:] = np.inf
    near_y, near_x = np.unravel_index(np.argmin(box), box.shape)
    far_y, far_x = 30, w // 2
    for y, x in ((near_y, near_x), (far_y, far_x)):
        expected = -focal * dx / float(np.median(depth[y - 8 : y + 8, x - 8 : x + 8]))
        measured = horizontal_shift(still, moved, x, y)
        assert abs(measured - expected) <= max(2.0, 0.15 * abs(expected)), (
            x,
            y,
            measured,
            expected,
        )
    assert depth[near_y, near_x] * 1.5 < depth[far_y, far_x]


def test_save_and_reopen_keeps_texture(empty_scene, tmp_path, sample_photo, sample_depth):
    import bpy

    import_sample(sample_photo, sample_depth)
    path = tmp_path / "photo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert "sample" not in bpy.data.images
    bpy.ops.wm.open_mainfile(filepath=str(path))
    image = bpy.data.images["sample"]
    assert image.packed_file is not None
    assert image.size[0] >= 384 and image.size[1] >= 288
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    # Real image data, not a pink "missing image" placeholder: the photo itself, pixel for
    # pixel (but for the background pixels beside outlines, which the skirts unmix), sits in
    # the atlas at (margin, margin) (the margin depends on the camera moves the scene is
    # extended for).
    import cv2
    from helpers import photo_region_offsets

    tex = pixels.reshape(image.size[1], image.size[0], 4)[::-1, :, :3]
    photo = cv2.cvtColor(cv2.imread(str(sample_photo)), cv2.COLOR_BGR2RGB) / 255.0
    found = photo_region_offsets(tex, photo, tolerance=1.5 / 255)
    assert len(found) == 1, found
    _, mesh_obj, cam_obj = photo_objects("sample")
    assert mesh_obj.oneshot3d.camera == cam_obj
    assert mesh_obj.oneshot3d.depth_kind == "DEPTH"
