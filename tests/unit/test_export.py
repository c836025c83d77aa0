"""GLB and PLY files parse back to the mesh that was written."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.io.export import ExportError, export_mesh, vertex_colors
from pipeline.io.intrinsics import Intrinsics
from pipeline.mesh.mesh_data import MeshData


def _mesh() -> MeshData:
    vertices = np.array([[0, 0, -1], [1, 0, -1], [0, 1, -1], [1, 1, -2]], np.float32)
    triangles = np.array([[0, 1, 2], [2, 1, 3]], np.int32)
    uvs = np.array([[0.125, 0.875], [0.875, 0.875], [0.125, 0.125], [0.875, 0.125]], np.float32)
    tex = np.zeros((4, 4, 3), np.uint8)
    tex[0, 0] = (255, 0, 0)  # top-left texel: vertex 0 (uv origin is bottom-left)
    tex[3, 3] = (0, 0, 255)  # bottom-right texel: vertex 3
    attrs = {
        "layer": np.array([0, 0, 1, 1], np.int32),
        "inpainted": np.array([0, 1, 0, 1], np.int8),
    }
    return MeshData(vertices, triangles, uvs, tex, Intrinsics(4, 4, 4.0, 2.0, 2.0), attrs)


def test_glb_structure(tmp_path: Path) -> None:
    mesh = _mesh()
    path = tmp_path / "m.glb"
    export_mesh(mesh, path)
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    assert jtype == b"JSON" and jlen % 4 == 0
    doc = json.loads(data[20 : 20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert btype == b"BIN\0"
    binary = data[28 + jlen : 28 + jlen + blen]
    prim = doc["meshes"][0]["primitives"][0]

    def read(acc_index: int, dtype: str, width: int) -> np.ndarray:
        acc = doc["accessors"][acc_index]
        view = doc["bufferViews"][acc["bufferView"]]
        raw = binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
        return np.frombuffer(raw, dtype).reshape(acc["count"], width)

    np.testing.assert_array_equal(read(prim["attributes"]["POSITION"], "<f4", 3), mesh.vertices)
    uv = read(prim["attributes"]["TEXCOORD_0"], "<f4", 2)
    np.testing.assert_allclose(uv[:, 1], 1.0 - mesh.uvs[:, 1])
    np.testing.assert_array_equal(read(prim["indices"], "<u4", 1).reshape(-1, 3), mesh.triangles)
    np.testing.assert_array_equal(read(prim["attributes"]["_LAYER"], "<f4", 1)[:, 0], [0, 0, 1, 1])
    img = doc["images"][0]
    view = doc["bufferViews"][img["bufferView"]]
    png = binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    np.testing.assert_array_equal(decoded, mesh.texture)
    assert "KHR_materials_unlit" in doc["materials"][0]["extensions"]


def test_ply_structure(tmp_path: Path) -> None:
    mesh = _mesh()
    path = tmp_path / "m.ply"
    export_mesh(mesh, path)
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii")
    assert "format binary_little_endian 1.0" in header and "element vertex 4" in header
    vdt = np.dtype(
        [
            ("x", "<f4"),
            ("y", "<f4"),
            ("z", "<f4"),
            ("r", "u1"),
            ("g", "u1"),
            ("b", "u1"),
            ("layer", "<i4"),
            ("inp", "u1"),
        ]
    )
    verts = np.frombuffer(data, vdt, count=4, offset=end)
    np.testing.assert_array_equal(np.stack([verts["x"], verts["y"], verts["z"]], 1), mesh.vertices)
    assert tuple(verts[0][["r", "g", "b"]].tolist()) == (255, 0, 0)
    assert tuple(verts[3][["r", "g", "b"]].tolist()) == (0, 0, 255)
    np.testing.assert_array_equal(verts["inp"], [0, 1, 0, 1])
    fdt = np.dtype([("n", "u1"), ("v", "<i4", (3,))])
    faces = np.frombuffer(data, fdt, count=2, offset=end + 4 * vdt.itemsize)
    assert (faces["n"] == 3).all()
    np.testing.assert_array_equal(faces["v"], mesh.triangles)
    assert end + 4 * vdt.itemsize + 2 * fdt.itemsize == len(data)
    np.testing.assert_array_equal(vertex_colors(mesh)[0], (255, 0, 0))


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.glb or \.ply"):
        export_mesh(_mesh(), tmp_path / "m.obj")
