"""Turn the pipeline's MeshData into Blender data: mesh, texture, material, camera, collection.

Everything is created first and linked into the scene last, and removed again if anything
fails, so an error never leaves half an import behind.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import bpy
import numpy as np

from . import compat

if TYPE_CHECKING:
    from ..pipeline.mesh_data import MeshData
    from ..pipeline.settings import PipelineSettings

SENSOR_MM = 36.0


@dataclass
class ImportedPhoto:
    collection: bpy.types.Collection
    mesh_object: bpy.types.Object
    camera_object: bpy.types.Object
    image: bpy.types.Image
    material: bpy.types.Material


def build_mesh(name: str, data: "MeshData") -> bpy.types.Mesh:
    """A Blender mesh from MeshData using the bulk foreach_set calls (no from_pydata).

    Triangle pairs are stored as quads that Blender splits back into the same two triangles
    (pipeline.quads): a third fewer corners and edges in memory and in the saved file, and
    exactly the same render."""
    from ..pipeline.quads import pair_triangles

    vertices = np.ascontiguousarray(data.vertices, dtype=np.float32)
    quads, triangles = pair_triangles(vertices, data.triangles)
    corners = np.concatenate([quads.ravel(), triangles.ravel()]).astype(np.int32)
    n_quad, n_tri = quads.shape[0], triangles.shape[0]
    loop_start = np.concatenate(
        [
            np.arange(0, 4 * n_quad, 4, dtype=np.int32),
            np.arange(4 * n_quad, 4 * n_quad + 3 * n_tri, 3, dtype=np.int32),
        ]
    )
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(vertices.shape[0])
    mesh.loops.add(corners.size)
    mesh.polygons.add(n_quad + n_tri)
    # Writing the generic attributes directly is 5-50x faster than vertices.co /
    # loops.vertex_index, which go through per-element RNA access.
    attributes = mesh.attributes
    cast(bpy.types.FloatVectorAttribute, attributes["position"]).data.foreach_set(
        "vector", vertices.ravel()
    )
    cast(bpy.types.IntAttribute, attributes[".corner_vert"]).data.foreach_set("value", corners)
    mesh.polygons.foreach_set("loop_start", loop_start)
    # A 2D float attribute on face corners is a UV map.
    uv = cast(bpy.types.Float2Attribute, attributes.new("UVMap", "FLOAT2", "CORNER"))
    uv.data.foreach_set("vector", np.ascontiguousarray(data.uvs[corners], dtype=np.float32).ravel())
    for attr_name, values in data.attributes.items():
        if values.dtype in (np.bool_, np.int8):
            flags = cast(
                bpy.types.BoolAttribute, mesh.attributes.new(attr_name, "BOOLEAN", "POINT")
            )
            flags.data.foreach_set("value", values.astype(bool))
        elif values.size == 0 or (values.min() >= -128 and values.max() <= 127):
            # Layer numbers are small: 8-bit integers (a quarter of INT) keep the file small;
            # geometry nodes and the attribute node read them as integers all the same.
            small = cast(
                bpy.types.ByteIntAttribute, mesh.attributes.new(attr_name, "INT8", "POINT")
            )
            small.data.foreach_set("value", values.astype(np.int32))
        else:
            ints = cast(bpy.types.IntAttribute, mesh.attributes.new(attr_name, "INT", "POINT"))
            ints.data.foreach_set("value", values.astype(np.int32))
    mesh.update()
    # Selection flags Blender may have added: nothing is selected, so they hold nothing.
    for flag in (".select_vert", ".select_edge", ".select_poly"):
        if flag in mesh.attributes:
            mesh.attributes.remove(mesh.attributes[flag])
    return mesh


def build_image(name: str, texture: np.ndarray) -> bpy.types.Image:
    """Pack the texture into the .blend so that saving and reopening loses nothing.

    The packed file is an 8-bit PNG: a 16-bit one would be a float image in Blender (four
    times the memory at render time, twice the file) for no visible gain on an sRGB photo."""
    from ..pipeline.image_io import write_image_atomic

    if texture.dtype == np.uint16:
        texture = ((texture.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="oneshot3d_") as tmp:
        path = Path(tmp) / f"{name}.png"
        write_image_atomic(path, texture)
        image = bpy.data.images.load(str(path), check_existing=False)
        image.name = name
        image.pack()
        # The temp file is about to vanish: point the path at something meaningful for
        # "Unpack Resources" instead.
        image.filepath_raw = f"//textures/{name}.png"
    image.colorspace_settings.name = "sRGB"
    return image


def build_material(name: str, image: bpy.types.Image, kind: str) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    tree = compat.node_tree(material)
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    output.location = (400, 0)
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.interpolation = "Linear"
    tex.extension = "EXTEND"
    tex.location = (-400, 0)
    if kind == "PRINCIPLED":
        shader = nodes.new("ShaderNodeBsdfPrincipled")
        links.new(tex.outputs["Color"], shader.inputs["Base Color"])
        links.new(shader.outputs["BSDF"], output.inputs["Surface"])
    else:
        shader = nodes.new("ShaderNodeEmission")
        shader.inputs["Strength"].default_value = 1.0
        links.new(tex.outputs["Color"], shader.inputs["Color"])
        links.new(shader.outputs["Emission"], output.inputs["Surface"])
    shader.location = (0, 0)
    return material


def build_camera(name: str, data: "MeshData") -> bpy.types.Object:
    """A camera at the origin in rest orientation (looking down -Z) that sees the photo."""
    intr = data.intrinsics
    cam = bpy.data.cameras.new(name)
    cam.sensor_fit = "AUTO"  # sensor_width spans the longer side of the render
    cam.sensor_width = SENSOR_MM
    cam.lens = intr.blender_lens(SENSOR_MM)
    long_side = float(max(intr.width, intr.height))
    cam.shift_x = (intr.width / 2.0 - intr.cx) / long_side
    cam.shift_y = (intr.cy - intr.height / 2.0) / long_side
    depths = -data.vertices[:, 2] if data.vertices.size else np.ones(1, np.float32)
    cam.clip_start = float(max(1e-4, depths.min() * 0.05))
    cam.clip_end = float(max(depths.max() * 20.0, cam.clip_start * 1000.0))
    return bpy.data.objects.new(name, cam)


def default_focus_depth(data: "MeshData") -> float:
    """The subject's distance (the nearest large region around the image centre), so that
    parallax pivots on it and a dolly zoom keeps its size; the median depth lies behind it."""
    import math

    from ..pipeline.trajectories import splat_disparity, subject_depth

    if not data.vertices.size:
        return 1.0
    front = data.vertices
    layer = data.attributes.get("layer")
    if layer is not None and layer.shape[0] == front.shape[0]:
        front = front[layer == 0]
    intr = data.intrinsics
    long_side = max(intr.width, intr.height)
    tan_half = 0.5 * long_side / intr.fx
    depth = subject_depth(splat_disparity(front, intr.width, intr.height, tan_half))
    if depth is None or not math.isfinite(depth):
        return float(np.median(-data.vertices[:, 2]))
    return depth


def build_photo_objects(
    context: bpy.types.Context,
    data: "MeshData",
    settings: "PipelineSettings",
    material: str = "EMISSION",
    name: str | None = None,
) -> ImportedPhoto:
    """Create the whole 3D photo in a new collection named after the photo."""
    name = name or Path(settings.filepath).stem or "3D Photo"
    created: list[bpy.types.ID] = []
    try:
        mesh = build_mesh(name, data)
        created.append(mesh)
        image = build_image(name, data.texture)
        created.append(image)
        mat = build_material(name, image, material)
        created.append(mat)
        mesh.materials.append(mat)
        mesh_object = bpy.data.objects.new(name, mesh)
        created.append(mesh_object)
        camera_object = build_camera(f"{name} Camera", data)
        created.extend((cast(bpy.types.Camera, camera_object.data), camera_object))
        collection = bpy.data.collections.new(name)
        created.append(collection)
        collection.objects.link(mesh_object)
        collection.objects.link(camera_object)

        props = mesh_object.oneshot3d  # type: ignore[attr-defined]  # registered PropertyGroup
        props.is_photo = True
        props.source_filepath = settings.filepath
        props.depth_filepath = settings.depth_filepath
        props.depth_kind = settings.depth_kind
        props.depth_threshold = settings.depth_threshold
        props.depth_scale = settings.depth_scale
        props.fov = settings.fov
        props.focus_depth = default_focus_depth(data)
        props.camera = camera_object
        if data.safe_motion:
            from ..pipeline.mesh_data import SAFE_MOTION_KEYS

            props.safe_motion = [data.safe_motion.get(k, -1.0) for k in SAFE_MOTION_KEYS]
    except BaseException:
        remove_ids(created)
        raise

    context.scene.collection.children.link(collection)
    scene = context.scene
    scene.camera = camera_object
    scene.render.resolution_x = data.intrinsics.width
    scene.render.resolution_y = data.intrinsics.height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    if material == "EMISSION":
        # An unlit photo reproduces its pixels only without a tone-mapping view transform.
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
    return ImportedPhoto(collection, mesh_object, camera_object, image, mat)


def remove_ids(ids: list[bpy.types.ID]) -> None:
    """Remove data-blocks created by a failed import, newest first."""
    collections = {
        bpy.types.Object: bpy.data.objects,
        bpy.types.Mesh: bpy.data.meshes,
        bpy.types.Image: bpy.data.images,
        bpy.types.Material: bpy.data.materials,
        bpy.types.Camera: bpy.data.cameras,
        bpy.types.Collection: bpy.data.collections,
    }
    for block in reversed(ids):
        for kind, store in collections.items():
            if isinstance(block, kind):
                store.remove(block)  # type: ignore[attr-defined]
                break
