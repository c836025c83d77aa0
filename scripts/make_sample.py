"""Render the bundled sample: a small Cycles scene and its exact depth.

    python scripts/make_sample.py [--output samples] [--width 384 --height 288]

Writes ``sample.png`` (the "photo") and ``sample_depth.npy`` (float32 distance along the
camera axis at every pixel centre, from ray casts). The camera is Blender's rest camera at the
origin looking down -Z with a 53.13 degree field of view across the long side (focal length =
long side in pixels), the extension's default, so the sample imports without EXIF.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOV = math.degrees(2 * math.atan(0.5))


def compat() -> ModuleType:
    """The extension's blender/compat.py (what differs between Blender versions), loaded on
    its own: it needs only bpy, and this script runs without the extension registered."""
    name = "oneshot3d_compat"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "blender" / "compat.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def textured_material(name: str, color_a, color_b, scale: float, kind: str = "checker"):
    import bpy

    mat = bpy.data.materials.new(name)
    tree = compat().node_tree(mat)
    nodes, links = tree.nodes, tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = 0.6
    if kind == "checker":
        tex = nodes.new("ShaderNodeTexChecker")
        tex.inputs["Color1"].default_value = (*color_a, 1)
        tex.inputs["Color2"].default_value = (*color_b, 1)
        tex.inputs["Scale"].default_value = scale
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    elif kind == "brick":
        tex = nodes.new("ShaderNodeTexBrick")
        tex.inputs["Color1"].default_value = (*color_a, 1)
        tex.inputs["Color2"].default_value = (*color_b, 1)
        tex.inputs["Scale"].default_value = scale
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    else:
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Scale"].default_value = scale
        ramp = nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.elements[0].color = (*color_a, 1)
        ramp.color_ramp.elements[1].color = (*color_b, 1)
        links.new(tex.outputs["Fac"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def build_scene(width: int, height: int):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.data.sensor_fit = "AUTO"
    cam.data.sensor_width = 36.0
    cam.data.lens = 36.0 / (2 * math.tan(math.radians(FOV) / 2))
    scene.collection.objects.link(cam)
    scene.camera = cam

    def add(obj, mat):
        obj.data.materials.append(mat)
        return obj

    bpy.ops.mesh.primitive_plane_add(size=30, location=(0, 0, -12))
    add(
        bpy.context.object,
        textured_material("Wall", (0.75, 0.45, 0.3), (0.55, 0.55, 0.5), 6.0, "brick"),
    )
    bpy.ops.mesh.primitive_plane_add(size=30, location=(0, -2.2, -8), rotation=(-math.pi / 2, 0, 0))
    add(bpy.context.object, textured_material("Floor", (0.2, 0.3, 0.45), (0.8, 0.8, 0.75), 12.0))
    bpy.ops.mesh.primitive_uv_sphere_add(
        radius=1.0, location=(-1.5, -0.4, -5.5), segments=48, ring_count=24
    )
    bpy.ops.object.shade_smooth()
    add(
        bpy.context.object,
        textured_material("Sphere", (0.9, 0.2, 0.15), (0.95, 0.85, 0.2), 4.0, "noise"),
    )
    bpy.ops.mesh.primitive_cube_add(size=1.4, location=(1.7, -0.9, -7.0), rotation=(0.0, 0.6, 0.0))
    add(bpy.context.object, textured_material("Cube", (0.1, 0.6, 0.3), (0.9, 0.9, 0.9), 3.0))
    bpy.ops.mesh.primitive_cylinder_add(
        radius=0.3, depth=3.0, location=(0.4, -0.5, -3.8), rotation=(math.pi / 2, 0, 0)
    )
    add(
        bpy.context.object,
        textured_material("Post", (0.3, 0.25, 0.6), (0.7, 0.6, 0.9), 8.0, "noise"),
    )

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 6.0
    sun.rotation_euler = (math.radians(25), math.radians(-20), 0)
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("World")
    compat().node_tree(world).nodes["Background"].inputs["Strength"].default_value = 1.5
    scene.world = world

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 64
    # Denoising keeps the committed sample small and clean (it is the "photo").
    scene.cycles.use_denoising = True
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    return scene, cam


def ray_cast_depth(scene, width: int, height: int) -> np.ndarray:
    """Camera-axis distance at every pixel centre (the camera is at rest at the origin)."""
    import bpy
    from mathutils import Vector

    depsgraph = bpy.context.evaluated_depsgraph_get()
    f = max(width, height) / (2 * math.tan(math.radians(FOV) / 2))
    depth = np.full((height, width), np.inf, np.float32)
    origin = Vector((0.0, 0.0, 0.0))
    for y in range(height):
        for x in range(width):
            direction = Vector(((x + 0.5 - width / 2) / f, (height / 2 - y - 0.5) / f, -1.0))
            hit, location, *_ = scene.ray_cast(depsgraph, origin, direction.normalized())
            if hit:
                depth[y, x] = -location.z
    return depth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parents[1] / "samples"
    )
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--height", type=int, default=288)
    args = parser.parse_args(argv)
    import bpy

    scene, _ = build_scene(args.width, args.height)
    args.output.mkdir(parents=True, exist_ok=True)
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(args.output / "sample.png")
    bpy.ops.render.render(write_still=True)
    depth = ray_cast_depth(scene, args.width, args.height)
    if not np.isfinite(depth).all():
        print("some pixels see no surface", file=sys.stderr)
        return 1
    np.save(args.output / "sample_depth.npy", depth)
    print(
        f"wrote {args.output / 'sample.png'} and sample_depth.npy, depth {depth.min():.2f}..{depth.max():.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
