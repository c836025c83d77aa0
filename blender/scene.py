"""Turn the pipeline's MeshData into Blender data: mesh, texture, material, camera, collection.

Everything is created first and linked into the scene last, and removed again if anything
fails, so an error never leaves half an import behind.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import bpy
import numpy as np

from .camera import build_camera
from .material import build_image, build_material
from .mesh import build_mesh

if TYPE_CHECKING:
    from ..pipeline.mesh.mesh_data import MeshData
    from ..pipeline.settings import PipelineSettings


@dataclass
class ImportedPhoto:
    collection: bpy.types.Collection
    mesh_object: bpy.types.Object
    camera_object: bpy.types.Object
    image: bpy.types.Image
    material: bpy.types.Material


def default_focus_depth(data: "MeshData") -> float:
    """The subject's distance (the nearest large region around the image centre), so that
    parallax pivots on it and a dolly zoom keeps its size; the median depth lies behind it."""
    import math

    from ..pipeline.motion import splat_disparity, subject_depth

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


def build_mesh_and_image(
    mesh_name: str, image_name: str, data: "MeshData", created: list[bpy.types.ID]
) -> tuple[bpy.types.Mesh, bpy.types.Image]:
    """The mesh and the packed texture (each appended to ``created`` once made). The texture's
    PNG is encoded in a thread meanwhile (OpenCV releases the GIL), so on a machine with two
    cores its cost hides behind the mesh's."""
    from ..pipeline.io.image_io import texture_png

    with ThreadPoolExecutor(max_workers=1) as pool:
        png = pool.submit(texture_png, data.texture)
        mesh = build_mesh(mesh_name, data)
        created.append(mesh)
        image = build_image(image_name, png.result())
        created.append(image)
    return mesh, image


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
        mesh, image = build_mesh_and_image(name, name, data, created)
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
            from ..pipeline.mesh.mesh_data import SAFE_MOTION_KEYS

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
