"""Export a MeshData without Blender: binary glTF (.glb, atlas texture embedded as PNG) and
binary PLY (per-vertex colours). Written with numpy + json only.

Coordinates: MeshData's camera frame (+X right, +Y up, camera looking down -Z) is glTF's own
convention (Y up, right-handed), so positions are written unchanged; importers put the camera
frame's up axis up. glTF UVs have their origin at the top-left, so v is flipped.
Per-vertex ``attributes`` (``layer``, ``inpainted``) go into glTF as custom attributes
``_LAYER`` / ``_INPAINTED`` (float scalars, which Blender's importer turns into mesh
attributes) and into PLY as extra vertex properties.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import PipelineError
from ..mesh.mesh_data import MeshData
from .atomic import atomic_write
from .image_io import encode_image, to_uint8

_FLOAT, _UINT, _ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 5126, 5125, 34962, 34963


class ExportError(PipelineError):
    """An export target could not be written."""


def _png_bytes(texture: np.ndarray) -> bytes:
    try:
        return encode_image(to_uint8(texture), ".png", compression=3)
    except PipelineError as e:
        raise ExportError(f"Cannot encode the texture atlas as PNG: {e}") from None


def _write_atomic(path: Path, chunks: list[bytes]) -> None:
    """Write the chunks without joining them (a GLB can be large); a failure or Ctrl-C leaves
    no half-written file (atomic_write), and disk errors read as ExportError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.writelines(chunks))
    except OSError as e:
        raise ExportError(f"Cannot write '{path}': {e.strerror or e}.") from None


def glb_bytes(mesh: MeshData, name: str = "3D Photo") -> bytes:
    """The whole .glb file as bytes."""
    n = mesh.vertices.shape[0]
    positions = np.ascontiguousarray(mesh.vertices, dtype="<f4")
    uvs = np.ascontiguousarray(mesh.uvs, dtype="<f4").copy()
    uvs[:, 1] = 1.0 - uvs[:, 1]
    indices = np.ascontiguousarray(mesh.triangles, dtype="<u4").ravel()
    png = _png_bytes(mesh.texture)

    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []
    offset = 0

    def add_view(data: bytes, target: int | None) -> int:
        nonlocal offset
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        blobs.append(data)
        pad = (-len(data)) % 4
        if pad:
            blobs.append(b"\0" * pad)
        offset += len(data) + pad
        views.append(view)
        return len(views) - 1

    def add_accessor(
        array: np.ndarray, kind: str, target: int | None, ctype: int, minmax: bool = False
    ) -> int:
        view = add_view(array.tobytes(), target)
        acc = {
            "bufferView": view,
            "componentType": ctype,
            "count": int(array.shape[0]),
            "type": kind,
        }
        if minmax and array.size:
            acc["min"] = [float(v) for v in array.min(axis=0)]
            acc["max"] = [float(v) for v in array.max(axis=0)]
        accessors.append(acc)
        return len(accessors) - 1

    attributes = {
        "POSITION": add_accessor(positions, "VEC3", _ARRAY_BUFFER, _FLOAT, minmax=True),
        "TEXCOORD_0": add_accessor(uvs, "VEC2", _ARRAY_BUFFER, _FLOAT),
    }
    for key, values in mesh.attributes.items():
        if values.shape == (n,):
            data = np.ascontiguousarray(values, dtype="<f4")
            attributes["_" + key.upper()] = add_accessor(data, "SCALAR", _ARRAY_BUFFER, _FLOAT)
    idx_acc = add_accessor(indices, "SCALAR", _ELEMENT_ARRAY_BUFFER, _UINT)
    accessors[idx_acc]["min"] = [int(indices.min())] if indices.size else [0]
    accessors[idx_acc]["max"] = [int(indices.max())] if indices.size else [0]
    image_view = add_view(png, None)

    doc = {
        "asset": {"version": "2.0", "generator": "One Shot 3D Photo"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [
            {
                "name": name,
                "primitives": [
                    {"attributes": attributes, "indices": idx_acc, "material": 0, "mode": 4}
                ],
            }
        ],
        "materials": [
            {
                "name": name,
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0},
                    "metallicFactor": 0.0,
                    "roughnessFactor": 1.0,
                },
                "doubleSided": True,
                "extensions": {"KHR_materials_unlit": {}},
            }
        ],
        "textures": [{"sampler": 0, "source": 0}],
        # Linear filtering, clamped: the atlas has its own padding between charts.
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": [{"bufferView": image_view, "mimeType": "image/png", "name": name}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": offset}],
    }
    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-len(js)) % 4)
    binary = b"".join(blobs)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(js), b"JSON"),
            js,
            struct.pack("<I4s", len(binary), b"BIN\0"),
            binary,
        ]
    )


def write_glb(mesh: MeshData, path: str | os.PathLike[str], name: str = "3D Photo") -> None:
    """Binary glTF 2.0 with the atlas embedded as PNG and an unlit material."""
    _write_atomic(Path(path), [glb_bytes(mesh, name)])


def vertex_colors(mesh: MeshData) -> np.ndarray:
    """(N, 3) uint8: the texture at each vertex's UV (nearest texel; vertices sit on texel
    centres, so this is exact)."""
    tex = to_uint8(mesh.texture)
    h, w = tex.shape[:2]
    col = np.clip(np.floor(mesh.uvs[:, 0] * w), 0, w - 1).astype(np.intp)
    row = np.clip(np.floor((1.0 - mesh.uvs[:, 1]) * h), 0, h - 1).astype(np.intp)
    return tex[row, col, :3]


def write_ply(mesh: MeshData, path: str | os.PathLike[str]) -> None:
    """Binary little-endian PLY: positions, per-vertex RGB, ``layer`` (int) and
    ``inpainted`` (uchar) when present, triangles as vertex index lists."""
    n = mesh.vertices.shape[0]
    m = mesh.triangles.shape[0]
    fields = [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("red", "u1"),
        ("green", "u1"),
        ("blue", "u1"),
    ]
    extra = []
    if "layer" in mesh.attributes:
        fields.append(("layer", "<i4"))
        extra.append(("layer", "int"))
    if "inpainted" in mesh.attributes:
        fields.append(("inpainted", "u1"))
        extra.append(("inpainted", "uchar"))
    vert = np.empty(n, dtype=np.dtype(fields))
    vert["x"], vert["y"], vert["z"] = mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2]
    colors = vertex_colors(mesh)
    vert["red"], vert["green"], vert["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
    if "layer" in mesh.attributes:
        vert["layer"] = mesh.attributes["layer"]
    if "inpainted" in mesh.attributes:
        vert["inpainted"] = mesh.attributes["inpainted"]
    faces = np.empty(m, dtype=np.dtype([("n", "u1"), ("v", "<i4", (3,))]))
    faces["n"] = 3
    faces["v"] = mesh.triangles
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment One Shot 3D Photo",
        f"element vertex {n}",
        "property float x",
        "property float y",
        "property float z",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
        *[f"property {t} {name}" for name, t in extra],
        f"element face {m}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    head = ("\n".join(header) + "\n").encode("ascii")
    _write_atomic(Path(path), [head, vert.tobytes(), faces.tobytes()])


def export_mesh(mesh: MeshData, path: str | os.PathLike[str]) -> None:
    """Write ``path`` in the format its suffix names (.glb or .ply)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".glb":
        write_glb(mesh, path, Path(path).stem or "3D Photo")
    elif suffix == ".ply":
        write_ply(mesh, path)
    else:
        raise ExportError(f"Cannot export to '{path}': use a .glb or .ply file name.")
