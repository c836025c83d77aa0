"""Finding a 3D photo in the scene and reading what it knows (vertices, safe moves, depth)."""

from __future__ import annotations

from typing import Any, cast

import bpy
import numpy as np


def is_photo(obj: Any) -> bool:
    """Whether ``obj`` is a 3D photo made by this extension (the one test everywhere)."""
    props = getattr(obj, "oneshot3d", None)
    return bool(obj is not None and obj.type == "MESH" and props is not None and props.is_photo)


def find_photo(context: bpy.types.Context, name: str = "") -> bpy.types.Object | None:
    """The 3D photo to work on: ``name``, else the active object (or the photo whose camera is
    active), else the photo whose camera is the scene camera, else the first in the scene."""
    scene = context.scene
    if name:
        obj = bpy.data.objects.get(name)
        return obj if is_photo(obj) else None
    photos = [o for o in scene.objects if is_photo(o)]
    active = context.view_layer.objects.active if context.view_layer else None
    if is_photo(active):
        return active
    for cam in (active, scene.camera):
        if cam is not None and cam.type == "CAMERA":
            for photo in photos:
                if photo.oneshot3d.camera == cam:  # type: ignore[attr-defined]
                    return photo
    return photos[0] if photos else None


def photo_vertices(photo: bpy.types.Object, front_only: bool) -> np.ndarray:
    """The photo mesh's vertices (N, 3), only layer 0 (the photo's own pixels) if asked."""
    mesh = cast(bpy.types.Mesh, photo.data)
    n = len(mesh.vertices)
    co = np.empty(n * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    pts = co.reshape(-1, 3).astype(np.float64)
    if front_only and n and "layer" in mesh.attributes:
        layer = np.empty(n, np.int32)
        mesh.attributes["layer"].data.foreach_get("value", layer)  # type: ignore[attr-defined]
        pts = pts[layer == 0]
    return pts


def photo_safe_motion(photo: bpy.types.Object) -> dict[str, float] | None:
    """The photo's safe camera moves per direction (Blender units), None when not known."""
    from ..pipeline.mesh.mesh_data import SAFE_MOTION_KEYS

    values = list(photo.oneshot3d.safe_motion)  # type: ignore[attr-defined]
    if min(values) < 0:
        return None
    return dict(zip(SAFE_MOTION_KEYS, values, strict=True))


def depth_along_camera(
    context: bpy.types.Context,
    camera: bpy.types.Object,
    origin: Any,
    direction: Any,
) -> float | None:
    """Distance along the camera's view axis of the first surface hit by the ray, or None."""
    depsgraph = context.evaluated_depsgraph_get()
    hit, location, _normal, _index, _obj, _matrix = context.scene.ray_cast(
        depsgraph, origin, direction
    )
    if not hit:
        return None
    cam_matrix = camera.matrix_world
    forward = -(cam_matrix.to_3x3() @ type(location)((0.0, 0.0, 1.0))).normalized()
    depth = float((location - cam_matrix.translation).dot(forward))
    return depth if depth > 0 else None
