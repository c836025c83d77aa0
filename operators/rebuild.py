"""Rebuild the active 3D photo from its stored settings (sidebar "Rebuild").

The worker reuses the depth cache (keyed by photo + backend, not by mesh settings), so only
the stages after depth rerun. The new mesh, texture and material are built completely before
the object is switched over; the old data-blocks are removed once nothing uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bpy

from ..blender.photo import is_photo
from ..blender.worker_jobs import pipeline_job
from ..panels.properties import settings_dict, store_settings
from .jobs import JobOperator
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.runtime.worker_client import WorkerJob


def _images_of(materials: list[Any]) -> list[bpy.types.Image]:
    out = []
    for mat in materials:
        if mat is not None and mat.node_tree is not None:
            out += [n.image for n in mat.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]
    return out


class ONESHOT3D_OT_rebuild_photo(JobOperator, bpy.types.Operator):
    """Rebuild the active 3D photo with its current settings (the depth estimate is reused)"""

    bl_idname = "oneshot3d.rebuild_photo"
    bl_label = "Rebuild"
    bl_options = {"REGISTER", "UNDO"}
    job_title = "Rebuild 3D Photo"

    _target = ""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return is_photo(context.active_object)

    def keywords(self, obj: bpy.types.Object) -> dict[str, Any]:
        props = obj.oneshot3d  # type: ignore[attr-defined]
        keywords = settings_dict(props)
        keywords.update(
            filepath=bpy.path.abspath(props.source_filepath),
            depth_filepath=bpy.path.abspath(props.depth_filepath) if props.depth_filepath else "",
            depth_backend=props.depth_backend,
        )
        return keywords

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        self._target = context.active_object.name
        return self.run_job(context)

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        obj = bpy.data.objects[self._target]
        keywords = self.keywords(obj)
        return pipeline_job(context, keywords, network_backend=keywords["depth_backend"] != "FILE")

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        from ..blender import material, scene
        from ..blender.camera import build_camera
        from ..pipeline.mesh.mesh_data import MeshData
        from ..pipeline.settings import PipelineSettings

        obj = bpy.data.objects.get(self._target)
        if obj is None:
            raise KeyError(f"the object {self._target!r} was deleted while rebuilding")
        props = obj.oneshot3d  # type: ignore[attr-defined]
        data = MeshData.load(job.result["result"])
        settings = PipelineSettings.from_keywords(self.keywords(obj))
        old_mesh = obj.data
        old_name = old_mesh.name
        old_materials = list(old_mesh.materials)
        old_images = _images_of(old_materials)
        created: list[bpy.types.ID] = []
        try:
            mesh, image = scene.build_mesh_and_image(old_mesh.name, obj.name, data, created)
            mat = material.build_material(obj.name, image, props.material or "EMISSION")
            created.append(mat)
            mesh.materials.append(mat)
        except BaseException:
            scene.remove_ids(created)
            raise
        obj.data = mesh
        for block, store in (
            [(old_mesh, bpy.data.meshes)]
            + [(m, bpy.data.materials) for m in old_materials if m is not None]
            + [(i, bpy.data.images) for i in old_images]
        ):
            if block.users == 0:
                store.remove(block)  # type: ignore[attr-defined]
        if old_name not in bpy.data.meshes:
            mesh.name = old_name
        store_settings(props, settings)
        camera = props.camera
        if camera is not None and camera.type == "CAMERA":
            fresh = build_camera("tmp", data)
            for attr in ("lens", "shift_x", "shift_y", "clip_start", "clip_end"):
                setattr(camera.data, attr, getattr(fresh.data, attr))
            cam_data = fresh.data
            bpy.data.objects.remove(fresh)
            bpy.data.cameras.remove(cam_data)
        for warning in data.warnings:
            self.report({"WARNING"}, warning)
        hits = (job.result.get("depth_cache") or {}).get("hits", 0)
        note = " (depth reused)" if hits else ""
        self.report({"INFO"}, f"Rebuilt {obj.name}: {data.triangle_count:,} triangles{note}")


classes = (ONESHOT3D_OT_rebuild_photo,)
