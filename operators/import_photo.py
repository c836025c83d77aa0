"""File > Import > 3D Photo."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..panels.properties import DEPTH_KIND_ITEMS
from .typing_helpers import OperatorResult

MATERIAL_ITEMS = (
    ("EMISSION", "Emission (unlit)", "Shows the photo's pixels as they are, unaffected by lights"),
    ("PRINCIPLED", "Principled BSDF", "A lit material with the photo as base colour"),
)


# ImportHelper.invoke and Operator.invoke differ only in the stubs' annotations.
class ONESHOT3D_OT_import_photo(bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import a photo and its depth map as a 3D photo: a textured mesh and a matching camera"""

    bl_idname = "oneshot3d.import_photo"
    bl_label = "Import 3D Photo"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filename_ext = ".jpg"
    filter_glob: StringProperty(
        default="*.jpg;*.jpeg;*.png;*.tif;*.tiff;*.webp", options={"HIDDEN"}
    )
    filepath: StringProperty(name="Photo", subtype="FILE_PATH")
    depth_filepath: StringProperty(
        name="Depth Map",
        description="Depth or disparity map (.npy, 8/16-bit PNG, float TIFF or EXR)",
        subtype="FILE_PATH",
    )
    depth_kind: EnumProperty(name="Depth Kind", items=DEPTH_KIND_ITEMS, default="DISPARITY")
    fov: FloatProperty(
        name="Field of View",
        description="Across the longer image side in degrees; 0 = from EXIF, else 53.13",
        default=0.0,
        min=0.0,
        max=170.0,
    )
    depth_threshold: FloatProperty(
        name="Depth Threshold",
        description="Neighbours whose normalised disparity differs by more than this are torn apart",
        default=0.04,
        min=0.001,
        max=1.0,
        step=0.1,
        precision=3,
    )
    depth_scale: FloatProperty(
        name="Depth Scale",
        description=(
            "Depth maps: multiplier on the stored distances. "
            "Disparity maps: distance of the nearest point"
        ),
        default=1.0,
        min=1e-6,
        max=1e6,
        soft_max=100.0,
    )
    material: EnumProperty(name="Material", items=MATERIAL_ITEMS, default="EMISSION")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "depth_filepath")
        layout.prop(self, "depth_kind")
        layout.prop(self, "depth_threshold")
        layout.prop(self, "depth_scale")
        layout.prop(self, "fov")
        layout.prop(self, "material")

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.build import build_photo
        from ..pipeline.errors import PipelineError
        from ..pipeline.settings import PipelineSettings
        from . import scene_build

        keywords = self.as_keywords(ignore=("filter_glob", "material"))
        try:
            settings = PipelineSettings.from_keywords(keywords)
            mesh = build_photo(settings)
        except PipelineError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for warning in mesh.warnings:
            self.report({"WARNING"}, warning)
        result = scene_build.build_photo_objects(context, mesh, settings, material=self.material)
        self.report(
            {"INFO"}, f"Imported {result.mesh_object.name}: {mesh.triangle_count:,} triangles"
        )
        return {"FINISHED"}
