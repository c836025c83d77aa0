"""The texture atlas as a packed image, and the material that shows it (unlit or lit)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy

from . import compat


def build_image(name: str, png: bytes) -> bpy.types.Image:
    """Pack the PNG (``pipeline.io.image_io.texture_png``) into the .blend so that saving and
    reopening loses nothing."""
    with tempfile.TemporaryDirectory(prefix="oneshot3d_") as tmp:
        path = Path(tmp) / f"{name}.png"
        path.write_bytes(png)
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
