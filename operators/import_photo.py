"""File > Import > 3D Photo (and drag and drop, operators.file_handler): the photo's settings
in the redo panel, the pipeline in the worker (operators.jobs), the objects built by
blender.scene."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..blender.extension import preferences, preferred_backend
from ..blender.options import MATERIAL_ITEMS
from ..blender.worker_jobs import pipeline_job
from ..panels.properties import (
    DEPTH_BACKEND_ITEMS,
    setting_annotations,
    settings_dict,
    store_settings,
)
from ..pipeline.io.formats import PHOTO_SUFFIXES
from ..pipeline.settings import PHOTO_SETTINGS, SETTINGS
from .jobs import JobOperator
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.runtime.worker_client import WorkerJob


# ImportHelper.invoke and Operator.invoke differ only in the stubs' annotations.
class ONESHOT3D_OT_import_photo(JobOperator, bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import a photo as a 3D photo: a layered, textured mesh and a matching camera. Depth comes
    from a depth map file or is estimated by a depth network in a worker process"""

    bl_idname = "oneshot3d.import_photo"
    bl_label = "Import 3D Photo"
    bl_options = {"REGISTER", "UNDO", "PRESET"}
    job_title = "Import 3D Photo"

    filename_ext = ".jpg"
    filter_glob: StringProperty(
        default=";".join("*" + suffix for suffix in PHOTO_SUFFIXES), options={"HIDDEN"}
    )
    filepath: StringProperty(name="Photo", subtype="FILE_PATH")
    depth_backend: EnumProperty(
        name="Depth",
        description="Where the depth comes from: a depth map file or a depth network",
        items=DEPTH_BACKEND_ITEMS,
        default="AUTO",
    )
    depth_filepath: StringProperty(
        name="Depth Map",
        description="Depth or disparity map (.npy, 8/16-bit PNG, float TIFF or EXR)",
        subtype="FILE_PATH",
    )
    material: EnumProperty(name="Material", items=MATERIAL_ITEMS, default="EMISSION")

    def invoke(  # type: ignore[override]
        self, context: bpy.types.Context, event: bpy.types.Event
    ) -> OperatorResult:
        prefs = preferences(context)
        if prefs is not None and not self.properties.is_property_set("depth_threshold"):
            self.depth_threshold = prefs.default_depth_threshold
        # A dropped file (FileHandler) arrives with filepath set: no file browser, just run
        # (its settings stay adjustable in the redo panel).
        if self.properties.is_property_set("filepath") and self.filepath:
            return self.execute(context)
        return ImportHelper.invoke(self, context, event)  # type: ignore[return-value]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "depth_backend")
        if self.depth_backend in ("AUTO", "FILE"):
            layout.prop(self, "depth_filepath")
            layout.prop(self, "depth_kind")
        for group, title in (("depth", None), ("geometry", "Geometry"), ("ldi", "Layers")):
            col = layout.column(heading=title) if title else layout.column()
            for name in PHOTO_SETTINGS:
                if SETTINGS[name].group == group and name != "depth_kind":
                    col.prop(self, name)
        layout.prop(self, "material")

    def resolved_backend(self, context: bpy.types.Context) -> str:
        if self.depth_backend != "AUTO":
            return str(self.depth_backend)
        return "FILE" if self.depth_filepath else preferred_backend(context)

    def keywords(self, context: bpy.types.Context) -> dict[str, Any]:
        keywords = settings_dict(self)
        keywords.update(
            filepath=bpy.path.abspath(self.filepath),
            depth_filepath=bpy.path.abspath(self.depth_filepath) if self.depth_filepath else "",
            depth_backend=self.resolved_backend(context),
        )
        return keywords

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        return self.run_job(context)

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        backend = self.resolved_backend(context)
        return pipeline_job(context, self.keywords(context), network_backend=backend != "FILE")

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        from ..blender import scene
        from ..pipeline.mesh.mesh_data import MeshData
        from ..pipeline.settings import PipelineSettings

        mesh = MeshData.load(job.result["result"])
        settings = PipelineSettings.from_keywords(self.keywords(context))
        for warning in mesh.warnings:
            self.report({"WARNING"}, warning)
        result = scene.build_photo_objects(context, mesh, settings, material=self.material)
        props = result.mesh_object.oneshot3d  # type: ignore[attr-defined]
        store_settings(props, settings)
        props.depth_backend = settings.depth_backend
        props.material = self.material
        self.report(
            {"INFO"}, f"Imported {result.mesh_object.name}: {mesh.triangle_count:,} triangles"
        )


ONESHOT3D_OT_import_photo.__annotations__.update(setting_annotations())
